/**
 * The map: incidents, ambulances, officers, hospitals and kelurahan, on Leaflet (vendored,
 * global `L`).
 *
 * The base map is the city's own PMTiles archive when the server has one
 * (`pmtiles_url`: a vector street map read in byte ranges from the server, drawn by the
 * vendored protomaps-leaflet; both libraries are loaded only then), else tiles from the
 * server's `map_tile_url`. With neither (no internet, no local tile server), or an
 * archive that cannot be read, the map is still usable: kelurahan centres with names, and rough outlines
 * computed here (each kelurahan gets the part of a 1.6 km circle around its centre that
 * is closer to it than to any other centre: a clipped Voronoi cell). The outlines are
 * estimates and the map says so.
 *
 * Officers are placed from their last known position (`GET /api/radio/positions`, loaded
 * when the console opens) and then from live radio `location` messages. A position older
 * than `STALE_POSITION` is drawn grey, with its date and time: the officer may be
 * anywhere by now.
 */
import { t, onLangChange } from "./i18n.js";
import { dateTime, since, time } from "../shared/fmt.js";
import { h } from "../shared/dom.js";

const L = globalThis.L;
const CELL_RADIUS_KM = 1.6;
const CIRCLE_SIDES = 28;
/** Seconds after which an officer's position is stale: the officers' app reports every 30 s. */
export const STALE_POSITION = 5 * 60;

// Icons are inline SVG: a headless or minimal system may have no emoji font.
const AMBULANCE = '<svg viewBox="0 0 16 16" width="11" height="11"><path d="M6 2h4v4h4v4h-4v4H6v-4H2V6h4z" fill="#c62828"/></svg>';
const PERSON = '<svg viewBox="0 0 16 16" width="14" height="14"><circle cx="8" cy="4.5" r="3" fill="#1565c0"/><path d="M2 15c0-4 2.7-6 6-6s6 2 6 6z" fill="#1565c0"/></svg>';
const PIN = '<svg viewBox="0 0 16 16" width="14" height="14"><circle cx="8" cy="8" r="5" fill="none" stroke="#fff" stroke-width="2.5"/><circle cx="8" cy="8" r="1.6" fill="#fff"/></svg>';


export class ConsoleMap {
  constructor(el, { tileUrl = null, pmtilesUrl = null, attribution = "" } = {}) {
    this.el = el;
    this.offline = !tileUrl && !pmtilesUrl;
    this.map = L.map(el, { zoomControl: true, attributionControl: true, zoomSnap: 0.1 });
    this.map.setView([-7.7643, 113.2079], 13);
    /** @type {Promise<void>} settles when the base map is chosen (for tests). */
    this.baseReady = Promise.resolve();
    if (pmtilesUrl) {
      this.baseReady = this.addArchive(pmtilesUrl, attribution).catch((e) => {
        console.warn("base map archive unreadable", e);
        this.useTiles(tileUrl, attribution);
      });
    } else {
      this.useTiles(tileUrl, attribution);
    }
    this.layers = {
      kelurahan: L.layerGroup().addTo(this.map),
      hospitals: L.layerGroup().addTo(this.map),
      units: L.layerGroup().addTo(this.map),
      officers: L.layerGroup().addTo(this.map),
      incidents: L.layerGroup().addTo(this.map),
    };
    this.officers = new Map();   // user_id -> {pos, marker, stale}
    this.pick = null;            // the marker of a location being picked
    this.clickHandlers = [];
    this.userMoved = false;
    this.map.on("dragstart", () => { this.userMoved = true; });
    el.addEventListener("wheel", () => { this.userMoved = true; }, { passive: true });
    new ResizeObserver(() => this.invalidate()).observe(el);
    const zoomClass = () => el.classList.toggle("zoomed-out", this.map.getZoom() < 12.25);
    this.map.on("zoomend", zoomClass);
    zoomClass();
    this.map.on("click", (ev) => {
      for (const fn of this.clickHandlers) fn(ev.latlng);
    });
    this.control = null;
    this.buildControl();
    this.note = document.getElementById("map-note");
    this.showNote();
    onLangChange(() => {
      this.buildControl();
      this.showNote();
      for (const o of this.officers.values()) this.drawOfficer(o);
    });
  }

