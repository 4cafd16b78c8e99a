/**
 * The hospital screen: what a hospital account sees at `/` instead of the dispatcher
 * console. The patients coming to this hospital (triage, complaint, unit, stage, expected
 * arrival counting down), a pre-arrival alert with a chime, and the hospital's own
 * acceptance (diversion), free beds and capabilities out of action, each with the time of
 * its last change in WIB.
 *
 * Rules:
 * 1. REST is the source of truth (the hospital and its incoming list), reloaded on every
 *    (re)connection of the dispatch stream; the stream then sends this hospital's messages
 *    only (`incoming` lists whole, the hospital's read model on each change).
 * 2. A patient not in the previous list, and a patient whose crew has just left the scene,
 *    raise the pre-arrival alert: a banner until acknowledged and a chime
 *    (`/shared/tones.js`). The first list after sign-in or a reconnection raises none.
 * 3. A form being edited is not overwritten by a stream update; it takes the server's
 *    values again once saved.
 * 4. Every text goes in as text (`h()` of `/shared/dom.js`), never as markup.
 */
import "./hospital-i18n.js";
import { api, ApiError } from "./api.js";
import { StreamSocket } from "./stream.js";
import { t, tx, onLangChange } from "./i18n.js";
import { beep, unlock } from "../shared/tones.js";
import { duration, time, shortTime } from "../shared/fmt.js";
import { h, toast } from "../shared/dom.js";

const CATEGORIES = ["igd", "icu", "nicu", "picu", "vk", "anak", "bedah", "umum"];

/** @type {(id: string) => HTMLElement} */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** The pre-arrival chime: three rising tones. */
function chime() {
  try { beep(880, 0, 0.15); beep(1100, 0.2, 0.15); beep(1320, 0.4, 0.3); } catch { /* silent */ }
}

export class HospitalScreen {
  constructor(me, { onUnauthorized }) {
    this.me = me;
    this.onUnauthorized = onUnauthorized;
    this.hospital = null;
    this.patients = [];
    this.stages = new Map();   // assignment id -> stage last shown (rule 2)
    this.alerts = [];          // pre-arrival alerts not yet acknowledged
    this.chimes = 0;           // chimes played (diagnostics and tests)
    this.dirty = { beds: false, caps: false };
    this.stream = new StreamSocket({
      onState: (state) => {
        this.setState(state);
        if (state === "unauthorized") this.onUnauthorized();
      },
      onWelcome: (again) => { if (again) this.reload(false).catch(() => {}); },
      onMessage: (msg) => this.onMessage(msg),
    });
    onLangChange(() => this.render());
  }

  async start() {
    $("hosp-user").textContent = `${this.me.display_name} (${this.me.username})`;
    const [own] = await api("/api/hospitals");
    if (!own) {
      $("incoming").replaceChildren(h("p", { class: "error" }, t("hosp.no_hospital")));
      return;
    }
    this.hospital = own;
    await this.reload(false);
    this.connect();
  }

  /** Rule 1. */
  async reload(announce) {
    const [hospital, incoming] = await Promise.all([
      api(`/api/hospitals/${this.hospital.id}`),
      api(`/api/hospitals/${this.hospital.id}/incoming`),
    ]);
    this.setHospital(hospital, true);
    this.setIncoming(incoming.patients, announce);
  }

  setState(state) {
    const el = $("conn-hospital");
    el.dataset.state = state;
    el.querySelector(".conn-text").textContent = t(`conn.state.${state}`);
  }

  connect() {
    this.stream.connect();
  }

  close() {
    this.stream.close();
  }

  onMessage(msg) {
    if (msg.type === "incoming" && msg.hospital_id === this.hospital.id) {
      this.setIncoming(msg.patients, true);
    } else if (["beds.updated", "hospital.accepting", "hospital.updated"].includes(msg.type)
               && msg.hospital?.id === this.hospital.id) {
      this.setHospital(msg.hospital, false);
    }
  }

  setHospital(hospital, force) {
    this.hospital = hospital;
    if (force) this.dirty = { beds: false, caps: false };
    this.render();
  }

