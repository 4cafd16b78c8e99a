/**
 * WebAudio for the radio sounds of both screens, the dispatcher console and the officers'
 * app: one audio context per page and `beep()`, the shaped tone burst every chirp, busy
 * tone and pip is made of. Sounds are synthesised, so there is no audio file to ship or
 * to fail loading.
 *
 * Browsers start an AudioContext suspended until a user gesture: call `unlock()` from
 * one (a click, a tap) so that later sounds, which play on server messages, are heard.
 * Every function here may throw where WebAudio is missing; callers stay silent then.
 */
let ctx = null;

/** The page's audio context, created on first use and resumed if the browser suspended it. */
export function audioContext() {
  if (!ctx) ctx = new AudioContext();
  if (ctx.state === "suspended") ctx.resume().catch(() => {});
  return ctx;
}

/** Call from a user gesture (sign-in, a click, a PTT press) so that later sounds may play. */
export function unlock() {
  try { audioContext(); } catch { /* no WebAudio: the page stays silent */ }
}

/**
 * One tone of `freq` Hz, `start` seconds from now, lasting `length` seconds, with 5 ms
 * and 10 ms ramps so that it starts and stops without a click.
 */
export function beep(freq, start, length, gain = 0.2, type = "sine") {
  const c = audioContext();
  const osc = c.createOscillator();
  const g = c.createGain();
  osc.type = type;
  osc.frequency.value = freq;
  const t = c.currentTime + start;
  g.gain.setValueAtTime(0, t);
  g.gain.linearRampToValueAtTime(gain, t + 0.005);
  g.gain.setValueAtTime(gain, t + length - 0.01);
  g.gain.linearRampToValueAtTime(0, t + length);
  osc.connect(g).connect(c.destination);
  osc.start(t);
  osc.stop(t + length + 0.02);
}

/** For tests and diagnostics: the audio context's state, or "none" before the first use. */
export function contextState() {
  return ctx ? ctx.state : "none";
}
