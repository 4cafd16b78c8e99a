/**
 * Putting data on the screen without letting it become markup, for both screens.
 *
 * Rule: text that users or the server supply (talkgroup and person names, messages,
 * addresses, notes) reaches the page as text, never as HTML. Three ways, all here:
 * - `h(tag, props, ...children)` builds an element; string children become text nodes.
 * - `html` templates (html`<b>${name}</b>`) escape every interpolated value, except the
 *   result of another `html` template (or an array of them), so markup is only ever what
 *   the template's own literal text says. `setHtml(el, markup)` puts one in the page;
 *   given a plain string it shows the string as text.
 * - `esc(value)` for the rare string that must be HTML (a third-party API taking markup).
 *
 * No other module of ours assigns `innerHTML` or `outerHTML` (`make lint` checks).
 */

/** @type {Record<string, string>} */
const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/**
 * `value` as HTML text: safe in element content and in quoted attribute values.
 * @param {unknown} value
 * @returns {string}
 */
export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** Markup built by `html`; its text is trusted because every value in it was escaped. */
export class Markup {
  /** @param {string} text */
  constructor(text) {
    this.text = text;
    Object.freeze(this);
  }

  toString() { return this.text; }
}

/**
 * What an `html` template or `setHtml` takes: markup, text, or (nested) arrays of them.
 * @typedef {Markup | string | number | boolean | null | undefined | Array<any>} Content
 */

/**
 * One interpolated value as HTML: markup as it is, arrays joined, null and undefined as
 * nothing, anything else escaped (`false` is "false", as in any template literal).
 * @param {Content} value
 * @returns {string}
 */
function fill(value) {
  if (value instanceof Markup) return value.text;
  if (Array.isArray(value)) return value.map(fill).join("");
  if (value == null) return "";
  return esc(value);
}

/**
 * A template literal tag: html`<td>${name}</td>` with `name` escaped.
 * @param {TemplateStringsArray} strings
 * @param {...Content} values
 * @returns {Markup}
 */
export function html(strings, ...values) {
  let out = strings[0];
  for (let i = 0; i < values.length; i += 1) out += fill(values[i]) + strings[i + 1];
  return new Markup(out);
}

/**
 * Replace the children of `el` with `content` (a `html` result, an array of them, or
 * text, which shows as text).
 * @param {Element} el
 * @param {Content} content
 */
export function setHtml(el, content) {
  el.innerHTML = fill(content);
}

/**
 * An element. `props`: `class`, `dataset` (an object), `on<event>` (a listener), element
 * properties (`type`, `title`, `hidden`, `disabled`, `value`…), else attributes; null,
 * undefined and false are left out. Children: nodes, or anything else as text.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, any> | null} [props]
 * @param {...(Node | string | number | null | undefined | false | Array<Node | string>)} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, props = null, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value == null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key in el && !key.includes("-")) el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** @type {ReturnType<typeof setTimeout> | undefined} */
let toastTimer;

/**
 * A short message in the page's `#toast` element for a few seconds.
 * @param {string} text
 * @param {string} [kind] "info", "error"… (the element's `data-kind`, for its style)
 */
export function toast(text, kind = "info", ms = 5000) {
  const el = document.getElementById("toast");
  if (!el) return;
  el.textContent = text;
  el.dataset.kind = kind;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, ms);
}

/**
 * The elements under `root` that match `selector`, as an array of HTMLElements.
 * @param {ParentNode} root
 * @param {string} selector
 * @returns {HTMLElement[]}
 */
export function all(root, selector) {
  return /** @type {HTMLElement[]} */ ([...root.querySelectorAll(selector)]);
}