  buildControl() {
    if (this.control) this.control.remove();
    const names = {
      [t("map.layer.incidents")]: this.layers.incidents,
      [t("map.layer.units")]: this.layers.units,
      [t("map.layer.officers")]: this.layers.officers,
      [t("map.layer.hospitals")]: this.layers.hospitals,
      [t("map.layer.kelurahan")]: this.layers.kelurahan,
    };
    this.control = L.control.layers(null, names, { collapsed: true }).addTo(this.map);
  }

  /** Tiles from a tile server, or none: the offline map. */
  useTiles(tileUrl, attribution) {
    this.base = tileUrl ? "tiles" : "offline";
    this.offline = !tileUrl;
    this.el.classList.toggle("offline", this.offline);
    if (tileUrl) L.tileLayer(tileUrl, { attribution, maxZoom: 19 }).addTo(this.map);
    this.showNote();
  }

  /**
   * The city's PMTiles archive as the base layer. Its header says up to which zoom it has
   * data (beyond, protomaps-leaflet enlarges the deepest tiles); its metadata names the
   * map data's licence, which the map must credit.
   * @param {string} url
   * @param {string} attribution
   */
  async addArchive(url, attribution) {
    await loadScript("vendor/pmtiles/pmtiles.js");
    await loadScript("vendor/protomaps-leaflet/protomaps-leaflet.js");
    const archive = new globalThis.pmtiles.PMTiles(url);
    const header = await archive.getHeader();
    const metadata = /** @type {{attribution?: string}} */ (await archive.getMetadata()) ?? {};
    globalThis.protomapsL.leafletLayer({
      url, flavor: "light", lang: "id", maxDataZoom: header.maxZoom, maxZoom: 19,
      attribution: metadata.attribution || attribution,
    }).addTo(this.map).bringToBack();
    this.base = "pmtiles";
    this.offline = false;
    this.el.classList.remove("offline");
    this.el.dataset.base = "pmtiles";
    this.showNote();
  }

  showNote() {
    if (!this.note) return;
    this.note.hidden = !this.offline;
    this.note.textContent = t("map.offline_note");
  }

  onClick(fn) { this.clickHandlers.push(fn); }

  /** Kelurahan: centres, names and approximate outlines; fits the view to them. */
  setKelurahan(list) {
    this.kelurahan = list;
    const layer = this.layers.kelurahan;
    layer.clearLayers();
    if (!list.length) return;
    const cells = voronoiCells(list.map((k) => [k.lat, k.lon]), CELL_RADIUS_KM);
    list.forEach((k, i) => {
      L.polygon(cells[i], {
        color: "#5c6bc0", weight: 1, dashArray: "4 4", fillColor: "#c5cae9",
        fillOpacity: this.offline ? 0.25 : 0.05, interactive: false,
      }).addTo(layer);
      const dot = L.circleMarker([k.lat, k.lon], {
        radius: 3, color: "#3949ab", weight: 1, fillOpacity: 0.9, interactive: false,
      }).addTo(layer);
      dot.bindTooltip(h("span", null, k.name), { permanent: true, direction: "bottom", className: "kel-label", offset: [0, 6] });
    });
    this.home = L.latLngBounds(cells.flat().concat(list.map((k) => [k.lat, k.lon])));
    this.map.fitBounds(this.home);
  }

  /** The kelurahan whose centre is nearest to a point (an estimate: centres only). */
  nearestKelurahan(lat, lon) {
    if (!this.kelurahan?.length) return null;
    let best = null;
    let bestD = Infinity;
    for (const k of this.kelurahan) {
      const d = (k.lat - lat) ** 2 + ((k.lon - lon) * Math.cos((lat * Math.PI) / 180)) ** 2;
      if (d < bestD) { bestD = d; best = k; }
    }
    return best;
  }

