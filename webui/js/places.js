/**
 * The intake form's place search: what the caller says ("dekat RS Saleh", "Jl. Suroyo")
 * typed into one field, answered by the server's gazetteer (`GET /api/places/search`,
 * ranked there), shown as a short list to pick from with the mouse or the keyboard.
 *
 * Each result says what kind of place it is, its kelurahan and whether its position is
 * approximate; the source of the position is its tooltip. Typing waits for a short
 * pause before asking, and an answer to an older query is dropped, so the list always
 * matches the text in the field. Enter takes the best match for the text as typed.
 */
import { api } from "./api.js";
import { t } from "./i18n.js";
import { h } from "../shared/dom.js";

/**
 * @typedef {object} Place
 * @property {string} id
 * @property {string} name
 * @property {string} kind
 * @property {string} kelurahan
 * @property {number} lat
 * @property {number} lon
 * @property {boolean} approximate
 * @property {string} source
 */

/** Milliseconds of typing pause before a query is sent. */
const PAUSE_MS = 150;

export class PlaceSearch {
  /**
   * @param {HTMLFormElement} form the intake form, with an input `place` and a `.place-results` list
   * @param {(place: Place) => void} onChoose
   */
  constructor(form, onChoose) {
    this.input = /** @type {HTMLInputElement} */ (form.elements.namedItem("place"));
    this.list = /** @type {HTMLUListElement} */ (form.querySelector(".place-results"));
    this.onChoose = onChoose;
    /** @type {Place[]} */
    this.results = [];
    this.asked = 0;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.timer = undefined;
    this.input.addEventListener("input", () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.search(), PAUSE_MS);
    });
    this.input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") {
        ev.preventDefault();  // not the form's submit: the best match for the text as it is
        clearTimeout(this.timer);
        this.search({ chooseFirst: true });
      } else if (ev.key === "ArrowDown" && this.results.length) {
        ev.preventDefault();
        /** @type {HTMLButtonElement | null} */ (this.list.querySelector("button"))?.focus();
      } else if (ev.key === "Escape") {
        this.close();
      }
    });
  }

  /** @param {{chooseFirst?: boolean}} [options] take the best match at once (Enter) */
  async search({ chooseFirst = false } = {}) {
    const q = this.input.value.trim();
    const asked = ++this.asked;
    if (!q) { this.show([]); return; }
    try {
      const found = await api(`/api/places/search?q=${encodeURIComponent(q)}&limit=8`);
      if (asked !== this.asked) return;
      if (chooseFirst && found.length) this.choose(found[0]);
      else this.show(found);
    } catch (e) {
      if (asked === this.asked) this.show([], t("intake.place_error", { message: e.message }));
    }
  }

  /**
   * @param {Place[]} places
   * @param {string} [message] said instead of the list (no match, an error)
   */
  show(places, message = "") {
    this.results = places;
    const none = !places.length && this.input.value.trim() ? message || t("intake.place_none") : "";
    this.list.replaceChildren(
      ...places.map((p) => h("li", null, h("button", {
        type: "button", class: "place", title: p.source, dataset: { place: p.id },
        onclick: () => this.choose(p),
      }, h("b", null, p.name), " ", h("small", null, [
        t(`place.kind.${p.kind}`), p.kelurahan ? ` · ${p.kelurahan}` : "",
        p.approximate ? ` · ${t("intake.approximate")}` : "",
      ].join(""))))),
      ...(none ? [h("li", { class: "hint" }, none)] : []),
    );
    this.list.hidden = !places.length && !none;
  }

  /** The screen's language changed: say the listed results in it. */
  relabel() {
    if (this.results.length) this.show(this.results);
  }

  close() {
    this.asked += 1;  // an answer still on its way is no longer wanted
    this.results = [];
    this.list.replaceChildren();
    this.list.hidden = true;
  }

  /** @param {Place} place */
  choose(place) {
    clearTimeout(this.timer);
    this.input.value = place.name;
    this.close();
    this.onChoose(place);
  }
}
