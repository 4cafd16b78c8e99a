/**
 * Incidents: the live board, the selected incident (recommendations with their reasons,
 * assign / reassign / cancel, the time chain, history) and the intake form.
 *
 * The board's clock for each incident runs from the start of its current step (the call
 * while no unit is sent, then the latest time in the active assignment's chain), so a
 * step that takes too long is visible at a glance; escalations and calls not dispatched
 * within the call-processing target (64 s) are flagged.
 */
import { api } from "./api.js";
import { applyI18n, t, tx, tOr } from "./i18n.js";
import { time, duration, since, e164 } from "../shared/fmt.js";
import { all, html, setHtml } from "../shared/dom.js";
/** @typedef {import("../shared/dom.js").Content} Content */
import { selectTab } from "./ui.js";
import { PlaceSearch } from "./places.js";

/** A radio alert that reached the server well after it was raised (kept offline by the app). */
const late = (at, received) => received != null && Date.parse(received) - Date.parse(at) > 10_000;

const TRIAGE_ORDER = ["merah", "kuning", "hijau", "hitam"];
const COMPLAINTS = ["trauma", "cardiac", "stroke", "obstetric", "respiratory", "paediatric",
                    "burns", "poisoning", "other"];
const SOURCES = ["119", "112", "radio", "walk_in"];
const STEPS = ["dispatched_at", "acknowledged_at", "en_route_at", "on_scene_at", "transporting_at",
               "at_hospital_at", "handover_at", "back_in_service_at", "cancelled_at"];
const CALL_PROCESSING_TARGET = 64;   // seconds (NFPA 1221)
const NEXT_TRIGGER = {
  dispatched: ["acknowledge", "decline"],
  acknowledged: ["depart"],
  en_route: ["arrive"],
  on_scene: ["transport", "clear"],
  transporting: ["reach_hospital"],
  at_hospital: ["hand_over"],
  handover: ["clear"],
};

/** Put an SMS view into a thread (oldest first): replace the one with its id, or add it. */
function upsertSms(thread, m) {
  const i = thread.findIndex((x) => x.id === m.id);
  if (i >= 0) thread[i] = m; else thread.push(m);
  thread.sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at) || a.id - b.id);
}

export class IncidentViews {
  constructor(dispatch) {
    this.d = dispatch;
    this.board = document.getElementById("incident-board");
    this.pane = document.getElementById("incident-pane");
    this.selected = null;       // incident id
    this.mode = "none";         // none | detail | intake
    this.detail = null;         // IncidentDetail of the selected incident
    this.recs = null;           // Recommendations of the selected incident
    this.sms = null;            // SMS thread of the selected incident (oldest first)
    this.reassigning = null;    // assignment id whose replacement is being chosen
    // What the dispatcher entered for the next unit (patients it carries, hospital), kept
    // across the re-renders that stream messages cause until the unit is assigned.
    /** @type {{carry: string | null, hospital: string | null}} */
    this.choice = { carry: null, hospital: null };
    this.intake = null;         // {lat, lon, fromAlert}
    this.refreshTimer = null;
    this.refreshGen = 0;        // the newest refreshSelected(): only it may render
    this.smsInFlight = new Set(); // per refresh in flight: SMS views the stream brought since
    document.getElementById("new-incident").addEventListener("click", () => this.openIntake());
    this.d.map.onClick((latlng) => this.mapClicked(latlng));
  }

  // -- board ------------------------------------------------------------------------

  currentStep(incident) {
    const active = this.d.assignmentsOf(incident.id).filter((a) => a.active);
    const a = active[active.length - 1];
    if (!a) return { step: "created_at", at: incident.created_at, assignment: null };
    let step = "dispatched_at";
    for (const s of STEPS) if (a.times[s]) step = s;
    return { step, at: a.times[step], assignment: a };
  }

  attention(incident, cur) {
    if (cur.assignment && this.d.escalations.has(cur.assignment.id)) return "escalated";
    if (this.d.smsFailedIncidents().has(incident.id)) return "escalated";
    if (this.d.overdue.has(incident.id)) return "overdue";
    if (incident.status === "new" && since(incident.created_at) > CALL_PROCESSING_TARGET) return "late";
    return "";
  }

