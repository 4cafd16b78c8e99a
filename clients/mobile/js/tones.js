/**
 * Radio sounds synthesised with WebAudio (nothing to download or fail loading): the
 * talk-permit chirp on a grant, the busy tone on a refusal, a queued tone, and the
 * countdown pips of the emergency button. A phone must hear them while looking away.
 *
 * `document.body.dataset.lastTone` names the last tone played (tests read it).
 */
let ctx = null;

function audio() {
  if (!ctx) ctx = new AudioContext();
  if (ctx.state === "suspended") ctx.resume().catch(() => {});
  return ctx;
}

/** Call from a user gesture (sign-in, a PTT press) so that later sounds may play. */
export function unlock() {
  try { audio(); } catch { /* no WebAudio: silent */ }
}

function beep(freq, start, length, gain = 0.25, type = "sine") {
  const c = audio();
  const osc = c.createOscillator();
  const g = c.createGain();
  osc.type = type;
  osc.frequency.value = freq;
  const t0 = c.currentTime + start;
  g.gain.setValueAtTime(0, t0);
  g.gain.linearRampToValueAtTime(gain, t0 + 0.005);
  g.gain.setValueAtTime(gain, t0 + length - 0.01);
  g.gain.linearRampToValueAtTime(0, t0 + length);
  osc.connect(g).connect(c.destination);
  osc.start(t0);
  osc.stop(t0 + length + 0.02);
}

function play(name, fn) {
  document.body.dataset.lastTone = name;
  try { fn(); } catch { /* silent */ }
}

/** Talk permit: two short rising beeps ("go ahead"). */
export function permitTone() { play("permit", () => { beep(1200, 0, 0.06); beep(1600, 0.08, 0.08); }); }

/** Busy: three low beeps (denied, revoked). */
export function busyTone() {
  play("busy", () => { for (let i = 0; i < 3; i++) beep(480, i * 0.18, 0.12, 0.25, "square"); });
}

/** Queued: one long low tone ("wait for your turn"). */
export function queuedTone() { play("queued", () => beep(660, 0, 0.3)); }

/** One pip per second of the emergency countdown; a long one when it fires. */
export function countdownPip(last = false) {
  play(last ? "emergency" : "pip", () => beep(last ? 1400 : 1000, 0, last ? 0.5 : 0.1, 0.3, "square"));
}
