/**
 * Times and numbers as people read them, for both screens: every time in WIB
 * (Asia/Jakarta), whatever the browser's or the phone's own time zone; the server sends
 * UTC ISO 8601. Formats follow the language of `i18n.js` (id-ID or en-GB).
 */
import { getLang } from "./i18n.js";

const TZ = "Asia/Jakarta";
const cache = new Map();

/** @param {"time" | "short" | "date"} kind */
function formatter(kind) {
  const lang = getLang();
  const key = `${lang}:${kind}`;
  if (!cache.has(key)) {
    const locale = lang === "id" ? "id-ID" : "en-GB";
    /** @type {Intl.DateTimeFormatOptions} */
    const opts = kind === "time"
      ? { timeZone: TZ, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false }
      : kind === "short"
        ? { timeZone: TZ, hour: "2-digit", minute: "2-digit", hour12: false }
        : { timeZone: TZ, day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hour12: false };
    cache.set(key, new Intl.DateTimeFormat(locale, opts));
  }
  return cache.get(key);
}

/** @typedef {Date | string | number | null | undefined} TimeLike */

/** @param {TimeLike} value a Date, an ISO 8601 string or epoch milliseconds */
export function toDate(value) {
  if (value == null) return null;
  return value instanceof Date ? value : new Date(value);
}

/**
 * "14:05:09 WIB", or "14:05 WIB" with `seconds: false`.
 * @param {TimeLike} value
 */
export function time(value, { seconds = true } = {}) {
  const d = toDate(value);
  return d ? `${formatter(seconds ? "time" : "short").format(d)} WIB` : "";
}

/**
 * "14:05" (no zone: for dense tables whose header says WIB)
 * @param {TimeLike} value
 */
export function shortTime(value) {
  const d = toDate(value);
  return d ? formatter("short").format(d) : "";
}

/**
 * "28 Nov 14:05 WIB"
 * @param {TimeLike} value
 */
export function dateTime(value) {
  const d = toDate(value);
  return d ? `${formatter("date").format(d)} WIB` : "";
}

/**
 * A running clock: "0:42", "12:05", "1:02:09".
 * @param {number} seconds
 */
export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/**
 * Seconds since `value` at `now` (ms).
 * @param {TimeLike} value
 */
export function since(value, now = Date.now()) {
  const d = toDate(value);
  return d ? (now - d.getTime()) / 1000 : 0;
}

/**
 * Indonesian mobile/landline numbers to E.164: 0812… / 62812… / +62812… → +62812…;
 * null if not valid.
 * @param {unknown} raw
 */
export function e164(raw) {
  const digits = String(raw ?? "").replace(/[\s\-().]/g, "");
  let n = digits;
  if (n.startsWith("+")) n = n.slice(1);
  else if (n.startsWith("0")) n = "62" + n.slice(1);
  if (!/^62[1-9]\d{6,11}$/.test(n)) return null;
  return "+" + n;
}