  render() {
    if (!this.d.enabled) {
      setHtml(this.board, html`<p class="empty">${t("incidents.unavailable")}</p>`);
      document.getElementById("new-incident").hidden = true;
      setHtml(this.pane, html`<p class="empty">${t("incidents.unavailable")}</p>`);
      return;
    }
    const list = [...this.d.incidents.values()]
      .filter((i) => !["closed", "cancelled"].includes(i.status))
      .sort((a, b) => TRIAGE_ORDER.indexOf(a.triage) - TRIAGE_ORDER.indexOf(b.triage)
        || Date.parse(a.created_at) - Date.parse(b.created_at));
    const alerts = [...this.d.radioAlerts.values()];
    /** @type {Content[]} */
    const out = [];
    if (alerts.length) {
      out.push(html`<div class="radio-alerts"><h3>${t("incidents.alerts")}</h3><ul>`);
      for (const a of alerts) {
        // Its emergency acknowledged on the radio: handled, still open for an incident.
        const e = this.d.alerts.radio.emergencies.get(a.talkgroup);
        const handledBy = e?.acknowledged ? (e.by?.name ?? t("alert.another_dispatcher")) : null;
        out.push(html`<li data-alert="${a.id}" data-handled="${handledBy ? "acknowledged" : ""}">${t("incidents.alert_line", {
          name: `${a.display_name}${a.unit ? ` (${a.unit})` : ""}`, group: a.talkgroup_name ?? this.d.talkgroupName(a.talkgroup), time: time(a.at) })}${late(a.at, a.received_at)
            ? html` <span class="alert-received">${t("incidents.alert_received", { time: time(a.received_at) })}</span>` : ""}${handledBy
            ? html` <span class="badge grey alert-handled">${t("incidents.alert_acknowledged", { name: handledBy })}</span>` : ""}
          <button type="button" class="alert-convert">${t("incidents.alert_convert")}</button>
          <button type="button" class="link alert-dismiss">${t("incidents.alert_dismiss")}</button></li>`);
      }
      out.push(html`</ul></div>`);
    }
    if (!list.length) {
      out.push(html`<p class="empty">${t("incidents.none")}</p>`);
    } else {
      out.push(html`<table class="incidents"><thead><tr>
        <th>${t("incidents.col.triage")}</th><th>${t("incidents.col.number")}</th>
        <th>${t("incidents.col.what")}</th><th>${t("incidents.col.status")}</th>
        <th>${t("incidents.col.clock")}</th><th>${t("incidents.col.unit")}</th></tr></thead><tbody>`);
      for (const i of list) {
        const cur = this.currentStep(i);
        const attention = this.attention(i, cur);
        const a = cur.assignment;
        out.push(html`<tr data-id="${i.id}" data-number="${i.number}" data-status="${i.status}"
            data-attention="${attention}" aria-selected="${this.selected === i.id}">
          <td><span class="triage ${i.triage}">${t(`triage.${i.triage}`)}</span></td>
          <td><b>${i.number}</b><br><small>${time(i.created_at)}</small></td>
          <td>${t(`complaint.${i.complaint}`)}<br><small>${i.place.kelurahan}</small></td>
          <td class="status">${tx(i.status_label)}${attention === "escalated"
            ? html` <span class="badge red">${t("incidents.escalated")}</span>` : ""}${attention === "overdue"
            ? html` <span class="badge red">${t("incidents.overdue")}</span>` : ""}</td>
          <td class="step-clock" data-since="${cur.at}"><b>${duration(since(cur.at))}</b><br><small>${t(`step.${cur.step}`)}</small></td>
          <td class="unit">${a ? html`${a.unit.callsign}<br><small>${tx(a.status_label)}</small>` : "—"}</td>
        </tr>`);
      }
      out.push(html`</tbody></table>`);
    }
    setHtml(this.board, out);
    for (const tr of all(this.board, "tr[data-id]")) {
      tr.addEventListener("click", () => this.select(Number(tr.dataset.id)));
    }
    for (const li of all(this.board, "li[data-alert]")) {
      const id = Number(li.dataset.alert);
      li.querySelector(".alert-convert").addEventListener("click", () => this.openIntake({ alert: this.d.radioAlerts.get(id) }));
      li.querySelector(".alert-dismiss").addEventListener("click", () => {
        api(`/api/alerts/${id}/dismiss`, { method: "POST" }).catch((e) => this.d.toast(e.message));
      });
    }
    if (this.mode === "detail") this.renderDetail();
    if (this.mode === "none") setHtml(this.pane, html`<p class="empty">${t("incidents.select_hint")}</p>`);
    if (this.mode === "intake") this.relabelIntake();
  }

  tick() {
    for (const el of all(document, ".step-clock[data-since]")) {
      const b = el.querySelector("b");
      if (b) b.textContent = duration(since(el.dataset.since));
    }
    for (const tr of all(this.board, "tr[data-status=new]")) {
      const inc = this.d.incidents.get(Number(tr.dataset.id));
      if (inc && tr.dataset.attention === "" && since(inc.created_at) > CALL_PROCESSING_TARGET) tr.dataset.attention = "late";
    }
  }

