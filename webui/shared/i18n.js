/**
 * Translation for both screens, the dispatcher console and the officers' app: the
 * mechanism is here, each screen brings only its dictionaries (`addDictionaries`).
 *
 * Rules:
 * 1. Bahasa Indonesia first: the language is "id" unless the user chose English. The
 *    choice is kept in localStorage under `siaga.lang`, so both screens of one server
 *    follow it.
 * 2. `t(key, params)` looks a key up in the current language, fills {name} placeholders
 *    from params, falls back to Indonesian, then to the key itself: a missing key is
 *    visible, never blank.
 * 3. Static markup names its key in `data-i18n` (text), `data-i18n-placeholder`,
 *    `data-i18n-title` or `data-i18n-aria-label`; `applyI18n()` fills them. Code that
 *    renders re-renders on `onLangChange`.
 * 4. Server texts arrive as {id, en} pairs: `tx(pair)`.
 *
 * Every result is plain text: put it in the page with `textContent` or the helpers of
 * `dom.js`, never as markup (a placeholder may hold a talkgroup or a person's name).
 */

/** @typedef {"id" | "en"} Lang */
/** @typedef {Record<string, string>} Dictionary */

const LANG_KEY = "siaga.lang";

/** @type {Record<Lang, Dictionary>} */
const DICT = { id: {}, en: {} };

/** @type {Set<(lang: Lang) => void>} */
const listeners = new Set();

/** @type {Lang} */
let lang = (() => {
  try { return localStorage.getItem(LANG_KEY) === "en" ? "en" : "id"; } catch { return "id"; }
})();

/**
 * Add a screen's strings (called once by each screen's dictionary module).
 * @param {{id: Dictionary, en: Dictionary}} dictionaries
 */
export function addDictionaries({ id, en }) {
  Object.assign(DICT.id, id);
  Object.assign(DICT.en, en);
}

/** @returns {Lang} */
export function getLang() { return lang; }

/** @param {string} value "en" for English; anything else is Indonesian. */
export function setLang(value) {
  lang = value === "en" ? "en" : "id";
  try { localStorage.setItem(LANG_KEY, lang); } catch { /* private mode */ }
  document.documentElement.lang = lang;
  for (const fn of listeners) fn(lang);
}

export function toggleLang() { setLang(lang === "id" ? "en" : "id"); }

/** @param {(lang: Lang) => void} fn called after every language change */
export function onLangChange(fn) { listeners.add(fn); }

/**
 * @param {string} key
 * @param {Record<string, unknown>} [params] values for the {name} placeholders
 * @returns {string}
 */
export function t(key, params = {}) {
  const text = DICT[lang][key] ?? DICT.id[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
}

/** Whether `key` has a text (codes the server may add are not in the dictionaries yet). */
export function has(key) {
  return key in DICT[lang] || key in DICT.id;
}

/**
 * `t(key)` if the dictionary has the key, else `fallback`.
 * @param {string} key
 * @param {string} fallback
 */
export function tOr(key, fallback) {
  return has(key) ? t(key) : fallback;
}

/**
 * A server text in the current language.
 * @param {{id?: string, en?: string} | null | undefined} pair
 */
export function tx(pair) {
  if (!pair) return "";
  return (lang === "en" ? pair.en : pair.id) ?? pair.id ?? "";
}

/**
 * Fill the `data-i18n*` attributes under `root` (and set the page's language).
 * @param {ParentNode} [root]
 */
export function applyI18n(root = document) {
  document.documentElement.lang = lang;
  for (const el of root.querySelectorAll("[data-i18n]")) {
    el.textContent = t(/** @type {HTMLElement} */ (el).dataset.i18n);
  }
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) {
    const input = /** @type {HTMLInputElement} */ (el);
    input.placeholder = t(input.dataset.i18nPlaceholder);
  }
  for (const el of root.querySelectorAll("[data-i18n-title]")) {
    const node = /** @type {HTMLElement} */ (el);
    node.title = t(node.dataset.i18nTitle);
  }
  for (const el of root.querySelectorAll("[data-i18n-aria-label]")) {
    el.setAttribute("aria-label", t(/** @type {HTMLElement} */ (el).dataset.i18nAriaLabel));
  }
}

/** Every key (tests look for keys shown untranslated). */
export function allKeys() {
  return [...new Set([...Object.keys(DICT.id), ...Object.keys(DICT.en)])];
}

/** Keys present in one language and missing in the other (a test checks this is empty). */
export function missingKeys() {
  const id = Object.keys(DICT.id);
  const en = Object.keys(DICT.en);
  return { en: id.filter((k) => !(k in DICT.en)), id: en.filter((k) => !(k in DICT.id)) };
}