  /** Rule 2. */
  setIncoming(patients, announce) {
    for (const p of patients) {
      const before = this.stages.get(p.assignment_id);
      if (announce && before === undefined) this.raise("hosp.alert.new", p);
      else if (announce && p.stage === "transporting" && before !== "transporting") {
        this.raise("hosp.alert.moving", p);
      }
    }
    this.stages = new Map(patients.map((p) => [p.assignment_id, p.stage]));
    this.patients = patients;
    this.renderIncoming();
  }

  raise(key, p) {
    this.alerts.push({ key, p });
    this.chimes += 1;
    chime();
    this.renderAlerts();
  }

  render() {
    if (!this.hospital) return;
    $("hosp-name").textContent = this.hospital.name;
    this.renderAlerts();
    this.renderIncoming();
    this.renderStatus();
    if (!this.dirty.beds) this.renderBeds();
    if (!this.dirty.caps) this.renderCaps();
  }

  renderAlerts() {
    const box = $("prearrival");
    box.hidden = this.alerts.length === 0;
    document.body.dataset.prearrival = this.alerts.length ? "on" : "off";
    box.replaceChildren(...this.alerts.map((a, i) => h("div", { class: `prearrival-item ${a.p.triage}` },
      // p.patients is this unit's share of its incident: the patients coming here, no more.
      h("span", null, t(a.key, { n: a.p.patients, triage: tx(a.p.triage_label), complaint: tx(a.p.complaint_label),
                                 unit: a.p.unit, number: a.p.number,
                                 t: a.p.expected_at ? time(a.p.expected_at, { seconds: false }) : "" })),
      h("button", { type: "button", class: "prearrival-ack",
                    onclick: () => { unlock(); this.alerts.splice(i, 1); this.renderAlerts(); } },
        t("hosp.alert.ack")))));
  }

  renderIncoming() {
    const box = $("incoming");
    if (!this.patients.length) {
      box.replaceChildren(h("p", { class: "empty" }, t("hosp.incoming_none")));
      return;
    }
    const head = h("tr", null, ...["triage", "incident", "complaint", "unit", "stage", "eta"]
      .map((c) => h("th", null, t(`hosp.col.${c}`))));
    const rows = this.patients.map((p) => h("tr", { class: "patient", dataset: {
      assignmentId: String(p.assignment_id), stage: p.stage, triage: p.triage } },
      h("td", null, h("span", { class: `triage ${p.triage}` }, tx(p.triage_label))),
      h("td", null, h("b", null, p.number), h("br"), h("small", null, p.kelurahan)),
      h("td", null, tx(p.complaint_label), h("br"), h("small", null, t("hosp.patients", { n: p.patients }))),
      h("td", null, `${p.unit} (${p.unit_type.toUpperCase()})`),
      h("td", null, tx(p.stage_label), h("br"), h("small", null, tx(p.status_label))),
      h("td", { class: "eta" }, this.eta(p))));
    const total = this.patients.reduce((n, p) => n + p.patients, 0);
    box.replaceChildren(h("p", { class: "incoming-total", dataset: { n: String(total) } }, t("hosp.total", { n: total })),
      h("table", { class: "incoming" }, h("thead", null, head), h("tbody", null, ...rows)));
  }

  /** The live expected arrival of one patient. */
  eta(p, now = Date.now()) {
    if (p.arrived_at) return t("hosp.arrived", { t: shortTime(p.arrived_at) });
    if (p.expected_at) {
      const left = (new Date(p.expected_at).getTime() - now) / 1000;
      const at = shortTime(p.expected_at);
      return left > 0 ? t("hosp.eta_at", { t: at, d: duration(left) }) : t("hosp.eta_due", { t: at });
    }
    return t("hosp.eta_after", { m: Math.max(1, Math.ceil(p.travel_seconds / 60)) });
  }

  tick() {
    const cells = document.querySelectorAll("#incoming tr.patient");
    cells.forEach((row, i) => {
      const p = this.patients[i];
      const cell = row.querySelector(".eta");
      if (p && cell) cell.textContent = this.eta(p);
    });
  }