  // -- selected incident ------------------------------------------------------------

  async select(id) {
    this.selected = id;
    this.mode = "detail";
    this.reassigning = null;
    this.choice = { carry: null, hospital: null };
    this.d.map.setPick(null);
    selectTab("incident");
    const inc = this.d.incidents.get(id);
    if (inc) this.d.map.focus(inc.lat, inc.lon);
    this.detail = null;
    this.recs = null;
    this.sms = null;
    this.render();
    await this.refreshSelected();
  }

  async refreshSelected() {
    if (this.mode !== "detail" || this.selected == null) return;
    const id = this.selected;
    const gen = ++this.refreshGen;
    // The server may have read the SMS before a delivery report the stream brings while this
    // fetch is in flight: those views are applied over what it returns, never lost to it.
    const live = new Map();
    this.smsInFlight.add(live);
    try {
      const [detail, sms] = await Promise.all([
        api(`/api/incidents/${id}`),
        api(`/api/incidents/${id}/sms`).catch(() => null),   // null: no SMS side on this server
      ]);
      if (this.selected !== id || gen !== this.refreshGen) return;   // a newer one renders
      if (sms) for (const m of live.values()) upsertSms(sms, m);
      this.sms = sms;
      this.detail = detail;
      this.d.incidents.set(id, detail.incident);
      for (const a of detail.assignments) this.d.assignments.set(a.id, a);
      // Patients still without a unit (a mass casualty incident) need the next unit too.
      const needRecs = !detail.assignments.some((a) => a.active) || detail.unassigned > 0
        || this.reassigning != null;
      const open = !["closed", "cancelled"].includes(detail.incident.status);
      const recs = needRecs && open ? await api(`/api/incidents/${id}/recommendations`) : null;
      if (gen !== this.refreshGen) return;
      this.recs = recs;
    } catch (e) {
      if (gen !== this.refreshGen) return;
      this.detail = { error: e.message };
    } finally {
      this.smsInFlight.delete(live);
    }
    if (this.selected === id && gen === this.refreshGen) this.renderDetail();
  }