  setHospitals(list) {
    const layer = this.layers.hospitals;
    layer.clearLayers();
    for (const h of list) {
      const free = (h.beds ?? []).reduce((n, b) => n + b.free, 0);
      const m = L.marker([h.lat, h.lon], { icon: badge("H", "hospital", h.accepting === false ? "closed" : "") });
      m.bindTooltip(tip(h.name, t("hospitals.free_beds", { n: free })));
      m.addTo(layer);
    }
  }

  setUnits(list) {
    const layer = this.layers.units;
    layer.clearLayers();
    for (const u of list) {
      if (u.lat == null || u.lon == null) continue;
      const status = String(u.status).toLowerCase();
      const m = L.marker([u.lat, u.lon], { icon: badge(AMBULANCE, "unit", status), title: u.callsign });
      m.bindTooltip(tip(u.callsign, t(`unit.status.${status}`)));
      m.addTo(layer);
    }
  }

  /**
   * An officer's position (a radio `location` message or an item of
   * `GET /api/radio/positions`). Returns false, and changes nothing, when the position is
   * older than the one already shown (a REST answer that crossed a live message).
   */
  setOfficer(pos) {
    const id = pos.user.user_id;
    let o = this.officers.get(id);
    if (o && Date.parse(pos.at) < Date.parse(o.pos.at)) return false;
    if (!o) {
      const marker = L.marker([pos.lat, pos.lon], { title: pos.user.unit || pos.user.name });
      marker.addTo(this.layers.officers);
      o = { pos, marker, stale: null };
      this.officers.set(id, o);
    }
    o.pos = pos;
    o.marker.setLatLng([pos.lat, pos.lon]);
    this.drawOfficer(o);
    return true;
  }

  /** Redraw an officer whose position has just become stale (call every few seconds). */
  tick(now = Date.now()) {
    for (const o of this.officers.values()) {
      if (isStale(o.pos, now) !== o.stale) this.drawOfficer(o, now);
    }
  }

  drawOfficer(o, now = Date.now()) {
    const { pos, marker } = o;
    o.stale = isStale(pos, now);
    marker.setIcon(badge(PERSON, "officer", o.stale ? "stale" : ""));
    const label = pos.user.unit || pos.user.name;
    const when = o.stale ? `${t("map.officer_stale")} ${dateTime(pos.at)}` : time(pos.at);
    marker.bindTooltip(tip(label, pos.user.name, when));
  }

  setIncidents(list, onSelect) {
    const layer = this.layers.incidents;
    layer.clearLayers();
    for (const i of list) {
      // A marker (not a vector circle) so that it sits above the ambulances.
      const m = L.marker([i.lat, i.lon], {
        icon: L.divIcon({ className: `map-incident ${i.triage}`, html: "<span>!</span>",
                          iconSize: [22, 22], iconAnchor: [11, 11] }),
        zIndexOffset: 1000, title: i.number,
      });
      m.bindTooltip(tip(i.number, t(`complaint.${i.complaint}`)));
      if (onSelect) m.on("click", (ev) => { L.DomEvent.stopPropagation(ev); onSelect(i.id); });
      m.addTo(layer);
    }
  }

  /** Show the location being entered on the intake form. */
  setPick(latlng) {
    if (!latlng) { this.pick?.remove(); this.pick = null; return; }
    if (!this.pick) this.pick = L.marker(latlng, { icon: badge(PIN, "pick", ""), zIndexOffset: 1000 }).addTo(this.map);
    this.pick.setLatLng(latlng);
  }

  focus(lat, lon) {
    this.map.panTo([lat, lon]);
  }

  /** The container changed size: redraw, and refit the city unless the user has moved. */
  invalidate() {
    this.map.invalidateSize();
    if (this.home && !this.userMoved) this.map.fitBounds(this.home);
  }
}

