/**
 * On duty: the officer's position goes to the dispatchers every `interval` seconds
 * (Geolocation API, `location` messages) and the screen stays on (Screen Wake Lock API).
 *
 * Rules:
 * 1. Positions come from `watchPosition` (high accuracy); the latest fix is sent on each
 *    tick, and at once on the first fix and after every reconnect (`flush`). A tick with
 *    no connection sends nothing: the next one will.
 * 2. The wake lock is released by the browser when the page is hidden; it is asked for
 *    again when the page is visible, for as long as the officer is on duty.
 * 3. Both are optional: a phone without them still talks; `status` says why.
 *
 * Events: `change` (detail: {position, wakeLock, lastSent, fix}).
 */
export class Duty extends EventTarget {
  constructor({ send, interval = 30 }) {
    super();
    this.send = send;               // (lat, lon, accuracy) => Promise
    this.interval = interval;
    this.active = false;
    this.fix = null;                // {lat, lon, accuracy, at}
    this.position = "off";          // off | waiting | sent | denied | unavailable
    this.wakeLock = "off";          // on | off
    this.lastSent = null;
    this._watch = null;
    this._timer = null;
    this._lock = null;
    this._onVisible = () => { if (document.visibilityState === "visible") this._lockScreen(); };
  }

  start() {
    if (this.active) return;
    this.active = true;
    this.position = "waiting";
    if ("geolocation" in navigator) {
      this._watch = navigator.geolocation.watchPosition(
        (pos) => this._onFix(pos),
        (err) => this._onError(err),
        { enableHighAccuracy: true, maximumAge: 10000, timeout: 30000 });
    } else {
      this.position = "unavailable";
    }
    this._schedule();
    document.addEventListener("visibilitychange", this._onVisible);
    this._lockScreen();
    this._changed();
  }

  stop() {
    if (!this.active) return;
    this.active = false;
    if (this._watch !== null) navigator.geolocation.clearWatch(this._watch);
    this._watch = null;
    clearInterval(this._timer);
    document.removeEventListener("visibilitychange", this._onVisible);
    this._lock?.release().catch(() => {});
    this._lock = null;
    this.wakeLock = "off";
    this.position = "off";
    this._changed();
  }

  setInterval(seconds) {
    this.interval = seconds;
    if (this.active) this._schedule();
  }

  _schedule() {
    clearInterval(this._timer);
    this._timer = setInterval(() => this.flush(), this.interval * 1000);
  }

  _onFix(pos) {
    const first = this.fix === null;
    this.fix = { lat: pos.coords.latitude, lon: pos.coords.longitude,
                 accuracy: pos.coords.accuracy, at: new Date() };
    if (first) this.flush();
    else this._changed();
  }

  _onError(err) {
    this.position = err.code === 1 ? "denied" : (this.fix ? this.position : "unavailable");
    this._changed();
  }

  /** Send the latest fix now (first fix, reconnect, tick). */
  async flush() {
    if (!this.active || !this.fix) return;
    const { lat, lon, accuracy } = this.fix;
    try {
      await this.send(lat, lon, accuracy == null ? undefined : Math.round(accuracy));
      this.position = "sent";
      this.lastSent = new Date();
    } catch { /* not connected: the next tick or the reconnect sends it */ }
    this._changed();
  }

  /**
   * The best position for an emergency: a fresh fix if one comes within `timeoutMs`,
   * else the last one known (or null).
   */
  currentPosition(timeoutMs = 3000) {
    if (!("geolocation" in navigator)) return Promise.resolve(this.fix);
    return new Promise((resolve) => {
      navigator.geolocation.getCurrentPosition(
        (pos) => {
          this.fix = { lat: pos.coords.latitude, lon: pos.coords.longitude,
                       accuracy: pos.coords.accuracy, at: new Date() };
          resolve(this.fix);
        },
        () => resolve(this.fix),
        { enableHighAccuracy: true, maximumAge: 15000, timeout: timeoutMs });
    });
  }

  async _lockScreen() {
    if (!this.active || this._lock || !("wakeLock" in navigator)) {
      if (!("wakeLock" in navigator)) { this.wakeLock = "off"; this._changed(); }
      return;
    }
    try {
      const lock = await navigator.wakeLock.request("screen");
      this._lock = lock;
      this.wakeLock = "on";
      lock.addEventListener("release", () => {
        if (this._lock === lock) this._lock = null;
        this.wakeLock = "off";
        this._changed();
      });
    } catch {
      this.wakeLock = "off";
    }
    this._changed();
  }

  _changed() {
    this.dispatchEvent(new CustomEvent("change", { detail: {
      position: this.position, wakeLock: this.wakeLock, lastSent: this.lastSent, fix: this.fix,
    } }));
  }
}