  /** Stream messages about the selected incident refresh it (debounced). */
  onMessage(msg) {
    if (this.mode !== "detail" || this.selected == null) return;
    if (msg.type === "sms.message") {
      // Whole message views: replace the one held, or add it (no refetch needed).
      const m = msg.message;
      if (m.incident_id !== this.selected) return;
      for (const live of this.smsInFlight) live.set(m.id, m);
      if (!this.sms) return;
      upsertSms(this.sms, m);
      this.renderDetail();
      return;
    }
    const id = msg.incident?.id ?? msg.assignment?.incident_id ?? msg.incident_id;
    const unitMoved = msg.type === "unit.status" && this.recs;
    if (id !== this.selected && !unitMoved) return;
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => this.refreshSelected(), 150);
  }

  renderDetail() {
    const d = this.detail;
    const inc = this.d.incidents.get(this.selected) ?? d?.incident;
    if (!inc) { setHtml(this.pane, html`<p class="empty">${t("detail.loading")}</p>`); return; }
    if (d?.error) { setHtml(this.pane, html`<p class="error">${t("detail.error", { message: d.error })}</p>`); return; }
    const open = !["closed", "cancelled"].includes(inc.status);
    const assignments = this.d.assignmentsOf(inc.id);
    /** @type {Content[]} */
    const out = [html`<article class="incident-detail" data-id="${inc.id}" data-status="${inc.status}">
      <header>
        <span class="triage ${inc.triage}">${t(`triage.${inc.triage}`)}</span>
        <h2>${inc.number}</h2>
        <span class="status-label">${tx(inc.status_label)}</span>
      </header>
      <dl class="facts">
        <dt>${t("detail.complaint")}</dt><dd>${t(`complaint.${inc.complaint}`)} · ${t("detail.patients")}: ${inc.patients}${
          inc.patients > 1 && d?.unassigned != null ? html` · <span class="unassigned" data-n="${d.unassigned}">${t("detail.unassigned", { n: d.unassigned })}</span>` : ""}</dd>
        <dt>${t("detail.caller")}</dt><dd>${inc.caller_name || "—"} ${inc.caller_phone ? html`<a href="tel:${inc.caller_phone}">${inc.caller_phone}</a>` : ""}</dd>
        <dt>${t("detail.place")}</dt><dd>${inc.place.kelurahan}, ${inc.place.kecamatan}${inc.location_approximate ? html` <small>(${t("detail.approximate")})</small>` : ""}</dd>
        ${inc.location_mismatch ? html`<dt>${t("detail.location_check")}</dt><dd class="warning" role="status">${tx(inc.location_mismatch.label)}</dd>` : ""}
        ${inc.patient_age != null ? html`<dt>${t("detail.age")}</dt><dd>${inc.patient_age} ${t(`intake.age_${inc.patient_age_unit}`)}${inc.age_group ? ` (${t(`age.${inc.age_group}`)})` : ""}</dd>` : ""}
        ${inc.cardiac_arrest ? html`<dt>${t("detail.cardiac_arrest")}</dt><dd class="warning">${t("intake.cardiac_arrest")}</dd>` : ""}
        <dt>${t("detail.address")}</dt><dd>${inc.address || "—"}</dd>
        ${inc.landmark ? html`<dt>${t("detail.landmark")}</dt><dd>${inc.landmark}</dd>` : ""}
        ${inc.notes ? html`<dt>${t("detail.notes")}</dt><dd>${inc.notes}</dd>` : ""}
        <dt>${t("detail.created")}</dt><dd>${time(inc.created_at)} · ${t(`source.${inc.source}`)} · ${inc.created_by}</dd>
      </dl>`];
    if (this.recs) out.push(this.recsHtml());
    else if (open && !d) out.push(html`<p class="hint">${t("detail.loading")}</p>`);
    out.push(html`<section class="assignments"><h3>${t("detail.assignments")}</h3>`);
    if (!assignments.length) out.push(html`<p class="hint">${t("detail.no_assignments")}</p>`);
    for (const a of assignments) out.push(this.assignmentHtml(inc, a));
    out.push(html`</section>`);
    if (this.sms) out.push(this.smsHtml());
    if (d?.audit?.length) {
      out.push(html`<details class="audit"><summary>${t("detail.audit")} (${d.audit.length})</summary><ol>`);
      for (const e of d.audit) {
        const what = `${tOr(`audit.entity.${e.entity_type}`, e.entity_type)} ${tOr(`audit.action.${e.action}`, e.action)}`;
        out.push(html`<li><span class="when">${time(e.at)}</span> ${e.actor}: ${what}</li>`);
      }
      out.push(html`</ol></details>`);
    }
    if (open) {
      out.push(html`<p><button type="button" class="close-incident">${t("detail.close_incident")}</button>
        <button type="button" class="danger cancel-incident">${t("detail.cancel_incident")}</button></p>`);
    } else {
      out.push(html`<p><button type="button" class="reopen-incident">${t("detail.reopen_incident")}</button></p>`);
    }
    out.push(html`</article>`);
    setHtml(this.pane, out);
    this.bindDetail(inc);
  }

  /** @returns {Content[]} */
  recsHtml() {
    const r = this.recs;
    const reassign = this.reassigning != null;
    const out = [html`<section class="recommendations"><h3>${t("detail.recommendations")}</h3>`];
    out.push(html`<h4>${t("detail.rec_units")}</h4><ol class="rec-units">`);
    for (const u of r.units) {
      const label = reassign ? t("detail.reassign_to", { unit: u.unit.callsign }) : t("detail.assign");
      out.push(html`<li class="rec-unit" data-unit-id="${u.unit.id}" data-fit="${u.fit}">
        <div><b>${u.unit.callsign}</b> <small>${tOr(`unit.type.${u.unit.type}`, u.unit.type)}</small>
          · ${t("detail.travel", { min: Math.max(1, Math.round(u.travel.seconds / 60)) })}
          ${u.within_window ? "" : html`<span class="badge amber">${t("detail.outside_window")}</span>`}</div>
        <div class="reason">${tx(u.reason)}</div>
        <button type="button" class="primary assign">${label}</button></li>`);
    }
    out.push(html`</ol>`);
    if (r.no_unit_available) {
      // Nothing suitable is free: say so, and who will be free first.
      out.push(html`<div class="no-unit" role="status"><p><b>${r.notice ? tx(r.notice) : t("detail.no_unit")}</b></p>
        <ol class="free-soon">`);
      for (const f of r.free_soon) {
        out.push(html`<li data-unit-id="${f.unit.id}"><b>${f.unit.callsign}</b>
          · ${t("detail.free_in", { min: Math.max(1, Math.round(f.free_in_s / 60)) })}
          <div class="reason">${tx(f.reason)}</div></li>`);
      }
      out.push(html`</ol></div>`);
    }
    const share = this.detail?.incident?.patients > 1 ? this.detail.unassigned : null;
    if (!reassign && share != null) {
      // A mass casualty incident: how many of the patients still without a unit this one takes.
      const carry = this.choice.carry ?? String(share);
      out.push(html`<p class="carry"><label>${t("detail.carry")}
        <input type="number" class="carry-patients" min="0" max="${share}" value="${carry}"></label></p>`);
    }
    if (!reassign && r.hospitals.length) {
      out.push(html`<h4>${t("detail.rec_hospitals")}</h4><ol class="rec-hospitals">`);
      r.hospitals.forEach((h, idx) => {
        out.push(html`<li class="rec-hospital" data-hospital-id="${h.hospital.id}"><label>
          <input type="radio" name="rec-hospital" value="${h.hospital.id}" ${
            (this.choice.hospital ?? String(r.hospitals[0].hospital.id)) === String(h.hospital.id) ? "checked" : ""}>
          <b>${h.hospital.name}</b> · ${t("detail.travel", { min: Math.max(1, Math.round(h.travel.seconds / 60)) })}
          ${h.missing.length ? html`<span class="badge amber">${t("detail.missing", { what: h.missing.map((c) => tOr(`cap.${c}`, c)).join(", ") })}</span>` : ""}</label>
          <div class="reason">${tx(h.reason)}</div></li>`);
      });
      out.push(html`<li><label><input type="radio" name="rec-hospital" value="" ${this.choice.hospital === "" ? "checked" : ""}> ${t("detail.no_hospital")}</label></li></ol>`);
    }
    out.push(html`</section>`);
    return out;
  }

  /** The incident's SMS: dispatch and pre-arrival pages with their delivery state, the
   * crew's replies with what they did, and our answers. */
  /** @returns {Content[]} */
  smsHtml() {
    const out = [html`<section class="sms-thread"><h3>${t("sms.thread")}</h3>`];
    if (!this.sms.length) return [...out, html`<p class="hint">${t("sms.none")}</p></section>`];
    out.push(html`<ol>`);
    for (const m of this.sms) {
      // An outbound message the provider took follows its delivery reports.
      const delivery = m.direction === "out"
        ? (m.state === "sent" && m.provider_status ? m.provider_status : m.state) : (m.result ?? m.state);
      const bad = ["failed", "undelivered", "opt_out", "refused", "bad_reply"].includes(delivery);
      out.push(html`<li class="sms" data-id="${m.id}" data-direction="${m.direction}" data-kind="${m.kind}"
          data-state="${delivery}">
        <div class="sms-head"><span class="when">${time(m.created_at)}</span>
          <b>${m.direction === "out" ? t("sms.to", { phone: m.phone }) : t("sms.from", { phone: m.phone })}</b>
          <small>${tOr(`sms.kind.${m.kind}`, m.kind)}</small>
          <span class="badge ${bad ? "red" : ""} sms-state">${tOr(`sms.state.${delivery}`, delivery)}</span></div>
        <div class="sms-body">${m.body}</div>
        <small class="sms-summary">${tx(m.summary)}${m.error_code ? ` (${m.error_code})` : ""}</small></li>`);
    }
    out.push(html`</ol></section>`);
    return out;
  }

  /** @returns {Content[]} */
  assignmentHtml(inc, a) {
    const out = [html`<div class="assignment" data-assignment-id="${a.id}" data-status="${a.status}">
      <div class="assignment-head"><b>${a.unit.callsign}</b> <span class="status-label">${tx(a.status_label)}</span>
      ${a.hospital ? html`<small>${t("detail.to_hospital", { name: a.hospital.name })}</small>` : ""}
      ${inc.patients > 1 ? html`<small class="carried" data-n="${a.patients}">${t("detail.carries", { n: a.patients })}</small>` : ""}</div>
      <table class="timechain"><caption>${t("detail.timechain")}</caption><tbody>
      <tr><th>${t("step.created_at")}</th><td>${time(inc.created_at)}</td><td></td></tr>`];
    let prev = inc.created_at;
    for (const s of STEPS) {
      const at = a.times[s];
      if (!at) continue;
      const delta = (Date.parse(at) - Date.parse(prev)) / 1000;
      out.push(html`<tr data-step="${s}"><th>${t(`step.${s}`)}</th><td>${time(at)}</td><td>+${duration(delta)}</td></tr>`);
      prev = at;
    }
    out.push(html`</tbody></table>`);
    if (a.active) {
      out.push(html`<div class="actions">`);
      for (const trig of NEXT_TRIGGER[a.status] ?? []) {
        out.push(html`<button type="button" class="record" data-trigger="${trig}">${t("detail.record", { step: t(`trigger.${trig}`) })}</button>`);
      }
      out.push(html`<button type="button" class="reassign">${t("detail.reassign")}</button>
        <button type="button" class="danger cancel-assignment">${t("detail.cancel_assignment")}</button></div>`);
    }
    out.push(html`</div>`);
    return out;
  }

  bindDetail(inc) {
    const pane = this.pane;
    for (const li of all(pane, ".rec-unit")) {
      li.querySelector(".assign").addEventListener("click", () => {
        const unitId = Number(li.dataset.unitId);
        if (this.reassigning != null) { this.reassign(this.reassigning, unitId); return; }
        const chosen = /** @type {HTMLInputElement | null} */ (pane.querySelector("input[name=rec-hospital]:checked"));
        const hospitalId = chosen && chosen.value ? Number(chosen.value) : undefined;
        const carry = /** @type {HTMLInputElement | null} */ (pane.querySelector("input.carry-patients"));
        this.assign(inc, unitId, hospitalId, carry && carry.value !== "" ? Number(carry.value) : undefined);
      });
    }
    pane.querySelector("input.carry-patients")?.addEventListener("input", (ev) => {
      this.choice.carry = /** @type {HTMLInputElement} */ (ev.target).value;
    });
    for (const radio of all(pane, "input[name=rec-hospital]")) {
      radio.addEventListener("change", () => { this.choice.hospital = /** @type {HTMLInputElement} */ (radio).value; });
    }
    for (const div of all(pane, ".assignment")) {
      const id = Number(div.dataset.assignmentId);
      for (const b of all(div, "button.record")) {
        b.addEventListener("click", () => this.act(`/api/assignments/${id}/status`, { trigger: b.dataset.trigger }));
      }
      div.querySelector(".reassign")?.addEventListener("click", async () => {
        this.reassigning = id;
        await this.refreshSelected();
      });
      div.querySelector(".cancel-assignment")?.addEventListener("click", () => this.act(`/api/assignments/${id}/cancel`));
    }
    pane.querySelector(".close-incident")?.addEventListener("click", () => this.act(`/api/incidents/${inc.id}/close`));
    pane.querySelector(".reopen-incident")?.addEventListener("click", () => this.act(`/api/incidents/${inc.id}/reopen`));
    pane.querySelector(".cancel-incident")?.addEventListener("click", () => {
      if (confirm(t("detail.confirm_cancel", { number: inc.number }))) this.act(`/api/incidents/${inc.id}/cancel`);
    });
  }

  async act(path, body = undefined) {
    try {
      await api(path, { method: "POST", body });
    } catch (e) {
      this.d.toast(t("detail.error", { message: e.message }));
    }
    await this.refreshSelected();
  }

  async assign(inc, unitId, hospitalId, patients = undefined) {
    try {
      const a = await api(`/api/incidents/${inc.id}/assignments`, { method: "POST",
        body: { unit_id: unitId, hospital_id: hospitalId, patients } });
      this.d.assignments.set(a.id, a);
      this.choice = { carry: null, hospital: null };
      this.d.toast(t("detail.assigned", { unit: a.unit.callsign, number: inc.number }));
    } catch (e) {
      this.d.toast(t("detail.error", { message: e.message }));
    }
    await this.refreshSelected();
    this.d.render();
  }

  async reassign(assignmentId, unitId) {
    try {
      const a = await api(`/api/assignments/${assignmentId}/reassign`, { method: "POST", body: { unit_id: unitId } });
      this.d.assignments.set(a.id, a);
      this.d.escalations.delete(assignmentId);
      this.d.syncEscalations();
    } catch (e) {
      this.d.toast(t("detail.error", { message: e.message }));
    }
    this.reassigning = null;
    await this.refreshSelected();
    this.d.render();
  }

  // -- intake -----------------------------------------------------------------------

  openIntake({ alert = null } = {}) {
    this.mode = "intake";
    this.selected = null;
    selectTab("incident");
    this.intake = { lat: alert?.lat ?? null, lon: alert?.lon ?? null, fromAlert: alert };
    const opts = (list, prefix) => list.map((v) => html`<option value="${v}">${t(`${prefix}.${v}`)}</option>`);
    const triage = TRIAGE_ORDER.map((v, n) => html`<label class="triage-pick ${v}"><input type="radio" name="triage" value="${v}" ${n === 1 ? "checked" : ""}>
      <span data-i18n="triage.${v}"></span></label>`);
    setHtml(this.pane, html`<form class="intake" id="intake-form" novalidate>
      <h2 data-i18n="intake.title"></h2>
      <p class="hint from-alert" hidden></p>
      <label><span data-i18n="intake.source"></span><select name="source">${opts(SOURCES, "source")}</select></label>
      <label><span data-i18n="intake.caller_name"></span><input name="caller_name" maxlength="120"></label>
      <label><span data-i18n="intake.caller_phone"></span><input name="caller_phone" type="tel" inputmode="tel" data-i18n-placeholder="intake.phone_hint">
        <small class="error" data-error="caller_phone" hidden></small></label>
      <div class="place-search"><label><span data-i18n="intake.place"></span><input name="place" type="search" autocomplete="off" maxlength="100" data-i18n-placeholder="intake.place_hint"></label>
        <ul class="place-results" data-i18n-aria-label="intake.place_results" hidden></ul></div>
      <label><span data-i18n="intake.kelurahan"></span><input name="kelurahan" list="kelurahan-list" autocomplete="off" required data-i18n-placeholder="intake.kelurahan_hint">
        <small class="error" data-error="kelurahan" hidden></small></label>
      <datalist id="kelurahan-list">${this.d.kelurahan.map((k) => html`<option value="${k.name}">${k.kecamatan}</option>`)}</datalist>
      <label><span data-i18n="intake.address"></span><input name="address" maxlength="300"></label>
      <label><span data-i18n="intake.landmark"></span><input name="landmark" maxlength="200"></label>
      <div class="location"><span data-i18n="intake.location"></span>: <b class="loc-value"></b>
        <p class="hint" data-i18n="intake.location_hint"></p></div>
      <label><span data-i18n="intake.complaint"></span><select name="complaint">${opts(COMPLAINTS, "complaint")}</select></label>
      <fieldset class="triage-set"><legend data-i18n="intake.triage"></legend>${triage}</fieldset>
      <label><span data-i18n="intake.patients"></span><input name="patients" type="number" min="1" max="500" value="1"></label>
      <div class="patient-age"><label><span data-i18n="intake.age"></span><input name="patient_age" type="number" min="0" max="150" inputmode="numeric"></label>
        <select name="patient_age_unit"><option value="years" data-i18n="intake.age_years"></option><option value="months" data-i18n="intake.age_months"></option><option value="days" data-i18n="intake.age_days"></option></select></div>
      <label class="check"><input name="cardiac_arrest" type="checkbox"> <span data-i18n="intake.cardiac_arrest"></span></label>
      <label><span data-i18n="intake.notes"></span><textarea name="notes" rows="2" maxlength="2000"></textarea></label>
      <p class="error form-error" hidden></p>
      <div class="form-actions"><button type="submit" class="primary" data-i18n="intake.submit"></button>
        <button type="button" class="cancel" data-i18n="intake.cancel"></button></div>
    </form>`);
    const form = this.pane.querySelector("form");
    if (alert) {
      form.source.value = "radio";
      form.caller_name.value = alert.display_name;
      const near = alert.lat != null ? this.d.map.nearestKelurahan(alert.lat, alert.lon) : null;
      if (near) form.kelurahan.value = near.name;
    }
    form.addEventListener("submit", (ev) => { ev.preventDefault(); this.submitIntake(form); });
    form.querySelector(".cancel").addEventListener("click", () => {
      this.mode = "none";
      this.d.map.setPick(null);
      this.render();
    });
    form.caller_phone.addEventListener("blur", () => this.checkPhone(form));
    this.places = new PlaceSearch(form, (place) => this.placeChosen(place));
    this.relabelIntake();
    this.showPick();
    form.caller_name.focus();
  }

  relabelIntake() {
    const form = this.pane.querySelector("#intake-form");
    if (!form) return;
    applyI18n(form);
    for (const sel of form.querySelectorAll("select")) {
      if (sel.name === "patient_age_unit") continue;  // its options carry data-i18n
      const prefix = sel.name === "source" ? "source" : "complaint";
      for (const o of sel.options) o.textContent = t(`${prefix}.${o.value}`);
    }
    const note = /** @type {HTMLElement} */ (form.querySelector(".from-alert"));
    const alert = this.intake?.fromAlert;
    note.hidden = !alert;
    if (alert) note.textContent = t("intake.from_alert", { name: alert.display_name });
    this.places?.relabel();
    this.showPick();
  }

  showPick() {
    const el = /** @type {HTMLElement | null} */ (this.pane.querySelector(".loc-value"));
    if (!el) return;
    const { lat, lon } = this.intake ?? {};
    const place = this.intake?.place;
    el.textContent = lat == null ? t("intake.location_none") : [
      `${lat.toFixed(5)}, ${lon.toFixed(5)}`,
      place ? ` (${t("intake.location_from", { name: place.name })}${place.approximate ? `, ${t("intake.approximate")}` : ""})` : "",
    ].join("");
    if (place) el.title = place.source; else el.removeAttribute("title");
    this.d.map.setPick(lat != null ? [lat, lon] : null);
  }

  mapClicked(latlng) {
    if (this.mode !== "intake") return;
    this.intake.lat = latlng.lat;
    this.intake.lon = latlng.lng;
    this.intake.place = null;  // a point marked on the map is where the call taker put it
    const form = /** @type {HTMLFormElement | null} */ (this.pane.querySelector("#intake-form"));
    const near = this.d.map.nearestKelurahan(latlng.lat, latlng.lng);
    if (form && near && !this.kelurahanCode(form.kelurahan.value)) form.kelurahan.value = near.name;
    this.showPick();
  }

  /**
   * A gazetteer place chosen: it becomes the scene, approximate when the place's position
   * is; its kelurahan and name fill the fields still empty.
   * @param {import("./places.js").Place} place
   */
  placeChosen(place) {
    if (this.mode !== "intake") return;
    Object.assign(this.intake, { lat: place.lat, lon: place.lon, place });
    const form = /** @type {HTMLFormElement | null} */ (this.pane.querySelector("#intake-form"));
    if (form && place.kelurahan && !this.kelurahanCode(form.kelurahan.value)) form.kelurahan.value = place.kelurahan;
    if (form && !form.landmark.value.trim() && place.kind !== "kelurahan") form.landmark.value = place.name;
    this.d.map.focus(place.lat, place.lon);
    this.showPick();
  }

  kelurahanCode(name) {
    const n = String(name ?? "").trim().toLowerCase();
    return this.d.kelurahan.find((k) => k.name.toLowerCase() === n || k.code === n)?.code ?? null;
  }

  checkPhone(form) {
    const raw = form.caller_phone.value.trim();
    const ok = !raw || e164(raw) !== null;
    const err = form.querySelector("[data-error=caller_phone]");
    err.hidden = ok;
    err.textContent = ok ? "" : t("intake.phone_invalid");
    form.caller_phone.setAttribute("aria-invalid", String(!ok));
    return ok;
  }

  async submitIntake(form) {
    const code = this.kelurahanCode(form.kelurahan.value);
    const kelErr = form.querySelector("[data-error=kelurahan]");
    kelErr.hidden = Boolean(code);
    kelErr.textContent = code ? "" : t("intake.kelurahan_invalid");
    const phoneOk = this.checkPhone(form);
    if (!code || !phoneOk) return;
    const phone = form.caller_phone.value.trim();
    const body = {
      caller_name: form.caller_name.value.trim(),
      caller_phone: phone ? e164(phone) : null,
      address: form.address.value.trim(),
      landmark: form.landmark.value.trim(),
      kelurahan: code,
      lat: this.intake.lat ?? undefined,
      lon: this.intake.lon ?? undefined,
      location_approximate: this.intake.place?.approximate || undefined,
      complaint: form.complaint.value,
      triage: form.triage.value,
      patients: Number(form.patients.value) || 1,
      notes: form.notes.value.trim(),
      ...(form.patient_age.value.trim() === "" ? {} : {
        patient_age: Number(form.patient_age.value), patient_age_unit: form.patient_age_unit.value }),
      ...(form.cardiac_arrest.checked ? { cardiac_arrest: true } : {}),
    };
    const alert = this.intake.fromAlert;
    const formError = form.querySelector(".form-error");
    try {
      let inc;
      if (alert) {
        inc = await api(`/api/alerts/${alert.id}/incident`, { method: "POST", body: { ...body, caller_phone: body.caller_phone ?? undefined, notes: body.notes || undefined } });
        // An incident made from the alert answers the officer's emergency: the alarm stops.
        const radio = this.d.alerts.radio;
        if (radio.emergencies.get(alert.talkgroup)?.acknowledged === false) {
          radio.acknowledgeEmergency(alert.talkgroup).catch(() => {});
        }
      } else {
        inc = await api("/api/incidents", { method: "POST", body: { ...body, source: form.source.value } });
      }
      this.d.incidents.set(inc.id, inc);
      this.d.toast(t("intake.saved", { number: inc.number }));
      if (inc.location_mismatch) this.d.toast(tx(inc.location_mismatch.label));
      this.d.map.setPick(null);
      await this.select(inc.id);
      this.d.render();
    } catch (e) {
      formError.hidden = false;
      formError.textContent = t("intake.error", { message: e.message });
    }
  }
}