  renderStatus() {
    const hosp = this.hospital;
    const changed = hosp.accepting_changed_at ? t("hosp.changed", { t: time(hosp.accepting_changed_at) })
      : t("hosp.never");
    $("hosp-status").replaceChildren(
      h("h2", null, t("hosp.status")),
      h("p", { class: `acceptance ${hosp.accepting ? "accepting" : "diverting"}`, id: "acceptance" },
        t(hosp.accepting ? "hosp.accepting" : "hosp.diverting")),
      h("p", { class: "hint", id: "acceptance-changed" }, changed),
      h("button", { type: "button", id: "toggle-accepting", class: hosp.accepting ? "danger" : "primary",
                    onclick: () => this.save(`/api/hospitals/${hosp.id}/accepting`, { accepting: !hosp.accepting }) },
        t(hosp.accepting ? "hosp.divert" : "hosp.accept")));
  }

  renderBeds() {
    const hosp = this.hospital;
    const byCategory = new Map(hosp.beds.map((b) => [b.category, b]));
    const rows = CATEGORIES.filter((c) => byCategory.has(c)).map((c) => {
      const bed = byCategory.get(c);
      const num = (field, value) => h("input", { type: "number", min: 0, value: String(value),
        name: `${c}.${field}`, class: `bed-${field}`, "aria-label": `${tx(bed.label)} ${t(`hosp.beds.${field}`)}`,
        oninput: () => { this.dirty.beds = true; } });
      return h("tr", { dataset: { category: c } }, h("td", null, tx(bed.label)), h("td", null, num("free", bed.free)),
        h("td", null, num("total", bed.total)), h("td", { class: "hint" }, time(bed.updated_at, { seconds: false })));
    });
    const form = h("form", { id: "beds-form", onsubmit: (ev) => {
      ev.preventDefault();
      const beds = [...form.querySelectorAll("tr[data-category]")].map((row) => ({
        category: /** @type {HTMLElement} */ (row).dataset.category,
        free: Number(/** @type {HTMLInputElement} */ (row.querySelector(".bed-free")).value),
        total: Number(/** @type {HTMLInputElement} */ (row.querySelector(".bed-total")).value),
      }));
      this.save(`/api/hospitals/${hosp.id}/beds`, { beds }, "beds");
    } },
    h("table", { class: "beds" }, h("thead", null, h("tr", null, ...["category", "free", "total", "updated"]
      .map((c) => h("th", null, t(`hosp.beds.${c}`))))), h("tbody", null, ...rows)),
    h("button", { type: "submit", class: "primary", id: "save-beds" }, t("hosp.beds.save")));
    $("hosp-beds").replaceChildren(h("h2", null, t("hosp.beds")), form);
  }

  renderCaps() {
    const hosp = this.hospital;
    const down = new Set(hosp.capabilities_unavailable);
    const boxes = hosp.capabilities.map((c) => h("label", { class: "cap", dataset: { capability: c } },
      h("input", { type: "checkbox", value: c, checked: down.has(c), onchange: () => { this.dirty.caps = true; } }),
      ` ${t(`capability.${c}`)}`, down.has(c) ? h("small", { class: "error" }, ` — ${t("hosp.caps.down")}`) : null));
    const note = h("input", { type: "text", id: "caps-note", maxlength: 200, value: hosp.capabilities_note,
                              oninput: () => { this.dirty.caps = true; } });
    const form = h("form", { id: "caps-form", onsubmit: (ev) => {
      ev.preventDefault();
      const unavailable = [...form.querySelectorAll("input[type=checkbox]:checked")]
        .map((el) => /** @type {HTMLInputElement} */ (el).value);
      this.save(`/api/hospitals/${hosp.id}/capabilities`, { unavailable, note: note.value.trim() }, "caps");
    } },
    h("p", { class: "hint" }, t("hosp.caps.hint")), h("div", { class: "caps" }, ...boxes),
    h("label", null, t("hosp.caps.note"), " ", note),
    h("p", { class: "hint", id: "caps-changed" }, hosp.capabilities_changed_at
      ? t("hosp.changed", { t: time(hosp.capabilities_changed_at) }) : t("hosp.never")),
    h("button", { type: "submit", class: "primary", id: "save-caps" }, t("hosp.caps.save")));
    $("hosp-caps").replaceChildren(h("h2", null, t("hosp.caps")), form);
  }

  async save(path, body, form = null) {
    try {
      const hospital = await api(path, { method: "PUT", body });
      if (form) this.dirty[form] = false;
      this.setHospital(hospital, false);
      toast(t("hosp.saved"));
    } catch (e) {
      toast(t("hosp.failed", { reason: e instanceof ApiError ? e.message : String(e) }), "error");
    }
  }
}
