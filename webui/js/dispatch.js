/**
 * The dispatch side of the console: the state (incidents with their assignments, units,
 * hospitals, radio alerts), kept live by the dispatch stream WebSocket.
 *
 * Rules:
 * 1. REST is the source of truth. On every (re)connection of the stream the state is
 *    reloaded from REST, so a console that was away shows what happened meanwhile.
 * 2. Stream messages carry whole read models (an incident, an assignment, a unit, a
 *    hospital): an update replaces the copy held here; nothing is patched field by field.
 *    A model older than the one held (its `version`) is ignored.
 * 3. Renderers (incidents.js, resources.js) read this state and re-render on `change`.
 */
import { api, auth } from "./api.js";
import { t, tx, onLangChange } from "./i18n.js";
import { IncidentViews } from "./incidents.js";
import { ResourceViews } from "./resources.js";

const ACTIVE = ["new", "dispatched", "on_scene", "transporting", "at_hospital"];
const RECONNECT_DELAYS = [500, 1000, 2000, 5000, 10000];

export class DispatchConsole extends EventTarget {
  constructor({ config, map, alerts, toast, me }) {
    super();
    this.config = config;
    this.map = map;
    this.alerts = alerts;
    this.toast = toast;
    this.me = me;
    this.enabled = Boolean(config.features?.dispatch);
    this.state = this.enabled ? "idle" : "unavailable";
    this.incidents = new Map();     // id -> IncidentView
    this.assignments = new Map();   // id -> AssignmentView
    this.units = new Map();         // id -> UnitView
    this.hospitals = new Map();     // id -> HospitalView
    this.radioAlerts = new Map();   // id -> RadioAlertView (open ones)
    this.escalations = new Map();   // assignment id -> escalation message
    this.smsEscalations = new Map(); // assignment id -> escalation.sms message
    this.smsAlerts = new Map();     // key -> sms.failed / sms.opt_out message (until dismissed)
    this.officers = new Map();      // user_id -> radio position
    this.kelurahan = [];
    this.ws = null;
    this.attempt = 0;
    this.closed = false;
    this.views = new IncidentViews(this);
    this.resources = new ResourceViews(this);
    onLangChange(() => this.render());
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: { state } }));
  }

  async start() {
    await this.loadPlaces();
    if (!this.enabled) {
      this.render();
      return;
    }
    await this.reload().catch(() => {});
    this.connect();
  }

  async loadPlaces() {
    try {
      this.kelurahan = await api("/api/places/kelurahan");
      this.map.setKelurahan(this.kelurahan);
    } catch { /* the map works without them */ }
  }

  /** Rule 1: the whole state from REST. */
  async reload() {
    const [incidents, units, hospitals, alerts] = await Promise.all([
      api(`/api/incidents?${ACTIVE.map((s) => `status=${s}`).join("&")}&limit=200`),
      api("/api/units"),
      api("/api/hospitals"),
      api("/api/alerts?status=open").catch(() => []),
    ]);
    this.incidents = new Map(incidents.map((i) => [i.id, i]));
    this.units = new Map(units.map((u) => [u.id, u]));
    this.hospitals = new Map(hospitals.map((h) => [h.id, h]));
    this.radioAlerts = new Map(alerts.map((a) => [a.id, a]));
    const details = await Promise.all(incidents.map((i) => api(`/api/incidents/${i.id}`).catch(() => null)));
    this.assignments = new Map();
    for (const d of details) {
      if (!d) continue;
      for (const a of d.assignments) this.assignments.set(a.id, a);
    }
    for (const a of this.assignments.values()) {
      if (a.escalated_at && a.status === "dispatched" && !this.escalations.has(a.id)) {
        this.escalations.set(a.id, { assignment_id: a.id, incident_id: a.incident_id, unit_id: a.unit.id,
                                     label: null, next_best: [] });
      }
    }
    this.syncEscalations();
    this.render();
    await this.views.refreshSelected();
  }

  connect() {
    if (this.closed || this.ws) return;
    this.setState(this.attempt ? "reconnecting" : "connecting");
    const ws = new WebSocket(`${location.origin.replace(/^http/, "ws")}/api/dispatch/stream`);
    this.ws = ws;
    let ping = null;
    ws.onopen = () => ws.send(JSON.stringify({ token: auth.token }));
    ws.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      if (msg.type === "welcome") {
        const again = this.attempt > 0 || this.wasOpen;
        this.attempt = 0;
        this.wasOpen = true;
        this.setState("open");
        ping = setInterval(() => { if (ws.readyState === WebSocket.OPEN) ws.send('{"type":"ping"}'); }, 20000);
        if (again) this.reload().catch(() => {});
        return;
      }
      this.onMessage(msg);
    };
    ws.onclose = (ev) => {
      clearInterval(ping);
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.closed) return;
      // 4001: the token was refused; 4004: revoked while open (account disabled, password
      // changed). Neither can succeed again: back to the login.
      if (ev.code === 4001 || ev.code === 4004) { this.setState("unauthorized"); return; }
      if (ev.code === 4030) { this.setState("forbidden"); return; }
      this.setState("reconnecting");
      const delay = this.hold ?? RECONNECT_DELAYS[Math.min(this.attempt, RECONNECT_DELAYS.length - 1)];
      this.hold = null;
      this.attempt += 1;
      setTimeout(() => this.connect(), delay);
    };
  }

  /** Drop the stream as a network fault would; reconnect after the usual delay or after
   * `holdMs` (diagnostics and tests). */
  dropConnection(holdMs = null) {
    this.hold = holdMs;
    this.ws?.close(4000, "client drop");
  }

  close() {
    this.closed = true;
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000);
  }

  newer(held, incoming) {
    return !held || held.version == null || incoming.version == null || incoming.version >= held.version;
  }

  onMessage(msg) {
    switch (msg.type) {
      case "incident.created":
      case "incident.updated": {
        const inc = msg.incident;
        if (!this.newer(this.incidents.get(inc.id), inc)) return;
        if (ACTIVE.includes(inc.status) || this.views.selected === inc.id) this.incidents.set(inc.id, inc);
        else this.incidents.delete(inc.id);
        break;
      }
      case "assignment.created":
      case "assignment.updated": {
        const a = msg.assignment;
        if (!this.newer(this.assignments.get(a.id), a)) return;
        this.assignments.set(a.id, a);
        if (a.status !== "dispatched") this.escalations.delete(a.id);
        if (!this.incidents.has(a.incident_id)) {
          api(`/api/incidents/${a.incident_id}`).then((d) => {
            this.incidents.set(d.incident.id, d.incident);
            this.render();
          }).catch(() => {});
        }
        break;
      }
      case "unit.status": {
        const u = msg.unit;
        if (!this.newer(this.units.get(u.id), u)) return;
        this.units.set(u.id, u);
        break;
      }
      case "beds.updated":
      case "hospital.accepting":
        this.hospitals.set(msg.hospital.id, msg.hospital);
        break;
      case "alert.created":
      case "alert.updated":
        if (msg.alert.status === "open") this.radioAlerts.set(msg.alert.id, msg.alert);
        else this.radioAlerts.delete(msg.alert.id);
        break;
      case "escalation":
        this.escalations.set(msg.assignment_id, msg);
        break;
      case "escalation.sms":
        // May arrive before or after its `escalation`: matched on the assignment id.
        this.smsEscalations.set(msg.assignment_id, msg);
        if (!this.escalations.has(msg.assignment_id)) {
          this.escalations.set(msg.assignment_id, { assignment_id: msg.assignment_id, incident_id: msg.incident_id,
                                                    unit_id: msg.unit_id, label: null, next_best: [] });
        }
        break;
      case "sms.failed":
        this.smsAlerts.set(`sms-failed-${msg.message_id ?? `${msg.assignment_id}-${msg.status}`}`, msg);
        break;
      case "sms.opt_out":
        this.smsAlerts.set(`sms-optout-${msg.message_id ?? msg.phone}`, msg);
        break;
      case "reminder":
        this.toast(tx(msg.label));
        break;
      default:
        this.views.onMessage(msg);
        return;
    }
    this.syncEscalations();
    this.render();
    this.views.onMessage(msg);
  }

  /** Escalations demand attention in the alert strip until the assignment moves on. */
  syncEscalations() {
    const keys = new Set();
    for (const [id, esc] of this.escalations) {
      const a = this.assignments.get(id);
      if (a && a.status !== "dispatched") { this.escalations.delete(id); continue; }
      const key = `escalation-${id}`;
      keys.add(key);
      const incident = this.incidents.get(esc.incident_id);
      const next = esc.next_best?.[0];
      const sms = this.smsEscalations.get(id);
      this.alerts.setEscalation(key, {
        title: () => t("alert.escalation", { number: incident?.number ?? esc.incident_id,
                                             unit: a?.unit.callsign ?? "" }),
        body: () => [esc.label ? tx(esc.label) : t("incidents.escalated"),
                     ...(sms ? [tx(sms.label), tx(sms.advice)] : [])].join(" — "),
        action: next
          ? { label: () => t("alert.assign_next", { unit: next.unit.callsign }),
              run: () => this.views.reassign(id, next.unit.id) }
          : { label: () => t("alert.open_incident"), run: () => this.views.select(esc.incident_id) },
      });
    }
    for (const id of this.smsEscalations.keys()) if (!this.escalations.has(id)) this.smsEscalations.delete(id);
    for (const [key, msg] of this.smsAlerts) {
      keys.add(key);
      const failed = msg.type === "sms.failed";
      const number = msg.number ?? this.incidents.get(msg.incident_id)?.number ?? "";
      this.alerts.setEscalation(key, {
        kind: failed ? "sms-failed" : "sms-opt-out",
        title: () => (failed ? t("alert.sms_failed", { number, unit: msg.callsign ?? "" })
                             : t("alert.sms_opt_out", { phone: msg.phone })),
        body: () => [tx(msg.label), failed ? tx(msg.advice) : ""].filter(Boolean).join(" — "),
        action: msg.incident_id != null
          ? { label: () => t("alert.open_incident"), run: () => this.views.select(msg.incident_id) } : null,
        dismiss: () => { this.smsAlerts.delete(key); this.syncEscalations(); this.render(); },
      });
    }
    for (const key of [...this.alerts.escalations.keys()]) {
      if ((key.startsWith("escalation-") || key.startsWith("sms-")) && !keys.has(key)) {
        this.alerts.setEscalation(key, null);
      }
    }
  }

  /** Incidents with an SMS failure not yet dismissed (the board flags them). */
  smsFailedIncidents() {
    return new Set([...this.smsAlerts.values()].filter((m) => m.type === "sms.failed").map((m) => m.incident_id));
  }

  /** A radio talkgroup's name (radio alerts carry its code). */
  talkgroupName(code) {
    return this.alerts.radio.talkgroups.get(code)?.name ?? code;
  }

  /** Assignments of one incident, oldest first. */
  assignmentsOf(incidentId) {
    return [...this.assignments.values()].filter((a) => a.incident_id === incidentId)
      .sort((a, b) => a.id - b.id);
  }

  /** Officers' positions (radio `location` messages, or the last known ones from REST). */
  officersMoved(list) {
    for (const pos of list) this.officers.set(pos.user.user_id, pos);
    if (list.length) this.resources.renderUnits();
  }

  render() {
    const active = [...this.incidents.values()].filter((i) => ACTIVE.includes(i.status));
    this.map.setIncidents(active, (id) => this.views.select(id));
    this.map.setUnits([...this.units.values()]);
    this.map.setHospitals([...this.hospitals.values()]);
    this.views.render();
    this.resources.render();
  }

  tick() {
    this.views.tick();
    this.resources.tick();
  }
}
