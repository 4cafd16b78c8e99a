/**
 * Siaga radio client: the protocol of docs/protocol.md in one framework-free ES module.
 *
 * One object per signed-in user: a signaling WebSocket on /ws, one RTCPeerConnection
 * (the microphone as one send-only transceiver, one receive-only downlink per joined
 * talkgroup, each played by its own <audio> element so that volume and mute are per
 * group), and the state a radio screen shows (talkgroups, members, floors, patches,
 * emergencies, positions). Both the dispatcher console and the officers' app use it.
 *
 * Rules:
 * 1. The server decides; this client only asks. Local state changes only when a server
 *    message says so, except the push-to-talk intent (`pressing`), which is the user's.
 * 2. The microphone reaches the network only between `floor_granted` and the release
 *    (RTCRtpSender.replaceTrack: no packets at all otherwise, so the server's no-media
 *    timer and queued grants behave as documented).
 * 3. Every RTCPeerConnection operation runs in one promise chain, in arrival order:
 *    our offer, then each server offer (`downlinks` re-read every time).
 * 4. A dropped socket reconnects by itself with the session id (`resume`); the server
 *    closes the peer connection with the socket, so every welcome starts a new one.
 *    A floor grant or queued request ends with the socket (the server says so too).
 *    When the browser says it has lost the network (the `offline` event: no interface
 *    up), the socket is dropped at once, as a dead zone would drop it: its close frame
 *    could not arrive, and the talk and the screen must not wait for the heartbeat to
 *    notice. While `navigator.onLine` is false no attempt is made, since none could
 *    succeed and each costs a phone's battery; the client tries again at once on the
 *    `online` event, or at the longest delay in case that event never comes.
 * 5. Close codes 4001 (authentication), 4004 (credentials revoked: the account was
 *    disabled or its password changed) and 4002 (replaced by another connection) stop
 *    reconnecting: retrying could not succeed, or would fight the newer connection.
 * 6. Voice goes over WebRTC, or over the signaling WebSocket when WebRTC does not connect
 *    (transport.js decides when; wsvoice.js carries it). The server is told which
 *    (`audio` with `transport`), so it sends every frame one way only; the microphone and
 *    the per-group <audio> elements follow the transport in use.
 *
 * Events (EventTarget): `state` (connection), `media` (peer connection state), `welcome`,
 * `change` (anything a screen shows; detail.what names it), `message` (every server
 * message), `talk` (own push-to-talk state), `emergency`, `location`, `text`, `error`,
 * `autoplay` (detail.blocked: the browser wants a click before playing audio), `transport`
 * (detail.transport: `webrtc` or `websocket`, what carries voice now).
 */

import { TransportChoice } from "./transport.js";
import { WsVoice, supported as wsVoiceSupported } from "./wsvoice.js";

const VERSION = 1;
const RECONNECT_DELAYS = [250, 1000, 2000, 4000, 8000];
const ICE_GATHER_TIMEOUT = 3000;

/** Microphone constraints for tests: raw capture keeps a test tone at its file level. */
export const RAW_AUDIO = Object.freeze({
  echoCancellation: false, noiseSuppression: false, autoGainControl: false,
});

/** `undefined` as a field value is dropped from the wire. */
function compact(obj) {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined));
}

