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
import { t, tx, tOr } from "./i18n.js";
import { esc, time, duration, since, e164 } from "./fmt.js";
import { selectTab } from "./ui.js";

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
  thread.sort((a, b) => new Date(a.created_at) - new Date(b.created_at) || a.id - b.id);
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
    if (incident.status === "new" && since(incident.created_at) > CALL_PROCESSING_TARGET) return "late";
    return "";
  }

  render() {
    if (!this.d.enabled) {
      this.board.innerHTML = `<p class="empty">${esc(t("incidents.unavailable"))}</p>`;
      document.getElementById("new-incident").hidden = true;
      this.pane.innerHTML = `<p class="empty">${esc(t("incidents.unavailable"))}</p>`;
      return;
    }
    const list = [...this.d.incidents.values()]
      .filter((i) => !["closed", "cancelled"].includes(i.status))
      .sort((a, b) => TRIAGE_ORDER.indexOf(a.triage) - TRIAGE_ORDER.indexOf(b.triage)
        || new Date(a.created_at) - new Date(b.created_at));
    const alerts = [...this.d.radioAlerts.values()];
    let html = "";
    if (alerts.length) {
      html += `<div class="radio-alerts"><h3>${esc(t("incidents.alerts"))}</h3><ul>`;
      for (const a of alerts) {
        html += `<li data-alert="${a.id}">${esc(t("incidents.alert_line", {
          name: `${a.display_name}${a.unit ? ` (${a.unit})` : ""}`, group: this.d.talkgroupName(a.talkgroup), time: time(a.at) }))}
          <button type="button" class="alert-convert">${esc(t("incidents.alert_convert"))}</button>
          <button type="button" class="link alert-dismiss">${esc(t("incidents.alert_dismiss"))}</button></li>`;
      }
      html += "</ul></div>";
    }
    if (!list.length) {
      html += `<p class="empty">${esc(t("incidents.none"))}</p>`;
    } else {
      html += `<table class="incidents"><thead><tr>
        <th>${esc(t("incidents.col.triage"))}</th><th>${esc(t("incidents.col.number"))}</th>
        <th>${esc(t("incidents.col.what"))}</th><th>${esc(t("incidents.col.status"))}</th>
        <th>${esc(t("incidents.col.clock"))}</th><th>${esc(t("incidents.col.unit"))}</th></tr></thead><tbody>`;
      for (const i of list) {
        const cur = this.currentStep(i);
        const attention = this.attention(i, cur);
        const a = cur.assignment;
        html += `<tr data-id="${i.id}" data-number="${esc(i.number)}" data-status="${esc(i.status)}"
            data-attention="${attention}" aria-selected="${this.selected === i.id}">
          <td><span class="triage ${esc(i.triage)}">${esc(t(`triage.${i.triage}`))}</span></td>
          <td><b>${esc(i.number)}</b><br><small>${esc(time(i.created_at))}</small></td>
          <td>${esc(t(`complaint.${i.complaint}`))}<br><small>${esc(i.place.kelurahan)}</small></td>
          <td class="status">${esc(tx(i.status_label))}${attention === "escalated"
            ? ` <span class="badge red">${esc(t("incidents.escalated"))}</span>` : ""}</td>
          <td class="step-clock" data-since="${esc(cur.at)}"><b>${duration(since(cur.at))}</b><br><small>${esc(t(`step.${cur.step}`))}</small></td>
          <td class="unit">${a ? `${esc(a.unit.callsign)}<br><small>${esc(tx(a.status_label))}</small>` : "—"}</td>
        </tr>`;
      }
      html += "</tbody></table>";
    }
    this.board.innerHTML = html;
    for (const tr of this.board.querySelectorAll("tr[data-id]")) {
      tr.addEventListener("click", () => this.select(Number(tr.dataset.id)));
    }
    for (const li of this.board.querySelectorAll("li[data-alert]")) {
      const id = Number(li.dataset.alert);
      li.querySelector(".alert-convert").addEventListener("click", () => this.openIntake({ alert: this.d.radioAlerts.get(id) }));
      li.querySelector(".alert-dismiss").addEventListener("click", () => {
        api(`/api/alerts/${id}/dismiss`, { method: "POST" }).catch((e) => this.d.toast(e.message));
      });
    }
    if (this.mode === "detail") this.renderDetail();
    if (this.mode === "none") this.pane.innerHTML = `<p class="empty">${esc(t("incidents.select_hint"))}</p>`;
    if (this.mode === "intake") this.relabelIntake();
  }

  tick() {
    for (const el of document.querySelectorAll(".step-clock[data-since]")) {
      const b = el.querySelector("b");
      if (b) b.textContent = duration(since(el.dataset.since));
    }
    for (const tr of this.board.querySelectorAll("tr[data-status=new]")) {
      const inc = this.d.incidents.get(Number(tr.dataset.id));
      if (inc && tr.dataset.attention === "" && since(inc.created_at) > CALL_PROCESSING_TARGET) tr.dataset.attention = "late";
    }
  }

  // -- selected incident ------------------------------------------------------------

  async select(id) {
    this.selected = id;
    this.mode = "detail";
    this.reassigning = null;
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
      const needRecs = !detail.assignments.some((a) => a.active) || this.reassigning != null;
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
    if (!inc) { this.pane.innerHTML = `<p class="empty">${esc(t("detail.loading"))}</p>`; return; }
    if (d?.error) { this.pane.innerHTML = `<p class="error">${esc(t("detail.error", { message: d.error }))}</p>`; return; }
    const open = !["closed", "cancelled"].includes(inc.status);
    const assignments = this.d.assignmentsOf(inc.id);
    let html = `<article class="incident-detail" data-id="${inc.id}" data-status="${esc(inc.status)}">
      <header>
        <span class="triage ${esc(inc.triage)}">${esc(t(`triage.${inc.triage}`))}</span>
        <h2>${esc(inc.number)}</h2>
        <span class="status-label">${esc(tx(inc.status_label))}</span>
      </header>
      <dl class="facts">
        <dt>${esc(t("detail.complaint"))}</dt><dd>${esc(t(`complaint.${inc.complaint}`))} · ${esc(t("detail.patients"))}: ${inc.patients}</dd>
        <dt>${esc(t("detail.caller"))}</dt><dd>${esc(inc.caller_name || "—")} ${inc.caller_phone ? `<a href="tel:${esc(inc.caller_phone)}">${esc(inc.caller_phone)}</a>` : ""}</dd>
        <dt>${esc(t("detail.place"))}</dt><dd>${esc(inc.place.kelurahan)}, ${esc(inc.place.kecamatan)}${inc.location_approximate ? ` <small>(${esc(t("detail.approximate"))})</small>` : ""}</dd>
        <dt>${esc(t("detail.address"))}</dt><dd>${esc(inc.address || "—")}</dd>
        ${inc.notes ? `<dt>${esc(t("detail.notes"))}</dt><dd>${esc(inc.notes)}</dd>` : ""}
        <dt>${esc(t("detail.created"))}</dt><dd>${esc(time(inc.created_at))} · ${esc(t(`source.${inc.source}`))} · ${esc(inc.created_by)}</dd>
      </dl>`;
    if (this.recs) html += this.recsHtml();
    else if (open && !d) html += `<p class="hint">${esc(t("detail.loading"))}</p>`;
    html += `<section class="assignments"><h3>${esc(t("detail.assignments"))}</h3>`;
    if (!assignments.length) html += `<p class="hint">${esc(t("detail.no_assignments"))}</p>`;
    for (const a of assignments) html += this.assignmentHtml(inc, a);
    html += "</section>";
    if (this.sms) html += this.smsHtml();
    if (d?.audit?.length) {
      html += `<details class="audit"><summary>${esc(t("detail.audit"))} (${d.audit.length})</summary><ol>`;
      for (const e of d.audit) {
        const what = `${tOr(`audit.entity.${e.entity_type}`, e.entity_type)} ${tOr(`audit.action.${e.action}`, e.action)}`;
        html += `<li><span class="when">${esc(time(e.at))}</span> ${esc(e.actor)}: ${esc(what)}</li>`;
      }
      html += "</ol></details>";
    }
    if (open) html += `<p><button type="button" class="danger cancel-incident">${esc(t("detail.cancel_incident"))}</button></p>`;
    html += "</article>";
    this.pane.innerHTML = html;
    this.bindDetail(inc);
  }

  recsHtml() {
    const r = this.recs;
    const reassign = this.reassigning != null;
    let html = `<section class="recommendations"><h3>${esc(t("detail.recommendations"))}</h3>`;
    html += `<h4>${esc(t("detail.rec_units"))}</h4><ol class="rec-units">`;
    for (const u of r.units) {
      const label = reassign ? t("detail.reassign_to", { unit: u.unit.callsign }) : t("detail.assign");
      html += `<li class="rec-unit" data-unit-id="${u.unit.id}" data-fit="${esc(u.fit)}">
        <div><b>${esc(u.unit.callsign)}</b> <small>${esc(tOr(`unit.type.${u.unit.type}`, u.unit.type))}</small>
          · ${esc(t("detail.travel", { min: Math.max(1, Math.round(u.travel.seconds / 60)) }))}
          ${u.within_window ? "" : `<span class="badge amber">${esc(t("detail.outside_window"))}</span>`}</div>
        <div class="reason">${esc(tx(u.reason))}</div>
        <button type="button" class="primary assign">${esc(label)}</button></li>`;
    }
    html += "</ol>";
    if (!reassign && r.hospitals.length) {
      html += `<h4>${esc(t("detail.rec_hospitals"))}</h4><ol class="rec-hospitals">`;
      r.hospitals.forEach((h, idx) => {
        html += `<li class="rec-hospital" data-hospital-id="${h.hospital.id}"><label>
          <input type="radio" name="rec-hospital" value="${h.hospital.id}" ${idx === 0 ? "checked" : ""}>
          <b>${esc(h.hospital.name)}</b> · ${esc(t("detail.travel", { min: Math.max(1, Math.round(h.travel.seconds / 60)) }))}
          ${h.missing.length ? `<span class="badge amber">${esc(t("detail.missing", { what: h.missing.map((c) => tOr(`cap.${c}`, c)).join(", ") }))}</span>` : ""}</label>
          <div class="reason">${esc(tx(h.reason))}</div></li>`;
      });
      html += `<li><label><input type="radio" name="rec-hospital" value=""> ${esc(t("detail.no_hospital"))}</label></li></ol>`;
    }
    return html + "</section>";
  }

  /** The incident's SMS: dispatch and pre-arrival pages with their delivery state, the
   * crew's replies with what they did, and our answers. */
  smsHtml() {
    let html = `<section class="sms-thread"><h3>${esc(t("sms.thread"))}</h3>`;
    if (!this.sms.length) return `${html}<p class="hint">${esc(t("sms.none"))}</p></section>`;
    html += "<ol>";
    for (const m of this.sms) {
      // An outbound message the provider took follows its delivery reports.
      const delivery = m.direction === "out"
        ? (m.state === "sent" && m.provider_status ? m.provider_status : m.state) : (m.result ?? m.state);
      const bad = ["failed", "undelivered", "opt_out", "refused", "bad_reply"].includes(delivery);
      html += `<li class="sms" data-id="${m.id}" data-direction="${esc(m.direction)}" data-kind="${esc(m.kind)}"
          data-state="${esc(delivery)}">
        <div class="sms-head"><span class="when">${esc(time(m.created_at))}</span>
          <b>${esc(m.direction === "out" ? t("sms.to", { phone: m.phone }) : t("sms.from", { phone: m.phone }))}</b>
          <small>${esc(tOr(`sms.kind.${m.kind}`, m.kind))}</small>
          <span class="badge ${bad ? "red" : ""} sms-state">${esc(tOr(`sms.state.${delivery}`, delivery))}</span></div>
        <div class="sms-body">${esc(m.body)}</div>
        <small class="sms-summary">${esc(tx(m.summary))}${m.error_code ? ` (${esc(m.error_code)})` : ""}</small></li>`;
    }
    return html + "</ol></section>";
  }

  assignmentHtml(inc, a) {
    let html = `<div class="assignment" data-assignment-id="${a.id}" data-status="${esc(a.status)}">
      <div class="assignment-head"><b>${esc(a.unit.callsign)}</b> <span class="status-label">${esc(tx(a.status_label))}</span>
      ${a.hospital ? `<small>${esc(t("detail.to_hospital", { name: a.hospital.name }))}</small>` : ""}</div>
      <table class="timechain"><caption>${esc(t("detail.timechain"))}</caption><tbody>
      <tr><th>${esc(t("step.created_at"))}</th><td>${esc(time(inc.created_at))}</td><td></td></tr>`;
    let prev = inc.created_at;
    for (const s of STEPS) {
      const at = a.times[s];
      if (!at) continue;
      const delta = (new Date(at) - new Date(prev)) / 1000;
      html += `<tr data-step="${s}"><th>${esc(t(`step.${s}`))}</th><td>${esc(time(at))}</td><td>+${duration(delta)}</td></tr>`;
      prev = at;
    }
    html += "</tbody></table>";
    if (a.active) {
      html += `<div class="actions">`;
      for (const trig of NEXT_TRIGGER[a.status] ?? []) {
        html += `<button type="button" class="record" data-trigger="${trig}">${esc(t("detail.record", { step: t(`trigger.${trig}`) }))}</button>`;
      }
      html += `<button type="button" class="reassign">${esc(t("detail.reassign"))}</button>
        <button type="button" class="danger cancel-assignment">${esc(t("detail.cancel_assignment"))}</button></div>`;
    }
    return html + "</div>";
  }

  bindDetail(inc) {
    const pane = this.pane;
    for (const li of pane.querySelectorAll(".rec-unit")) {
      li.querySelector(".assign").addEventListener("click", () => {
        const unitId = Number(li.dataset.unitId);
        if (this.reassigning != null) { this.reassign(this.reassigning, unitId); return; }
        const chosen = pane.querySelector("input[name=rec-hospital]:checked");
        const hospitalId = chosen && chosen.value ? Number(chosen.value) : undefined;
        this.assign(inc, unitId, hospitalId);
      });
    }
    for (const div of pane.querySelectorAll(".assignment")) {
      const id = Number(div.dataset.assignmentId);
      for (const b of div.querySelectorAll("button.record")) {
        b.addEventListener("click", () => this.act(`/api/assignments/${id}/status`, { trigger: b.dataset.trigger }));
      }
      div.querySelector(".reassign")?.addEventListener("click", async () => {
        this.reassigning = id;
        await this.refreshSelected();
      });
      div.querySelector(".cancel-assignment")?.addEventListener("click", () => this.act(`/api/assignments/${id}/cancel`));
    }
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

  async assign(inc, unitId, hospitalId) {
    try {
      const a = await api(`/api/incidents/${inc.id}/assignments`, { method: "POST", body: { unit_id: unitId, hospital_id: hospitalId } });
      this.d.assignments.set(a.id, a);
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
    const opts = (list, prefix) => list.map((v) => `<option value="${v}">${esc(t(`${prefix}.${v}`))}</option>`).join("");
    const triage = TRIAGE_ORDER.map((v, n) => `<label class="triage-pick ${v}"><input type="radio" name="triage" value="${v}" ${n === 1 ? "checked" : ""}>
      <span data-i18n="triage.${v}"></span></label>`).join("");
    this.pane.innerHTML = `<form class="intake" id="intake-form" novalidate>
      <h2 data-i18n="intake.title"></h2>
      <p class="hint from-alert" hidden></p>
      <label><span data-i18n="intake.source"></span><select name="source">${opts(SOURCES, "source")}</select></label>
      <label><span data-i18n="intake.caller_name"></span><input name="caller_name" maxlength="120"></label>
      <label><span data-i18n="intake.caller_phone"></span><input name="caller_phone" type="tel" inputmode="tel" data-i18n-placeholder="intake.phone_hint">
        <small class="error" data-error="caller_phone" hidden></small></label>
      <label><span data-i18n="intake.kelurahan"></span><input name="kelurahan" list="kelurahan-list" autocomplete="off" required data-i18n-placeholder="intake.kelurahan_hint">
        <small class="error" data-error="kelurahan" hidden></small></label>
      <datalist id="kelurahan-list">${this.d.kelurahan.map((k) => `<option value="${esc(k.name)}">${esc(k.kecamatan)}</option>`).join("")}</datalist>
      <label><span data-i18n="intake.address"></span><input name="address" maxlength="300"></label>
      <div class="location"><span data-i18n="intake.location"></span>: <b class="loc-value"></b>
        <p class="hint" data-i18n="intake.location_hint"></p></div>
      <label><span data-i18n="intake.complaint"></span><select name="complaint">${opts(COMPLAINTS, "complaint")}</select></label>
      <fieldset class="triage-set"><legend data-i18n="intake.triage"></legend>${triage}</fieldset>
      <label><span data-i18n="intake.patients"></span><input name="patients" type="number" min="1" max="500" value="1"></label>
      <label><span data-i18n="intake.notes"></span><textarea name="notes" rows="2" maxlength="2000"></textarea></label>
      <p class="error form-error" hidden></p>
      <div class="form-actions"><button type="submit" class="primary" data-i18n="intake.submit"></button>
        <button type="button" class="cancel" data-i18n="intake.cancel"></button></div>
    </form>`;
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
    this.relabelIntake();
    this.showPick();
    form.caller_name.focus();
  }

  relabelIntake() {
    const form = this.pane.querySelector("#intake-form");
    if (!form) return;
    for (const el of form.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
    for (const el of form.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
    for (const sel of form.querySelectorAll("select")) {
      const prefix = sel.name === "source" ? "source" : "complaint";
      for (const o of sel.options) o.textContent = t(`${prefix}.${o.value}`);
    }
    const note = form.querySelector(".from-alert");
    const alert = this.intake?.fromAlert;
    note.hidden = !alert;
    if (alert) note.textContent = t("intake.from_alert", { name: alert.display_name });
    this.showPick();
  }

  showPick() {
    const el = this.pane.querySelector(".loc-value");
    if (!el) return;
    const { lat, lon } = this.intake ?? {};
    el.textContent = lat != null ? `${lat.toFixed(5)}, ${lon.toFixed(5)}` : t("intake.location_none");
    this.d.map.setPick(lat != null ? [lat, lon] : null);
  }

  mapClicked(latlng) {
    if (this.mode !== "intake") return;
    this.intake.lat = latlng.lat;
    this.intake.lon = latlng.lng;
    const form = this.pane.querySelector("#intake-form");
    const near = this.d.map.nearestKelurahan(latlng.lat, latlng.lng);
    if (form && near && !this.kelurahanCode(form.kelurahan.value)) form.kelurahan.value = near.name;
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
      kelurahan: code,
      lat: this.intake.lat ?? undefined,
      lon: this.intake.lon ?? undefined,
      complaint: form.complaint.value,
      triage: form.triage.value,
      patients: Number(form.patients.value) || 1,
      notes: form.notes.value.trim(),
    };
    const alert = this.intake.fromAlert;
    const formError = form.querySelector(".form-error");
    try {
      let inc;
      if (alert) {
        inc = await api(`/api/alerts/${alert.id}/incident`, { method: "POST", body: { ...body, caller_phone: body.caller_phone ?? undefined, notes: body.notes || undefined } });
      } else {
        inc = await api("/api/incidents", { method: "POST", body: { ...body, source: form.source.value } });
      }
      this.d.incidents.set(inc.id, inc);
      this.d.toast(t("intake.saved", { number: inc.number }));
      this.d.map.setPick(null);
      await this.select(inc.id);
      this.d.render();
    } catch (e) {
      formError.hidden = false;
      formError.textContent = t("intake.error", { message: e.message });
    }
  }
}

