/**
 * Units and hospitals boards: ambulance status with how long it has held it, officers'
 * radio positions with their age (stale after `STALE_POSITION`, as on the map), and
 * hospital beds with the age of each count (bed counts go stale; a count older than an
 * hour is marked).
 */
import { api } from "./api.js";
import { t, tx, tOr } from "./i18n.js";
import { esc, duration, since, time } from "./fmt.js";
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
    let html = `<h2>${esc(t("units.title"))}</h2>`;
    if (!this.d.enabled) html += `<p class="empty">${esc(t("incidents.unavailable"))}</p>`;
    else if (!units.length) html += `<p class="empty">${esc(t("units.none"))}</p>`;
    else {
      html += `<table class="units"><thead><tr><th>${esc(t("units.col.unit"))}</th><th>${esc(t("units.col.type"))}</th>
        <th>${esc(t("units.col.status"))}</th><th>${esc(t("units.col.since"))}</th><th>${esc(t("units.col.incident"))}</th>
        <th>${esc(t("units.col.position"))}</th><th></th></tr></thead><tbody>`;
      for (const u of units) {
        const pos = u.position_at ? t("units.ago", { t: duration(since(u.position_at)) }) : "—";
        const busy = u.assignment_id != null;
        const toggle = busy ? "" : `<button type="button" class="link unit-service" data-in="${u.status === "out_of_service"}">${
          esc(u.status === "out_of_service" ? t("units.in_service") : t("units.out_of_service"))}</button>`;
        html += `<tr data-unit-id="${u.id}" data-callsign="${esc(u.callsign)}" data-status="${esc(u.status)}">
          <td><b>${esc(u.callsign)}</b><br><small>${esc(u.home_kelurahan ?? "")}</small></td>
          <td>${esc(tOr(`unit.type.${u.type}`, u.type))}</td>
          <td><span class="unit-status ${esc(u.status)}">${esc(tx(u.status_label))}</span></td>
          <td class="age" data-since="${esc(u.status_changed_at ?? "")}">${u.status_changed_at ? duration(since(u.status_changed_at)) : "—"}</td>
          <td>${esc(u.incident_number ?? "")}</td>
          <td class="pos-age" data-since="${esc(u.position_at ?? "")}">${esc(pos)}</td>
          <td>${toggle}</td></tr>`;
      }
      html += "</tbody></table>";
    }
    html += `<h3>${esc(t("units.officers"))}</h3>`;
    const officers = [...this.d.officers.values()];
    if (!officers.length) html += `<p class="hint">${esc(t("units.officers_none"))}</p>`;
    else {
      html += `<ul class="officers">`;
      for (const p of officers) {
        html += `<li data-user-id="${p.user.user_id}" data-at="${esc(p.at)}" data-stale="${isStale(p)}"><b>${esc(p.user.unit ?? p.user.name)}</b> ${esc(p.user.name)}
          · ${p.lat.toFixed(5)}, ${p.lon.toFixed(5)}${p.accuracy != null ? ` ±${Math.round(p.accuracy)} m` : ""}
          · <span class="pos-age" data-since="${esc(p.at)}">${esc(t("units.ago", { t: duration(since(p.at)) }))}</span>
          <small>(${esc(time(p.at))})</small> <span class="badge grey">${esc(t("units.position_stale"))}</span></li>`;
      }
      html += "</ul>";
    }
    this.unitsPane.innerHTML = html;
    for (const b of this.unitsPane.querySelectorAll(".unit-service")) {
      const id = Number(b.closest("tr").dataset.unitId);
      b.addEventListener("click", () => {
        api(`/api/units/${id}/service`, { method: "POST", body: { in_service: b.dataset.in === "true" } })
          .then((u) => { this.d.units.set(u.id, u); this.d.render(); })
          .catch((e) => this.d.toast(t("detail.error", { message: e.message })));
      });
    }
  }

  renderHospitals() {
    let html = `<h2>${esc(t("hospitals.title"))}</h2>`;
    const hospitals = [...this.d.hospitals.values()].sort((a, b) => a.name.localeCompare(b.name));
    if (!this.d.enabled) html += `<p class="empty">${esc(t("incidents.unavailable"))}</p>`;
    else if (!hospitals.length) html += `<p class="empty">${esc(t("hospitals.none"))}</p>`;
    for (const h of hospitals) {
      html += `<section class="hospital" data-hospital-id="${h.id}" data-accepting="${h.accepting}">
        <h3>${esc(h.name)} <small>(${esc(h.hospital_class)})</small></h3>
        <p class="${h.accepting ? "ok" : "warn"}">${esc(h.accepting ? t("hospitals.accepting") : t("hospitals.diverting"))}
          ${h.phone ? ` · <a href="tel:${esc(h.phone)}">${esc(h.phone)}</a>` : ""}</p>
        <table class="beds"><tbody>`;
      for (const b of h.beds) {
        const age = since(b.updated_at);
        html += `<tr data-category="${esc(b.category)}" data-stale="${age > STALE_BEDS}">
          <th>${esc(tx(b.label))}</th><td class="${b.free === 0 ? "full" : ""}">${esc(t("hospitals.bed", { free: b.free, total: b.total }))}</td>
          <td class="age" data-since="${esc(b.updated_at)}">${esc(t("hospitals.updated", { t: duration(age) }))}</td>
          <td>${age > STALE_BEDS ? `<span class="badge amber">${esc(t("hospitals.stale"))}</span>` : ""}</td></tr>`;
      }
      html += "</tbody></table></section>";
    }
    this.hospitalsPane.innerHTML = html;
  }

  tick() {
    for (const el of this.unitsPane.querySelectorAll("td.age[data-since]")) {
      if (el.dataset.since) el.textContent = duration(since(el.dataset.since));
    }
    for (const el of document.querySelectorAll(".pos-age[data-since]")) {
      if (el.dataset.since) el.textContent = t("units.ago", { t: duration(since(el.dataset.since)) });
    }
    for (const el of this.unitsPane.querySelectorAll(".officers li[data-at]")) {
      el.dataset.stale = String(isStale({ at: el.dataset.at }));
    }
    for (const el of this.hospitalsPane.querySelectorAll("td.age[data-since]")) {
      el.textContent = t("hospitals.updated", { t: duration(since(el.dataset.since)) });
    }
  }
}