export class RadioClient extends EventTarget {
  /**
   * @param {object} opts
   * @param {string} opts.token bearer token from POST /api/auth/login
   * @param {string} [opts.baseUrl] http(s) origin of the server (default: the page's)
   * @param {string[]|null} [opts.talkgroups] groups to monitor (null: every group the
   *   user may listen to)
   * @param {string|null} [opts.selected] the group to talk on by default
   * @param {boolean|MediaTrackConstraints} [opts.audio] getUserMedia audio constraints
   *   (default: the browser's processing; false: listen only)
   * @param {HTMLElement} [opts.audioContainer] where the downlink <audio> elements go
   */
  constructor(opts) {
    super();
    this.token = opts.token;
    this.baseUrl = (opts.baseUrl ?? globalThis.location?.origin ?? "").replace(/\/$/, "");
    this.audio = opts.audio ?? true;
    this.audioContainer = opts.audioContainer ?? null;
    this.wanted = opts.talkgroups ? [...opts.talkgroups] : null;
    this.wantedSelected = opts.selected ?? null;

    this.state = "idle";            // idle | connecting | open | reconnecting | closed | unauthorized | replaced
    this.mediaState = "new";        // the RTCPeerConnection's connectionState
    this.session = null;
    this.resumed = false;
    this.user = null;
    this.heartbeat = 20;
    this.iceServers = [];

    this.talkgroups = new Map();    // id -> info (name, rights, dynamic, max_talk_time)
    this.joined = [];               // ids, server order
    this.selected = null;
    this.members = new Map();       // tg -> Map(user_id -> identity)
    this.floors = new Map();        // tg -> {talker, callType, talkgroups, since}
    /** @type {Map<string, {userId: number, since: Date}>} when a talk began, from REST */
    this._talkSince = new Map();
    this.patches = new Map();       // tg -> [other tgs]
    this.emergencies = new Map();   // tg -> {raisedBy, since, raisedAt, acknowledged, by, count}
    this.positions = new Map();     // user_id -> {user, lat, lon, accuracy, at}
    this.downlinks = {};            // mid -> tg (last server offer)
    this.talk = { state: "idle", talkgroup: null, reason: null, position: null };
    this.micError = null;
    this.audioBlocked = false;
    /** @type {"webrtc" | "websocket"} what carries voice now (rule 6) */
    this.transport = "webrtc";

    this._ws = null;
    this._ref = 0;
    this._pending = new Map();      // ref -> {resolve, reject, timer}
    this._attempt = 0;
    this._timers = { reconnect: null, ping: null, transport: null };
    this._choice = new TransportChoice();
    /** @type {WsVoice | null} */
    this._wsVoice = null;
    /** @type {Map<string, number>} talkgroup -> its number in audio frames */
    this._audioNumbers = new Map();
    this._lastSeen = 0;
    this._pc = null;
    this._uplink = null;
    this._mic = null;
    this._chain = Promise.resolve();
    this._elements = new Map();     // tg -> <audio>
    this._volume = new Map();       // tg -> 0..1
    this._muted = new Set();
    this._stamps = new Map();       // tg -> when a message last changed its floor/emergency
    this._pressing = null;          // {talkgroup} while the user holds PTT
    this._onNetwork = (ev) => {  // rule 4; removed by close()
      if (ev.type === "offline" && this._ws) this._onClose(1006);  // closed without a close frame
      else if (ev.type === "online" && this.state === "reconnecting" && !this._ws) this.connect();
    };
    for (const type of ["online", "offline"]) globalThis.addEventListener?.(type, this._onNetwork);
  }

  // -- connection -------------------------------------------------------------------

  /** Open the signaling socket (and, after `welcome`, the media). */
  connect() {
    if (this._ws || this.state === "closed") return;
    clearTimeout(this._timers.reconnect);
    this._setState(this.session ? "reconnecting" : "connecting");
    const url = this.baseUrl.replace(/^http/, "ws") + "/ws";
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    this._ws = ws;
    ws.onopen = () => {
      ws.send(JSON.stringify(compact({ v: VERSION, type: "hello", token: this.token,
                                       resume: this.session ?? undefined })));
    };
    ws.onmessage = (ev) => {
      if (this._ws !== ws) return;
      if (typeof ev.data === "string") this._onText(ev.data);
      else this._onAudio(ev.data);
    };
    ws.onclose = (ev) => { if (this._ws === ws) this._onClose(ev.code); };
  }

  /** Leave for good: no reconnect; the server ends the session after its resume window. */
  close() {
    this._setState("closed");
    for (const type of ["online", "offline"]) globalThis.removeEventListener?.(type, this._onNetwork);
    this._teardownSocket();
    this._closeMedia();
    for (const el of this._elements.values()) el.remove();
    this._elements.clear();
    if (this._mic) for (const t of this._mic.getTracks()) t.stop();
    this._mic = null;
  }

  /** Drop the socket as a dead zone would; the client reconnects with `resume` after
   * its usual delay, or after `holdMs` (diagnostics and tests). */
  dropConnection(holdMs = null) {
    this._hold = holdMs;
    if (this._ws) this._ws.close(4000, "client drop");
  }

