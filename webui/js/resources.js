/**
 * Units and hospitals boards: ambulance status with how long it has held it, officers'
 * radio positions with their age (stale after `STALE_POSITION`, as on the map), and
 * hospital beds with the age of each count (bed counts go stale; a count older than an
 * hour is marked).
 */
import { api } from "./api.js";
import { t, tx, tOr } from "./i18n.js";
import { duration, since, time } from "../shared/fmt.js";
import { all, html, setHtml } from "../shared/dom.js";
import { isStale } from "./map.js";

const STALE_BEDS = 3600;         // seconds
const STATUS_ORDER = ["dispatched", "acknowledged", "en_route", "on_scene", "transporting",
                      "at_hospital", "available", "out_of_service"];

export class ResourceViews {
  constructor(dispatch) {
    this.d = dispatch;
    this.unitsPane = document.getElementById("units-pane");
    this.hospitalsPane = document.getElementById("hospitals-pane");
  }

  render() {
    this.renderUnits();
    this.renderHospitals();
  }

  renderUnits() {
    const units = [...this.d.units.values()].sort((a, b) =>
      STATUS_ORDER.indexOf(a.status) - STATUS_ORDER.indexOf(b.status) || a.callsign.localeCompare(b.callsign));
    const parts = [html`<h2>${t("units.title")}</h2>`];
    if (!this.d.enabled) parts.push(html`<p class="empty">${t("incidents.unavailable")}</p>`);
    else if (!units.length) parts.push(html`<p class="empty">${t("units.none")}</p>`);
    else {
      const rows = units.map((u) => {
        const pos = u.position_at ? t("units.ago", { t: duration(since(u.position_at)) }) : "—";
        const busy = u.assignment_id != null;
        // A busy unit can be withdrawn from its job (its crew is told by SMS).
        const toggle = html`<button type="button" class="link unit-service" data-in="${u.status === "out_of_service"}"
          data-busy="${busy}">${u.status === "out_of_service" ? t("units.in_service")
            : busy ? t("units.withdraw") : t("units.out_of_service")}</button>${u.out_of_service_by
            ? html`<br><small>${t("units.held_by", { who: t(`units.authority.${u.out_of_service_by}`) })}</small>` : ""}`;
        return html`<tr data-unit-id="${u.id}" data-callsign="${u.callsign}" data-status="${u.status}">
          <td><b>${u.callsign}</b><br><small>${u.home_kelurahan ?? ""}</small></td>
          <td>${tOr(`unit.type.${u.type}`, u.type)}</td>
          <td><span class="unit-status ${u.status}">${tx(u.status_label)}</span></td>
          <td class="age" data-since="${u.status_changed_at ?? ""}">${u.status_changed_at ? duration(since(u.status_changed_at)) : "—"}</td>
          <td>${u.incident_number ?? ""}</td>
          <td class="pos-age" data-since="${u.position_at ?? ""}">${pos}</td>
          <td>${toggle}</td></tr>`;
      });
      parts.push(html`<table class="units"><thead><tr><th>${t("units.col.unit")}</th><th>${t("units.col.type")}</th>
        <th>${t("units.col.status")}</th><th>${t("units.col.since")}</th><th>${t("units.col.incident")}</th>
        <th>${t("units.col.position")}</th><th></th></tr></thead><tbody>${rows}</tbody></table>`);
    }
    parts.push(html`<h3>${t("units.officers")}</h3>`);
    const officers = [...this.d.officers.values()];
    if (!officers.length) parts.push(html`<p class="hint">${t("units.officers_none")}</p>`);
    else {
      parts.push(html`<ul class="officers">${officers.map((p) => html`<li data-user-id="${p.user.user_id}" data-at="${p.at}" data-stale="${isStale(p)}"><b>${p.user.unit ?? p.user.name}</b> ${p.user.name}
          · ${p.lat.toFixed(5)}, ${p.lon.toFixed(5)}${p.accuracy != null ? ` ±${Math.round(p.accuracy)} m` : ""}
          · <span class="pos-age" data-since="${p.at}">${t("units.ago", { t: duration(since(p.at)) })}</span>
          <small>(${time(p.at)})</small> <span class="badge grey">${t("units.position_stale")}</span></li>`)}</ul>`);
    }
    setHtml(this.unitsPane, parts);
    for (const b of all(this.unitsPane, ".unit-service")) {
      const button = /** @type {HTMLButtonElement} */ (b);
      const id = Number(button.closest("tr").dataset.unitId);
      button.addEventListener("click", () => {
        if (button.dataset.busy === "true" && !window.confirm(t("units.withdraw_confirm"))) return;
        api(`/api/units/${id}/service`, { method: "POST", body: { in_service: button.dataset.in === "true" } })
          .then((u) => { this.d.units.set(u.id, u); this.d.render(); })
          .catch((e) => this.d.toast(t("detail.error", { message: e.message })));
      });
    }
  }

  renderHospitals() {
    const parts = [html`<h2>${t("hospitals.title")}</h2>`];
    const hospitals = [...this.d.hospitals.values()].sort((a, b) => a.name.localeCompare(b.name));
    if (!this.d.enabled) parts.push(html`<p class="empty">${t("incidents.unavailable")}</p>`);
    else if (!hospitals.length) parts.push(html`<p class="empty">${t("hospitals.none")}</p>`);
    for (const h of hospitals) {
      const beds = h.beds.map((b) => {
        const age = since(b.updated_at);
        return html`<tr data-category="${b.category}" data-stale="${age > STALE_BEDS}">
          <th>${tx(b.label)}</th><td class="${b.free === 0 ? "full" : ""}">${t("hospitals.bed", { free: b.free, total: b.total })}</td>
          <td class="age" data-since="${b.updated_at}">${t("hospitals.updated", { t: duration(age) })}</td>
          <td>${age > STALE_BEDS ? html`<span class="badge amber">${t("hospitals.stale")}</span>` : ""}</td></tr>`;
      });
      parts.push(html`<section class="hospital" data-hospital-id="${h.id}" data-accepting="${h.accepting}">
        <h3>${h.name} <small>(${h.hospital_class})</small></h3>
        <p class="${h.accepting ? "ok" : "warn"}">${h.accepting ? t("hospitals.accepting") : t("hospitals.diverting")}
          ${h.phone ? html` · <a href="tel:${h.phone}">${h.phone}</a>` : ""}</p>
        <table class="beds"><tbody>${beds}</tbody></table></section>`);
    }
    setHtml(this.hospitalsPane, parts);
  }

  tick() {
    for (const el of all(this.unitsPane, "td.age[data-since]")) {
      if (el.dataset.since) el.textContent = duration(since(el.dataset.since));
    }
    for (const el of all(document, ".pos-age[data-since]")) {
      if (el.dataset.since) el.textContent = t("units.ago", { t: duration(since(el.dataset.since)) });
    }
    for (const el of all(this.unitsPane, ".officers li[data-at]")) {
      el.dataset.stale = String(isStale({ at: el.dataset.at }));
    }
    for (const el of all(this.hospitalsPane, "td.age[data-since]")) {
      el.textContent = t("hospitals.updated", { t: duration(since(el.dataset.since)) });
    }
  }
}
