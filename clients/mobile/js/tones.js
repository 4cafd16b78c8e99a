/**
 * Radio sounds synthesised with WebAudio (nothing to download or fail loading): the
 * talk-permit chirp on a grant, the busy tone on a refusal, a queued tone, and the
 * countdown pips of the emergency button. A phone must hear them while looking away.
 * The audio context and `beep()` are shared with the console (`/shared/tones.js`).
 *
 * `document.body.dataset.lastTone` names the last tone played (tests read it).
 */
import { beep } from "../../shared/tones.js";

export { unlock } from "../../shared/tones.js";

const GAIN = 0.25;  // the app's level: a little louder than the console's (0.2)

function play(name, fn) {
  document.body.dataset.lastTone = name;
  try { fn(); } catch { /* silent */ }
}

/** Talk permit: two short rising beeps ("go ahead"). */
export function permitTone() { play("permit", () => { beep(1200, 0, 0.06, GAIN); beep(1600, 0.08, 0.08, GAIN); }); }

/** Busy: three low beeps (denied, revoked). */
export function busyTone() {
  play("busy", () => { for (let i = 0; i < 3; i++) beep(480, i * 0.18, 0.12, GAIN, "square"); });
}

/** Queued: one long low tone ("wait for your turn"). */
export function queuedTone() { play("queued", () => beep(660, 0, 0.3, GAIN)); }

/** One pip per second of the emergency countdown; a long one when it fires. */
export function countdownPip(last = false) {
  play(last ? "emergency" : "pip", () => beep(last ? 1400 : 1000, 0, last ? 0.5 : 0.1, 0.3, "square"));
}