  _teardownSocket() {
    clearTimeout(this._timers.reconnect);
    clearInterval(this._timers.ping);
    clearTimeout(this._timers.transport);
    this._choice.socketClosed();
    this._closeWsVoice();
    const ws = this._ws;
    this._ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, "bye");
    for (const p of this._pending.values()) { clearTimeout(p.timer); p.reject(new Error("closed")); }
    this._pending.clear();
  }

  _onClose(code) {
    this._teardownSocket();
    this._closeMedia();
    this._endTalk("disconnected");
    // Our own grant ended with the socket (rule 4): nobody hears us, so the screen must not
    // show us as the talker. Others' floors stay until the server says otherwise.
    let mine = false;
    for (const [tg, floor] of this.floors) {
      if (floor.talker.user_id === this.user?.user_id) { this.floors.delete(tg); mine = true; }
    }
    if (mine) this._changed("floor");
    if (this.state === "closed") return;
    if (code === 4001 || code === 4004) { this._setState("unauthorized"); return; }
    if (code === 4002) { this._setState("replaced"); return; }
    this._setState("reconnecting");
    const delay = this._hold ?? RECONNECT_DELAYS[Math.min(this._attempt, RECONNECT_DELAYS.length - 1)];
    this._hold = null;
    this._attempt += 1;
    this._reconnectAfter(delay);
  }

  _reconnectAfter(delay) {
    this._timers.reconnect = setTimeout(() => {
      if (globalThis.navigator?.onLine === false) {  // no network: wait for `online`
        this._reconnectAfter(RECONNECT_DELAYS[RECONNECT_DELAYS.length - 1]);
        return;
      }
      this.connect();
    }, delay);
  }

  _setState(state) {
    if (this.state === state) return;
    this.state = state;
    this._emit("state", { state });
  }

  _emit(type, detail = {}) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  _changed(what, talkgroup) {
    this._emit("change", { what, talkgroup });
  }

  /** Send one client message; resolves with the server's direct answer when `expect` names it. */
  send(type, fields = {}, { expect = null, timeout = 5000 } = {}) {
    const ws = this._ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(Object.assign(new Error("not connected"), { code: "not_connected" }));
    }
    const ref = ++this._ref;
    this.lastRef = ref;
    ws.send(JSON.stringify(compact({ v: VERSION, type, ref, ...fields })));
    if (!expect) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this._pending.delete(ref);
        reject(Object.assign(new Error(`no ${expect} for ${type}`), { code: "no_answer" }));
      }, timeout);
      this._pending.set(ref, { resolve, reject, timer, expect });
    });
  }

  _startPing() {
    clearInterval(this._timers.ping);
    this._lastSeen = Date.now();
    const every = Math.max(5, this.heartbeat) * 1000;
    this._timers.ping = setInterval(() => {
      if (Date.now() - this._lastSeen > 2 * every + 5000) {
        this._onClose(1006);  // nothing heard for two heartbeats: the link is dead
        return;
      }
      this.send("ping").catch(() => {});
    }, every);
  }

  // -- incoming ---------------------------------------------------------------------

  _onText(text) {
    this._lastSeen = Date.now();
    let msg;
    try { msg = JSON.parse(text); } catch { return; }
    if (msg.ref != null && this._pending.has(msg.ref)) {
      const p = this._pending.get(msg.ref);
      if (msg.type === p.expect || msg.type === "error") {
        this._pending.delete(msg.ref);
        clearTimeout(p.timer);
        if (msg.type === "error") p.reject(Object.assign(new Error(msg.message), { code: msg.code }));
        else p.resolve(msg);
      }
    }
    const now = new Date();
    if (typeof msg.talkgroup === "string") this._stamps.set(msg.talkgroup, now);
    if (Array.isArray(msg.talkgroups)) for (const tg of msg.talkgroups) this._stamps.set(tg, now);
    this._handle(msg);
    this._emit("message", msg);
  }

  _handle(msg) {
    switch (msg.type) {
      case "welcome": return this._onWelcome(msg);
      case "joined": return this._onJoined(msg);
      case "scan":
        this.joined = [...msg.talkgroups];
        this.selected = msg.selected;
        this._forgetLeft();
        return this._changed("joined");
      case "member_joined":
        this._membersOf(msg.talkgroup).set(msg.member.user_id, msg.member);
        return this._changed("members", msg.talkgroup);
      case "member_left":
        this._membersOf(msg.talkgroup).delete(msg.user_id);
        return this._changed("members", msg.talkgroup);
      case "floor_granted": return this._onGranted(msg);
      case "floor_taken":
        this._setFloor(msg.talkgroups, msg.talker, msg.call_type);
        return this._changed("floor", msg.talkgroup);
      case "floor_idle":
        for (const tg of msg.talkgroups) this.floors.delete(tg);
        return this._changed("floor");
      // Answers to a request the user has already let go of change nothing on screen.
      case "floor_denied":
        if (!this._pressing) return undefined;
        this._micOff();
        return this._setTalk("denied", msg.talkgroup, msg.reason);
      case "floor_queued":
      case "floor_queue_position":
        if (!this._pressing) return undefined;
        return this._setTalk("queued", msg.talkgroup, null, msg.position);
      case "floor_queue_cancelled":
        if (!this._pressing) return undefined;
        return this._setTalk("denied", msg.talkgroup, msg.reason);
      case "floor_revoked":
        this._micOff();
        if (!this._pressing) return undefined;
        return this._setTalk("revoked", msg.talkgroup, msg.reason);
      case "patched":
        for (const tg of msg.talkgroups) this.patches.set(tg, msg.talkgroups.filter((g) => g !== tg));
        return this._changed("patch");
      case "unpatched":
        for (const tg of msg.talkgroups) this.patches.delete(tg);
        return this._changed("patch");
      case "talkgroup_added":
        // The message is the same for everyone, so it cannot say this user's rights:
        // they come with the live state from REST (the group shows once they are known).
        this.talkgroups.set(msg.talkgroup.id, { ...this.talkgroups.get(msg.talkgroup.id), ...msg.talkgroup });
        this.refresh().catch(() => {});
        return this._changed("talkgroups");
      case "talkgroup_removed":
        this.talkgroups.delete(msg.talkgroup);
        this.joined = this.joined.filter((g) => g !== msg.talkgroup);
        this._forgetLeft();
        return this._changed("talkgroups");
      case "emergency_raised":
      case "emergency_alert": {
        const prev = this.emergencies.get(msg.talkgroup);
        this.emergencies.set(msg.talkgroup, {
          raisedBy: msg.raised_by, since: prev?.since ?? new Date(), acknowledged: false,
          by: null, count: msg.count ?? prev?.count ?? 0,
          // Set for an emergency the officer's app kept offline: when it was pressed.
          raisedAt: msg.raised_at ? new Date(msg.raised_at) : (prev?.raisedAt ?? null),
        });
        this._emit("emergency", { talkgroup: msg.talkgroup, kind: "raised" });
        return this._changed("emergency", msg.talkgroup);
      }
      case "emergency_acknowledged": {
        const e = this.emergencies.get(msg.talkgroup) ?? { raisedBy: null, since: new Date(), count: 0 };
        this.emergencies.set(msg.talkgroup, { ...e, acknowledged: true, by: msg.by });
        this._emit("emergency", { talkgroup: msg.talkgroup, kind: "acknowledged" });
        return this._changed("emergency", msg.talkgroup);
      }
      case "emergency_cleared":
        this.emergencies.delete(msg.talkgroup);
        this._emit("emergency", { talkgroup: msg.talkgroup, kind: "cleared" });
        return this._changed("emergency", msg.talkgroup);
      case "location": {
        const pos = { user: msg.user, lat: msg.lat, lon: msg.lon, accuracy: msg.accuracy, at: msg.at };
        this.positions.set(msg.user.user_id, pos);
        return this._emit("location", pos);
      }
      case "presence_changed":
        return this._changed("presence");
      case "text":
        return this._emit("text", msg);
      case "rtc_offer":
        return this._serverOffer(msg);
      case "audio":
        this._audioNumbers = new Map(Object.entries(msg.talkgroups ?? {}));
        return undefined;
      case "error":
        // An answer of ours the server refused: it closed the peer; offer again.
        if (msg.code === "bad_sdp" && msg.ref != null && msg.ref === this._answerRef) this._startMedia();
        return this._emit("error", msg);
      default:
        return undefined;
    }
  }

  _onWelcome(msg) {
    this._attempt = 0;
    this.session = msg.session;
    this.resumed = msg.resumed;
    this.user = msg.user;
    this.heartbeat = msg.heartbeat ?? 20;
    this.iceServers = msg.ice_servers ?? [];
    this.talkgroups = new Map(msg.talkgroups.map((tg) => [tg.id, tg]));
    this.joined = [...msg.joined];
    this.selected = msg.selected;
    if (!msg.resumed) {
      this.floors.clear();
      this.patches.clear();
      this.members.clear();
    }
    this._setState("open");
    this._startPing();
    this._emit("welcome", msg);
    this._changed("talkgroups");
    const wanted = this._wantedGroups();
    const same = wanted.length === this.joined.length && wanted.every((g) => this.joined.includes(g));
    const selected = wanted.includes(this.wantedSelected) ? this.wantedSelected : (wanted[0] ?? null);
    if (!same || (selected && selected !== this.selected)) {
      this.send("scan", { talkgroups: wanted, selected: selected ?? undefined }).catch(() => {});
    }
    this.refresh().catch(() => {});
    this._startMedia();
    if (this._choice.transport === "websocket") this._useWebSocket();  // transport.js rule 4
  }

  _wantedGroups() {
    const listenable = [...this.talkgroups.values()]
      .filter((tg) => (tg.rights ?? []).includes("listen")).map((tg) => tg.id);
    if (this.wanted === null) return listenable;
    return this.wanted.filter((g) => listenable.includes(g));
  }

  _onJoined(msg) {
    const tg = msg.talkgroup;
    if (!this.joined.includes(tg)) this.joined.push(tg);
    this.members.set(tg, new Map(msg.members.map((m) => [m.user_id, m])));
    if (msg.talker) this._setFloor([tg], msg.talker, this.floors.get(tg)?.callType ?? "normal");
    else this.floors.delete(tg);
    if (msg.patched_with.length) this.patches.set(tg, [...msg.patched_with]);
    else this.patches.delete(tg);
    if (msg.emergency && !this.emergencies.has(tg)) {
      // Raised before we joined; an unacknowledged one is alerted to dispatchers anyway.
      this.emergencies.set(tg, { raisedBy: null, since: new Date(), acknowledged: true, by: null, count: 0 });
    }
    this._changed("joined", tg);
  }

  _forgetLeft() {
    for (const tg of [...this.members.keys()]) if (!this.joined.includes(tg)) this.members.delete(tg);
  }

  _membersOf(tg) {
    if (!this.members.has(tg)) this.members.set(tg, new Map());
    return this.members.get(tg);
  }

  _setFloor(talkgroups, talker, callType) {
    const since = new Date();
    for (const tg of talkgroups) {
      const prev = this.floors.get(tg);
      const same = prev && prev.talker.user_id === talker.user_id;
      // A talk the REST snapshot already knew (a reload, a resume): its clock runs from
      // when it began, whichever of the snapshot and the `joined` message came first.
      const known = this._talkSince.get(tg);
      const began = known && known.userId === talker.user_id ? known.since : since;
      this.floors.set(tg, { talker, callType, talkgroups, since: same ? prev.since : began });
    }
  }

  /** Reload the live state of every talkgroup from REST (after a resume). */
  async refresh() {
    const asked = new Date();
    const res = await fetch(`${this.baseUrl}/api/talkgroups`, {
      headers: { Authorization: `Bearer ${this.token}` },
    });
    if (!res.ok) return;
    let rightsChanged = false;
    for (const tg of await res.json()) {
      const info = this.talkgroups.get(tg.id);
      if (info && String(info.rights) !== String(tg.rights)) {
        this.talkgroups.set(tg.id, { ...info, rights: tg.rights });
        rightsChanged = true;
      }
      const floor = this.floors.get(tg.id);
      if (tg.talker && tg.talker_since) {
        this._talkSince.set(tg.id, { userId: tg.talker.user_id, since: new Date(tg.talker_since) });
      } else this._talkSince.delete(tg.id);
      const sameTalk = floor && tg.talker && tg.talker_since && floor.talker.user_id === tg.talker.user_id;
      // The same talk as on screen: its clock runs from when it began (after a reload too).
      if (sameTalk) floor.since = new Date(tg.talker_since);
      // A message newer than the snapshot wins over it.
      if ((this._stamps.get(tg.id) ?? 0) > asked) continue;
      if (tg.talker) {
        this._setFloor([tg.id], tg.talker, floor?.callType ?? "normal");
        if (tg.talker_since) this.floors.get(tg.id).since = new Date(tg.talker_since);
      } else this.floors.delete(tg.id);
      if (tg.patched_with.length) this.patches.set(tg.id, tg.patched_with);
      else this.patches.delete(tg.id);
      if (!tg.emergency) this.emergencies.delete(tg.id);
      else if (!this.emergencies.has(tg.id)) {
        this.emergencies.set(tg.id, { raisedBy: null, since: new Date(), acknowledged: true, by: null, count: 0 });
      }
    }
    if (rightsChanged) this._changed("talkgroups");
    this._changed("refresh");
  }

  // -- commands ---------------------------------------------------------------------

  /** Hear exactly `talkgroups` and talk on `selected` by default (kept across reconnects). */
  scan(talkgroups, selected = null) {
    this.wanted = [...talkgroups];
    this.wantedSelected = selected;
    const sel = talkgroups.includes(selected) ? selected : (talkgroups[0] ?? undefined);
    return this.send("scan", { talkgroups, selected: sel }, { expect: "scan" });
  }

  select(talkgroup) {
    this.wantedSelected = talkgroup;
    if (!this.joined.includes(talkgroup)) return Promise.resolve(null);
    return this.send("scan", { talkgroups: this.joined, selected: talkgroup }, { expect: "scan" });
  }

  patch(talkgroups) { return this.send("patch", { talkgroups }); }
  unpatch(talkgroup) { return this.send("unpatch", { talkgroup }); }
  acknowledgeEmergency(talkgroup) { return this.send("emergency_ack", { talkgroup }); }
  clearEmergency(talkgroup) { return this.send("emergency_clear", { talkgroup }); }
  /**
   * The emergency button. The server answers it by granting the raiser the floor as an
   * emergency call; with `talk: true` that grant opens the microphone as a PTT press would
   * (end it with `release()`). `raisedAt` (a Date) is for an emergency kept while offline:
   * when the officer pressed the button. Resolves with `emergency_raised`.
   */
  raiseEmergency(talkgroup, lat, lon, { talk = false, raisedAt = undefined } = {}) {
    if (talk && !this._pressing && this.state === "open") {
      this._pressing = { talkgroup };
      this._setTalk("requesting", talkgroup);
    }
    return this.send("emergency_raise",
      { talkgroup, lat, lon, raised_at: raisedAt?.toISOString() }, { expect: "emergency_raised" });
  }
  revoke(talkgroup) { return this.send("floor_revoke", { talkgroup }); }
  sendLocation(lat, lon, accuracy) { return this.send("location", { lat, lon, accuracy }); }
  sendText(talkgroup, body) { return this.send("text", { talkgroup, body }); }

  /** Push-to-talk pressed: ask for the floor of `talkgroup` (default: the selected one). */
  press(talkgroup = null, { callType = undefined, override = undefined } = {}) {
    if (this._pressing) return;
    const tg = talkgroup ?? this.selected;
    const refusal = this.state !== "open" ? "disconnected"
      : !tg ? "no_selected_talkgroup"
        : (this.audio === false || this.micError) ? "no_microphone" : null;
    if (refusal) {
      this._setTalk("denied", tg, refusal);
      return;
    }
    this._pressing = { talkgroup: tg };
    this._setTalk("requesting", tg);
    this.send("floor_request", { talkgroup: tg, call_type: callType, override }).catch(() => {});
  }

  /** Push-to-talk let go: stop talking, or withdraw the request. */
  release() {
    if (!this._pressing) return;
    this._pressing = null;
    this._micOff();
    const engaged = ["requesting", "queued", "talking", "offered"].includes(this.talk.state);
    if (engaged) this.send("floor_release").catch(() => {});
    this._setTalk("idle", null);
  }

  get pressing() { return this._pressing !== null; }

  _onGranted(msg) {
    this._setFloor(msg.talkgroups, msg.talker, msg.call_type);
    this._changed("floor", msg.talkgroup);
    if (!this._pressing) return;  // let go before the grant came: our release follows it
    this._micOn(msg.talkgroup);
    if (msg.accept_within != null) this.send("floor_accept").catch(() => {});
    this._setTalk("talking", msg.talkgroup, null, null, msg);
  }

  _setTalk(state, talkgroup, reason = null, position = null, grant = null) {
    this.talk = { state, talkgroup, reason, position, grant };
    this._emit("talk", this.talk);
  }

  _endTalk(reason) {
    this._micOff();
    if (this._pressing || this.talk.state !== "idle") {
      this._pressing = null;
      this._setTalk("idle", null, reason);
    }
  }

  // -- media ------------------------------------------------------------------------

  /** @param {string | null} [talkgroup] the floor's group (default: the talk's) */
  _micOn(talkgroup = this.talk.talkgroup) {
    const track = this._mic?.getAudioTracks()[0];
    if (!track) return;
    if (this.transport === "websocket") {
      const n = this._audioNumbers.get(talkgroup);
      // A new peer connection while talking (a retry) does not restart the burst.
      if (this._wsVoice && n !== undefined && !this._wsVoice.sending) {
        this._wsVoice.startUplink(track, n).catch(() => {});
      }
    } else if (this._uplink) this._uplink.sender.replaceTrack(track).catch(() => {});
  }

  _micOff() {
    if (this._uplink) this._uplink.sender.replaceTrack(null).catch(() => {});
    this._wsVoice?.stopUplink();
  }

  // -- transport (rule 6) -------------------------------------------------------------

  /** Arm the one timer of the transport choice. */
  _armTransport() {
    clearTimeout(this._timers.transport);
    const due = this._choice.timer();
    if (due === null) return;
    this._timers.transport = setTimeout(() => {
      this._apply(this._choice.handleTimer(Date.now()));
    }, Math.max(0, due - Date.now()));
  }

  /** @param {import("./transport.js").Action[]} actions */
  _apply(actions) {
    for (const action of actions) {
      if (action === "fallback") this._useWebSocket();
      else if (action === "abandon") this._closeMedia();
      else if (action === "retry") this._startMedia();
    }
    this._armTransport();
  }

  /** Voice over the WebSocket: opt in, play heard groups from it, talk over it. */
  _useWebSocket() {
    if (this._wsVoice || !wsVoiceSupported() || this.state !== "open") return;
    const ws = this._ws;
    this._wsVoice = new WsVoice((bytes) => { if (ws.readyState === WebSocket.OPEN) ws.send(bytes); });
    this._setTransport("websocket");
    this._uplink?.sender.replaceTrack(null).catch(() => {});
    this.send("audio", { transport: "websocket" }, { expect: "audio" }).then(() => {
      if (this._ws !== ws || this.transport !== "websocket") return;
      for (const tg of this.joined) this._playWs(tg);
      if (this.talk.state === "talking") this._micOn();
    }).catch(() => {});
  }

  /** Back to WebRTC: the peer connection connected (transport.js rule 2). */
  _useWebRtc() {
    if (this.transport === "webrtc") return;
    this.send("audio", { transport: "webrtc" }).catch(() => {});
    this._closeWsVoice();
    this._setTransport("webrtc");
    if (this._pc) this._applyDownlinks(this._pc, this.downlinks);
    if (this.talk.state === "talking") this._micOn();
  }

  _closeWsVoice() {
    this._wsVoice?.close();
    this._wsVoice = null;
  }

  /** @param {"webrtc" | "websocket"} transport */
  _setTransport(transport) {
    if (this.transport === transport) return;
    this.transport = transport;
    this._emit("transport", { transport });
  }

  /** @param {ArrayBuffer} data a binary message: one Opus frame */
  _onAudio(data) {
    this._lastSeen = Date.now();
    const n = this._wsVoice?.received(data);
    if (n == null) return;
    for (const [tg, number] of this._audioNumbers) if (number === n) this._playWs(tg);
  }

  /** Play group `tg` from the WebSocket on its <audio> element. @param {string} tg */
  _playWs(tg) {
    const n = this._audioNumbers.get(tg);
    if (!this._wsVoice || n === undefined) return;
    const track = this._wsVoice.track(n);
    const el = this._element(tg);
    if (el._track === track) return;
    el._track = track;
    el.srcObject = new MediaStream([track]);
    this._play(el);
    this._changed("downlinks");
  }

  _queue(fn) {
    this._chain = this._chain.then(fn).catch((err) => {
      console.warn("radio media:", err);
      this._emit("error", { code: "media", message: String(err) });
    });
    return this._chain;
  }

  _closeMedia() {
    if (this._pc) {
      this._pc.onconnectionstatechange = null;
      this._pc.close();
    }
    this._pc = null;
    this._uplink = null;
    this._setMedia("closed");
  }

  _setMedia(state) {
    if (this.mediaState === state) return;
    this.mediaState = state;
    this._emit("media", { state });
  }

  _startMedia() {
    this._queue(async () => {
      if (this.state !== "open") return;
      if (!this._mic && this.audio !== false && navigator.mediaDevices) {
        try {
          this._mic = await navigator.mediaDevices.getUserMedia({ audio: this.audio, video: false });
          this.micError = null;
        } catch (err) {
          this.micError = err.name || String(err);  // listen only
          this._changed("microphone");
        }
      }
      this._closeMedia();
      const pc = new RTCPeerConnection({ iceServers: this.iceServers });
      this._pc = pc;
      const track = this._mic?.getAudioTracks()[0];
      this._uplink = pc.addTransceiver(track ?? "audio", { direction: "sendonly" });
      if (track) await this._uplink.sender.replaceTrack(null);  // rule 2
      pc.onconnectionstatechange = () => {
        if (this._pc !== pc) return;
        this._setMedia(pc.connectionState);
        if (pc.connectionState === "connected" && this._choice.connected()) this._useWebRtc();
        if (pc.connectionState === "disconnected") this._choice.interrupted(Date.now());
        if (pc.connectionState === "failed" && this.state === "open") {
          this._apply([...this._choice.failed(Date.now()), "abandon"]);
          return;
        }
        this._armTransport();
      };
      this._choice.attemptStarted(Date.now());
      this._armTransport();
      this._setMedia("connecting");
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc);
      const answer = await this.send("rtc_offer", { sdp: pc.localDescription.sdp },
                                     { expect: "rtc_answer", timeout: 10000 });
      if (this._pc !== pc) return;
      await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
      if (this.talk.state === "talking") this._micOn();
    });
  }

  _serverOffer(msg) {
    this._queue(async () => {
      const pc = this._pc;
      if (!pc || this.state !== "open") return;
      // The server keeps the negotiated payload types and extension ids in its re-offers.
      await pc.setRemoteDescription({ type: "offer", sdp: msg.sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      await gathered(pc);
      await this.send("rtc_answer", { sdp: pc.localDescription.sdp });
      this._answerRef = this.lastRef;
      this._applyDownlinks(pc, msg.downlinks ?? {});
    });
  }

  _applyDownlinks(pc, downlinks) {
    this.downlinks = { ...downlinks };
    if (this.transport === "websocket") return;  // the elements play the WebSocket (rule 6)
    const tracks = new Map();
    for (const tr of pc.getTransceivers()) {
      const tg = downlinks[tr.mid];
      if (tg) tracks.set(tg, tr.receiver.track);
    }
    for (const [tg, track] of tracks) {
      const el = this._element(tg);
      if (el._track !== track) {
        el._track = track;
        el.srcObject = new MediaStream([track]);
      }
      this._play(el);
    }
    for (const [tg, el] of this._elements) {
      if (!tracks.has(tg)) {
        el.srcObject = null;
        el.remove();
        this._elements.delete(tg);
      }
    }
    this._changed("downlinks");
  }

  _element(tg) {
    let el = this._elements.get(tg);
    if (!el) {
      el = document.createElement("audio");
      el.autoplay = true;
      el.dataset.talkgroup = tg;
      el.volume = this._volume.get(tg) ?? 1;
      el.muted = this._muted.has(tg);
      this._elements.set(tg, el);
      this.audioContainer?.appendChild(el);
    }
    return el;
  }

  _play(el) {
    el.play().then(() => this._setAudioBlocked(false)).catch((err) => {
      // Autoplay refused: the page has had no click or key press yet (a reload with a
      // saved sign-in). The screen asks for one and calls resumeAudio().
      if (err?.name === "NotAllowedError") this._setAudioBlocked(true);
    });
  }

  _setAudioBlocked(blocked) {
    if (this.audioBlocked === blocked) return;
    this.audioBlocked = blocked;
    this._emit("autoplay", { blocked });
  }

  /** Start the downlinks after a user gesture, if the browser blocked autoplay. */
  resumeAudio() {
    if (!this.audioBlocked) return;
    for (const el of this._elements.values()) if (el.srcObject) this._play(el);
  }

  /** The <audio> element playing the downlink of `tg`, if it has one now. */
  audioElement(tg) { return this._elements.get(tg) ?? null; }

  setVolume(tg, volume) {
    const v = Math.max(0, Math.min(1, volume));
    this._volume.set(tg, v);
    const el = this._elements.get(tg);
    if (el) el.volume = v;
    this._changed("volume", tg);
  }

  volume(tg) { return this._volume.get(tg) ?? 1; }

  setMuted(tg, muted) {
    if (muted) this._muted.add(tg); else this._muted.delete(tg);
    const el = this._elements.get(tg);
    if (el) el.muted = muted;
    this._changed("volume", tg);
  }

  isMuted(tg) { return this._muted.has(tg); }

  /** Audio frames sent over the WebSocket on this socket (diagnostics and tests). */
  get wsFramesSent() { return this._wsVoice?.framesSent ?? 0; }

  /** The RTCPeerConnection (diagnostics and tests: getStats()). */
  get peerConnection() { return this._pc; }
}

/** Wait until ICE gathering is complete (no trickle in this protocol), or a timeout. */
function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      pc.removeEventListener("icegatheringstatechange", check);
      clearTimeout(timer);
      resolve();
    };
    const check = () => { if (pc.iceGatheringState === "complete") done(); };
    const timer = setTimeout(done, ICE_GATHER_TIMEOUT);
    pc.addEventListener("icegatheringstatechange", check);
  });
}
