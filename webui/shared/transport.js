/**
 * Which transport carries a browser radio's voice: WebRTC, or the signaling WebSocket as a
 * fallback. A pure core: no timers, no sockets; the caller passes the time in, arms one
 * timer at `timer()`, and calls `handleTimer(now)` when it fires (docs/protocol.md,
 * "Choosing the transport in a browser").
 *
 * Rules:
 * 1. Voice goes over WebRTC while a peer connection is connected, over the WebSocket
 *    otherwise once it is clear WebRTC is not coming: the attempt failed (ICE `failed`),
 *    it was not connected within CONNECT_TIMEOUT of its start, or a connection that
 *    worked has been interrupted (ICE `disconnected`) for CONNECT_TIMEOUT.
 * 2. A fallback does not end the attempt: a peer connection that connects late still
 *    wins, and voice moves back to WebRTC at once.
 * 3. An attempt that failed, or has not connected within GIVE_UP (of its start or of
 *    its interruption), is abandoned and a new
 *    one starts after RETRY_DELAYS (growing; the last repeats). Voice stays on the
 *    WebSocket meanwhile. A success resets the delays.
 * 4. The choice outlives the signaling socket: after a reconnection a client that was on
 *    the WebSocket opts in again at once instead of waiting for the timeout again.
 */

export const CONNECT_TIMEOUT = 4000;
export const GIVE_UP = 15000;
export const RETRY_DELAYS = Object.freeze([5000, 10000, 20000, 40000, 60000]);

/** @typedef {"webrtc" | "websocket"} Transport */
/** @typedef {"fallback" | "abandon" | "retry"} Action */

export class TransportChoice {
  constructor() {
    /** @type {Transport} */
    this.transport = "webrtc";
    /** @type {number | null} when the running attempt counts as too slow (rule 1) */
    this._fallbackAt = null;
    /** @type {number | null} when the running attempt is abandoned (rule 3) */
    this._giveUpAt = null;
    /** @type {number | null} when a new attempt starts (rule 3) */
    this._retryAt = null;
    this._failures = 0;
  }

  /**
   * A peer connection was started at `now`.
   * @param {number} now
   */
  attemptStarted(now) {
    this._fallbackAt = this.transport === "webrtc" ? now + CONNECT_TIMEOUT : null;
    this._giveUpAt = now + GIVE_UP;
    this._retryAt = null;
  }

  /**
   * The connected peer connection lost its path (ICE `disconnected`) at `now`; it may
   * come back by itself.
   * @param {number} now
   */
  interrupted(now) {
    if (this.transport === "webrtc") this._fallbackAt = now + CONNECT_TIMEOUT;
    this._giveUpAt = now + GIVE_UP;
  }

  /**
   * The peer connection connected. True when voice must move back to WebRTC.
   * @returns {boolean}
   */
  connected() {
    this._fallbackAt = this._giveUpAt = this._retryAt = null;
    this._failures = 0;
    const moved = this.transport !== "webrtc";
    this.transport = "webrtc";
    return moved;
  }

  /**
   * The peer connection failed (or dropped) at `now`: what to do at once.
   * @param {number} now
   * @returns {Action[]}
   */
  failed(now) {
    /** @type {Action[]} */
    const actions = this.transport === "webrtc" ? ["fallback"] : [];
    this.transport = "websocket";
    this._fallbackAt = this._giveUpAt = null;
    this._retryAt = now + RETRY_DELAYS[Math.min(this._failures, RETRY_DELAYS.length - 1)];
    this._failures += 1;
    return actions;
  }

  /** The signaling socket closed: its attempt ended with it; nothing is pending. */
  socketClosed() {
    this._fallbackAt = this._giveUpAt = this._retryAt = null;
  }

  /** @returns {number | null} when `handleTimer` is due next */
  timer() {
    const due = [this._fallbackAt, this._giveUpAt, this._retryAt].filter((t) => t !== null);
    return due.length ? Math.min(...due) : null;
  }

  /**
   * @param {number} now
   * @returns {Action[]} in order: `fallback` (voice to the WebSocket), `abandon` (close
   *   the peer connection), `retry` (start a new one)
   */
  handleTimer(now) {
    /** @type {Action[]} */
    const actions = [];
    if (this._fallbackAt !== null && now >= this._fallbackAt) {
      this._fallbackAt = null;
      this.transport = "websocket";
      actions.push("fallback");
    }
    if (this._giveUpAt !== null && now >= this._giveUpAt) {
      actions.push(...this.failed(now), "abandon");
    }
    if (this._retryAt !== null && now >= this._retryAt) {
      this._retryAt = null;
      actions.push("retry");
    }
    return actions;
  }
}
