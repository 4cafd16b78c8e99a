/**
 * The dispatch stream socket (`/api/dispatch/stream`) shared by the dispatcher console and
 * the hospital screen: the token as the first message, a ping every 20 s, and reconnection
 * with a growing delay until closed.
 *
 * States (`onState`): connecting, open, reconnecting, unauthorized (4001: sign in again),
 * forbidden (4030: this role gets no stream). `onWelcome(again)` is called on every
 * `welcome`, with `again` true after a reconnection (the caller reloads from REST then);
 * every other message goes to `onMessage`.
 */
import { auth } from "./api.js";

const RECONNECT_DELAYS = [500, 1000, 2000, 5000, 10000];

export class StreamSocket {
  /**
   * @param {{onState: (state: string) => void, onWelcome: (again: boolean) => void,
   *          onMessage: (msg: any) => void}} handlers
   */
  constructor({ onState, onWelcome, onMessage }) {
    this.onState = onState;
    this.onWelcome = onWelcome;
    this.onMessage = onMessage;
    /** @type {WebSocket | null} */
    this.ws = null;
    this.attempt = 0;
    this.wasOpen = false;
    this.closed = false;
    /** @type {number | null} */
    this.hold = null;
  }

  connect() {
    if (this.closed || this.ws) return;
    this.onState(this.attempt ? "reconnecting" : "connecting");
    const ws = new WebSocket(`${location.origin.replace(/^http/, "ws")}/api/dispatch/stream`);
    this.ws = ws;
    /** @type {ReturnType<typeof setInterval> | undefined} */
    let ping;
    ws.onopen = () => ws.send(JSON.stringify({ token: auth.token }));
    ws.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      if (msg.type !== "welcome") {
        this.onMessage(msg);
        return;
      }
      const again = this.attempt > 0 || this.wasOpen;
      this.attempt = 0;
      this.wasOpen = true;
      this.onState("open");
      ping = setInterval(() => { if (ws.readyState === WebSocket.OPEN) ws.send('{"type":"ping"}'); }, 20000);
      this.onWelcome(again);
    };
    ws.onclose = (ev) => {
      clearInterval(ping);
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.closed) return;
      // 4001: the token was refused; 4004: revoked while open (account disabled, password
      // changed). Neither can succeed again: back to the login.
      if (ev.code === 4001 || ev.code === 4004) { this.onState("unauthorized"); return; }
      if (ev.code === 4030) { this.onState("forbidden"); return; }
      this.onState("reconnecting");
      const delay = this.hold ?? RECONNECT_DELAYS[Math.min(this.attempt, RECONNECT_DELAYS.length - 1)];
      this.hold = null;
      this.attempt += 1;
      setTimeout(() => this.connect(), delay);
    };
  }

  /** Drop the socket as a network fault would; reconnect after the usual delay or after
   * `holdMs` (diagnostics and tests). */
  drop(holdMs = null) {
    this.hold = holdMs;
    this.ws?.close(4000, "client drop");
  }

  close() {
    this.closed = true;
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000);
  }
}
