/**
 * Console sounds, synthesised with WebAudio (no audio files to ship or to fail loading):
 * the talk-permit chirp on a floor grant, the busy tone on a denial, and the emergency
 * alarm, which sounds until every emergency is acknowledged. The audio context and
 * `beep()` are shared with the officers' app (`/shared/tones.js`).
 *
 * `document.body.dataset.alarm` is "on" while the alarm sounds: the screen styles itself
 * from it and tests read it.
 */
import { audioContext, beep } from "../shared/tones.js";

export { contextState, unlock } from "../shared/tones.js";

/** Talk permit: two short rising beeps ("you may speak"). */
export function permitTone() {
  try { beep(1200, 0, 0.06); beep(1600, 0.08, 0.08); } catch { /* silent */ }
}

/** Busy / denied: three low beeps. */
export function busyTone() {
  try { for (let i = 0; i < 3; i += 1) beep(420, i * 0.18, 0.12, 0.2, "square"); } catch { /* silent */ }
}

/** End of a talk burst heard from others (a short low "roger" blip). */
export function endTone() {
  try { beep(900, 0, 0.05, 0.08); } catch { /* silent */ }
}

/** A call waited too long for a unit: three rising high beeps, twice. */
export function overdueTone() {
  try {
    for (let r = 0; r < 2; r += 1) {
      for (let i = 0; i < 3; i += 1) beep(1400 + i * 200, r * 0.9 + i * 0.15, 0.1, 0.22);
    }
  } catch { /* silent */ }
}

class Alarm {
  constructor() {
    this.nodes = null;
    this.timer = null;
  }

  get on() { return this.nodes !== null; }

  /** A two-tone siren (850/1250 Hz alternating every 0.4 s) until stop(). */
  start() {
    if (this.nodes) return;
    document.body.dataset.alarm = "on";
    try {
      const c = audioContext();
      const osc = c.createOscillator();
      const g = c.createGain();
      osc.type = "triangle";
      g.gain.value = 0.18;
      osc.connect(g).connect(c.destination);
      let high = false;
      const step = () => {
        high = !high;
        osc.frequency.setValueAtTime(high ? 1250 : 850, c.currentTime);
      };
      step();
      osc.start();
      this.timer = setInterval(step, 400);
      this.nodes = { osc, g };
    } catch {
      this.nodes = {};  // no WebAudio: the visual alarm still runs
    }
  }

  stop() {
    if (!this.nodes) return;
    clearInterval(this.timer);
    try { this.nodes.osc?.stop(); this.nodes.g?.disconnect(); } catch { /* already stopped */ }
    this.nodes = null;
    document.body.dataset.alarm = "off";
  }
}

export const alarm = new Alarm();