/**
 * Loads a vendored script once (the archive reader and renderer are needed only by a city
 * that has an archive, so the console does not load them otherwise).
 * @param {string} src
 * @returns {Promise<void>}
 */
function loadScript(src) {
  const known = scripts.get(src);
  if (known) return known;
  const loading = new Promise((resolve, reject) => {
    const el = h("script", { src });
    el.addEventListener("load", () => resolve());
    el.addEventListener("error", () => reject(new Error(`cannot load ${src}`)));
    document.head.append(el);
  });
  scripts.set(src, /** @type {Promise<void>} */ (loading));
  return /** @type {Promise<void>} */ (loading);
}
/** @type {Map<string, Promise<void>>} */
const scripts = new Map();

export function isStale(pos, now = Date.now()) {
  return since(pos.at, now) > STALE_POSITION;
}

/**
 * A tooltip's content: a bold first line, then one line each (text, never markup: Leaflet
 * would parse a string).
 * @param {string} title
 * @param {...string} lines
 */
function tip(title, ...lines) {
  return h("div", null, h("b", null, title), ...lines.flatMap((line) => [h("br"), line]));
}

/** A round map marker around one of the fixed icons above (`text` is our markup). */
function badge(text, kind, state) {
  const size = kind === "unit" ? 18 : 24;
  return L.divIcon({
    className: `map-badge ${kind} ${state}`,
    html: `<span>${text}</span>`,
    iconSize: [size, size],
    iconAnchor: [size / 2, size / 2],
  });
}

/**
 * For each centre, the polygon of points within `radiusKm` that are closer to it than to
 * any other centre. Local equirectangular projection (fine at city scale).
 * @param {Array<[number, number]>} centres [lat, lon]
 * @returns {Array<Array<[number, number]>>} one ring of [lat, lon] per centre
 */
export function voronoiCells(centres, radiusKm) {
  if (!centres.length) return [];
  const lat0 = centres.reduce((s, c) => s + c[0], 0) / centres.length;
  const lon0 = centres.reduce((s, c) => s + c[1], 0) / centres.length;
  const kx = 111.32 * Math.cos((lat0 * Math.PI) / 180);
  const ky = 110.57;
  const xy = centres.map(([lat, lon]) => [(lon - lon0) * kx, (lat - lat0) * ky]);
  return xy.map((p, i) => {
    let poly = [];
    for (let s = 0; s < CIRCLE_SIDES; s += 1) {
      const a = (2 * Math.PI * s) / CIRCLE_SIDES;
      poly.push([p[0] + radiusKm * Math.cos(a), p[1] + radiusKm * Math.sin(a)]);
    }
    xy.forEach((q, j) => {
      if (i === j || poly.length === 0) return;
      // Keep the side of the perpendicular bisector of p-q that contains p.
      const nx = q[0] - p[0];
      const ny = q[1] - p[1];
      const c = (nx * (p[0] + q[0])) / 2 + (ny * (p[1] + q[1])) / 2;
      poly = clip(poly, nx, ny, c);
    });
    return poly.map(([x, y]) => [y / ky + lat0, x / kx + lon0]);
  });
}

/** Sutherland–Hodgman: the part of `poly` where nx*x + ny*y <= c. */
function clip(poly, nx, ny, c) {
  const out = [];
  const inside = (v) => nx * v[0] + ny * v[1] <= c;
  for (let k = 0; k < poly.length; k += 1) {
    const a = poly[k];
    const b = poly[(k + 1) % poly.length];
    const ia = inside(a);
    const ib = inside(b);
    if (ia) out.push(a);
    if (ia !== ib) {
      const da = nx * a[0] + ny * a[1] - c;
      const db = nx * b[0] + ny * b[1] - c;
      const f = da / (da - db);
      out.push([a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1])]);
    }
  }
  return out;
}
