/**
 * An emergency raised without a connection, kept until it is sent.
 *
 * Rules:
 * 1. The emergency button never does nothing: when the radio is not connected, the
 *    emergency is kept here (localStorage, per user, so a reload or a closed tab keeps it)
 *    with the time the officer pressed the button, and sent with that time (`raised_at`)
 *    as soon as the radio is connected again.
 * 2. While it waits, the officer is offered an SMS to the command centre (an `sms:` link
 *    with a prepared text and the last known position). The number comes from the server
 *    (`command_centre_phone` in the radio's welcome), kept here for when the radio is down.
 * 3. The SMS text is in Bahasa Indonesia whatever the screen's language (the command
 *    centre reads it), and in GSM-7 characters only, to fit one or two SMS parts.
 */

const PENDING_KEY = "siaga.app.pending_emergency.";
const PHONE_KEY = "siaga.app.command_centre_phone";

/**
 * @typedef {object} PendingEmergency
 * @property {string | null} talkgroup
 * @property {string | null} talkgroupName
 * @property {string} raisedAt ISO 8601 (UTC)
 * @property {number | null} lat
 * @property {number | null} lon
 * @property {number | null} accuracy
 * @property {{name: string, unit?: string | null} | null} [who] the officer, when known
 */

/** @param {string} user @returns {PendingEmergency | null} */
export function loadPending(user) {
  try { return JSON.parse(localStorage.getItem(PENDING_KEY + user) || "null"); } catch { return null; }
}

/** @param {string} user @param {PendingEmergency} pending */
export function keepPending(user, pending) {
  localStorage.setItem(PENDING_KEY + user, JSON.stringify(pending));
}

/** @param {string} user */
export function dropPending(user) { localStorage.removeItem(PENDING_KEY + user); }

/** @param {string | null | undefined} phone from `welcome` (null: none configured) */
export function rememberPhone(phone) {
  if (phone) localStorage.setItem(PHONE_KEY, phone);
  else localStorage.removeItem(PHONE_KEY);
}

/** @returns {string | null} */
export function commandCentrePhone() { return localStorage.getItem(PHONE_KEY); }

/** "07/12 21:03:11 WIB": the date too, since an emergency may wait past midnight. */
function wib(iso) {
  const d = new Date(new Date(iso).getTime() + 7 * 3600 * 1000);
  const two = (n) => String(n).padStart(2, "0");
  return `${two(d.getUTCDate())}/${two(d.getUTCMonth() + 1)} ${two(d.getUTCHours())}:`
    + `${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} WIB`;
}

/**
 * The prepared SMS text (rule 3).
 * @param {PendingEmergency} pending
 */
export function smsText(pending) {
  const who = pending.who ?? null;
  const name = who ? (who.unit ? `${who.name} (${who.unit})` : who.name) : "petugas";
  const lines = [`DARURAT Siaga: ${name}`];
  if (pending.talkgroupName) lines.push(`Kanal ${pending.talkgroupName}`);
  lines.push(`Ditekan ${wib(pending.raisedAt)}`);
  if (pending.lat != null && pending.lon != null) {
    const lat = pending.lat.toFixed(5);
    const lon = pending.lon.toFixed(5);
    const accuracy = pending.accuracy != null ? ` (+/-${Math.round(pending.accuracy)} m)` : "";
    lines.push(`Posisi terakhir ${lat},${lon}${accuracy}`);
    lines.push(`https://maps.google.com/?q=${lat},${lon}`);
  } else {
    lines.push("Posisi tidak diketahui");
  }
  lines.push("Radio tidak tersambung.");
  return lines.join("\n");
}

/** An `sms:` link to `phone` with `body` prepared (RFC 5724). */
export function smsLink(phone, body) {
  return `sms:${phone}?body=${encodeURIComponent(body)}`;
}
