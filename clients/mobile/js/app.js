/**
 * Siaga Radio, the officers' app: sign-in, talkgroups and scan, one big push-to-talk
 * button, who is talking, the emergency button, position while on duty, short texts.
 *
 * The radio protocol lives in the shared module (`/shared/radio.js`, also used by the
 * dispatcher console); this file is the phone's screen around it. Rules:
 * 1. The server decides; the screen shows what `RadioClient` says (its events), never a
 *    guess. The one local intent is the PTT press.
 * 2. Reconnection and session resume are the client's (`resume`); the screen only says
 *    "offline" / "reconnecting" and gives position and talk back when it is open again.
 * 3. The emergency button needs a deliberate hold (0.8 s), then counts down 5 s with a
 *    cancel button, then raises the emergency with the position and keeps the microphone
 *    open for 10 s. Without a connection the emergency is kept and shown as waiting, with
 *    an SMS to the command centre offered, and sent with the time it was raised as soon as
 *    the radio is connected again (`pending.js`).
 */
import { RadioClient, RAW_AUDIO } from "../../shared/radio.js";
import { Duty } from "./duty.js";
import { time } from "../../shared/fmt.js";
import { all, toast } from "../../shared/dom.js";
import { applyI18n, has, onLangChange, t, toggleLang } from "./i18n.js";
import {
  commandCentrePhone, dropPending, keepPending, loadPending, rememberPhone, smsLink, smsText,
} from "./pending.js";
import { busyTone, countdownPip, permitTone, queuedTone, unlock } from "./tones.js";

const TOKEN_KEY = "siaga.app.token";
const DUTY_KEY = "siaga.app.duty";
const INTERVAL_KEY = "siaga.app.interval";
const SOS_HOLD_MS = 800;
const SOS_COUNTDOWN = 5;
const SOS_OPEN_MIC = 10;
const HOLD_KEYS = new Set([" ", "AudioVolumeUp", "VolumeUp"]);
const TOGGLE_KEYS = new Set(["MediaPlayPause", "HeadsetHook"]);

const params = new URLSearchParams(location.search);
const BASE = new URL("..", location.href).href.replace(/\/$/, "");
const $ = (sel) => document.querySelector(sel);

let client = null;
let duty = null;
let user = null;
const messages = [];
const sos = { phase: "idle", timer: null, holdTimer: null, remaining: 0 };
let pttBy = null;           // what holds PTT now: "pointer", "key", "toggle", "sos"
let lastTalkState = "idle";

// -- boot -----------------------------------------------------------------------------

applyI18n();
for (const b of all(document, ".lang-toggle")) b.addEventListener("click", toggleLang);
onLangChange(() => { applyI18n(); render(); renderConn(); renderDuty(); renderMessages(); renderPending(); });
if ("serviceWorker" in navigator && params.get("sw") !== "off") {
  navigator.serviceWorker.register("sw.js").catch(() => {});
}
$("#login-form").addEventListener("submit", onLogin);
$("#logout").addEventListener("click", () => logout());
$("#menu-button").addEventListener("click", () => {
  const menu = $("#menu");
  menu.hidden = !menu.hidden;
  $("#menu-button").setAttribute("aria-expanded", String(!menu.hidden));
});
bindPtt();
bindSos();
bindDuty();
$("#text-form").addEventListener("submit", onText);
$("#audio-unlock").addEventListener("click", () => { unlockAudio(); $("#audio-unlock").hidden = true; });
window.addEventListener("online", () => {  // the radio client reconnects by itself
  document.body.dataset.net = "online";
  renderConn();
});
window.addEventListener("offline", () => { document.body.dataset.net = "offline"; renderConn(); });
document.body.dataset.net = navigator.onLine ? "online" : "offline";

const saved = localStorage.getItem(TOKEN_KEY);
if (saved) startRadio(JSON.parse(saved));
else show("login");

function show(view) {
  document.body.dataset.view = view;
  $("#login-view").hidden = view !== "login";
  $("#radio-view").hidden = view !== "radio";
  if (view === "login") $("#login-username").focus();
}

// -- sign-in --------------------------------------------------------------------------

async function onLogin(ev) {
  ev.preventDefault();
  unlock();
  const error = $("#login-error");
  error.hidden = true;
  const username = $("#login-username").value.trim();
  const password = $("#login-password").value;
  let res;
  try {
    res = await fetch(`${BASE}/api/auth/login`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username, password }),
    });
  } catch {
    return fail("login.offline");
  }
  if (res.status === 429) return fail("login.throttled");
  if (!res.ok) return fail("login.failed");
  const body = await res.json();
  const session = { token: body.access_token, username };
  localStorage.setItem(TOKEN_KEY, JSON.stringify(session));
  $("#login-password").value = "";
  startRadio(session);

  function fail(key) {
    error.textContent = t(key);
    error.hidden = false;
  }
}

function logout(reasonKey = null) {
  stopSos(false);
  client?.close();
  client = null;
  duty?.stop();
  localStorage.removeItem(TOKEN_KEY);
  show("login");
  const error = $("#login-error");
  error.hidden = !reasonKey;
  if (reasonKey) error.textContent = t(reasonKey);
}

// -- radio ----------------------------------------------------------------------------

function prefsKey() { return `siaga.app.groups.${user}`; }

function startRadio(session) {
  user = session.username;
  const prefs = JSON.parse(localStorage.getItem(prefsKey()) || "null");
  client = new RadioClient({
    token: session.token,
    baseUrl: BASE,
    talkgroups: prefs?.joined ?? null,
    selected: prefs?.selected ?? null,
    audio: params.get("audio") === "raw" ? RAW_AUDIO
      : { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    audioContainer: $("#audio-sink"),
  });
  Object.assign(window, { siagaRadio: client });  // diagnostics (and tests)
  client.addEventListener("state", onState);
  client.addEventListener("media", renderConn);
  client.addEventListener("transport", renderConn);
  client.addEventListener("welcome", onWelcome);
  client.addEventListener("change", onChange);
  client.addEventListener("talk", onTalk);
  client.addEventListener("text", (/** @type {CustomEvent} */ ev) => addMessage(ev.detail));
  client.addEventListener("emergency", onEmergency);
  client.connect();

  duty = new Duty({
    send: (lat, lon, accuracy) => client.sendLocation(lat, lon, accuracy),
    interval: Number(localStorage.getItem(INTERVAL_KEY) || 30),
  });
  duty.addEventListener("change", renderDuty);
  $("#interval").value = String(duty.interval);
  if (localStorage.getItem(DUTY_KEY) !== "off") duty.start();
  show("radio");
  render();
  renderConn();
  renderDuty();
  renderMessages();
  renderPending();
}

function onState(ev) {
  const { state } = ev.detail;
  if (state === "unauthorized") { logout("login.expired"); return; }
  renderConn();
  render();
}

function onWelcome(ev) {
  const msg = ev.detail;
  $("#me").textContent = msg.user.unit ? `${msg.user.name} · ${msg.user.unit}` : msg.user.name;
  document.body.dataset.session = msg.session;
  document.body.dataset.resumed = String(msg.resumed);
  document.body.dataset.connections = String(Number(document.body.dataset.connections || 0) + 1);
  if (msg.resumed) toast(t("net.resumed"));
  rememberPhone(msg.command_centre_phone);
  duty?.flush();  // the dispatchers see us again at once
  flushPending();
}

function onChange(ev) {
  const { what } = ev.detail;
  if (what === "joined" && client.user) {
    localStorage.setItem(prefsKey(), JSON.stringify({ joined: client.joined, selected: client.selected }));
    flushPending();
  }
  if (what === "microphone" && client.micError) toast(t("mic.denied"));
  if (what === "downlinks") setTimeout(checkAudioBlocked, 800);
  render();
}

function renderConn() {
  const conn = $("#conn");
  if (!client) return;
  const state = client.state;
  conn.dataset.state = state;
  conn.dataset.media = client.mediaState;
  conn.querySelector(".conn-text").textContent = t(`conn.${state}`);
  const transport = $("#transport");
  transport.dataset.transport = client.transport;
  transport.textContent = t(`transport.${client.transport}`);
  const banner = $("#net-banner");
  let key = null;
  if (state === "replaced") key = "net.replaced";
  else if (!navigator.onLine && state !== "open") key = "net.offline";
  else if (state === "reconnecting" || (state === "connecting" && client.session)) key = "net.reconnecting";
  banner.hidden = key === null;
  banner.dataset.kind = key ?? "";
  if (key) banner.textContent = t(key);
  renderPending();
}

function listenable() {
  return [...client.talkgroups.values()].filter((tg) => (tg.rights ?? []).includes("listen"));
}

function groupName(id) { return client?.talkgroups.get(id)?.name ?? id; }

function personName(identity) {
  if (!identity) return "?";
  return identity.unit ? `${identity.name} (${identity.unit})` : identity.name;
}

function render() {
  if (!client) return;
  renderGroups();
  renderNow();
  renderPtt();
  renderEmergencyBanner();
}

function renderGroups() {
  const list = $("#talkgroups");
  list.replaceChildren();
  for (const tg of listenable()) {
    const joined = client.joined.includes(tg.id);
    const selected = client.selected === tg.id;
    const li = document.createElement("li");
    li.dataset.talkgroup = tg.id;
    li.dataset.joined = String(joined);
    li.dataset.selected = String(selected);
    li.dataset.busy = String(client.floors.has(tg.id));
    li.dataset.emergency = String(client.emergencies.has(tg.id));

    const scan = document.createElement("input");
    scan.type = "checkbox";
    scan.className = "scan";
    scan.checked = joined;
    scan.setAttribute("aria-label", t("groups.scan", { name: tg.name }));
    scan.addEventListener("change", () => setScan(tg.id, scan.checked));

    const name = document.createElement("button");
    name.type = "button";
    name.className = "tg-name";
    name.textContent = tg.name;
    name.disabled = !(tg.rights ?? []).includes("talk");
    name.addEventListener("click", () => selectGroup(tg.id));

    const badges = document.createElement("span");
    badges.className = "badges";
    if (selected) badges.append(badge(t("groups.selected"), "selected"));
    if (client.emergencies.has(tg.id)) badges.append(badge(t("groups.emergency"), "emergency"));
    if (client.floors.has(tg.id)) badges.append(badge("●", "busy"));
    li.append(scan, name, badges);
    list.append(li);
  }
}

function badge(text, kind) {
  const b = document.createElement("span");
  b.className = `badge ${kind}`;
  b.textContent = text;
  return b;
}

function setScan(id, on) {
  const groups = on ? [...new Set([...client.joined, id])] : client.joined.filter((g) => g !== id);
  const selected = groups.includes(client.selected) ? client.selected : (groups[0] ?? null);
  client.scan(groups, selected).catch((err) => toast(errorText(err)));
}

function selectGroup(id) {
  const groups = client.joined.includes(id) ? client.joined : [...client.joined, id];
  client.scan(groups, id).catch((err) => toast(errorText(err)));
}

function renderNow() {
  const now = $("#now");
  const label = $("#now-label");
  const talker = $("#now-talker");
  const sel = client.selected;
  if (client.talk.state === "talking") {
    now.dataset.state = "self";
    now.dataset.talker = client.user?.username ?? "";
    label.textContent = t("now.you", { group: groupName(client.talk.talkgroup) });
    talker.textContent = personName(client.user);
    return;
  }
  const order = [sel, ...client.joined.filter((g) => g !== sel)].filter(Boolean);
  const active = order.find((g) => client.floors.has(g));
  if (!active) {
    now.dataset.state = "idle";
    now.dataset.talker = "";
    label.textContent = t("now.idle");
    talker.textContent = sel ? groupName(sel) : "";
    return;
  }
  const floor = client.floors.get(active);
  const emergency = floor.callType === "emergency";
  now.dataset.state = emergency ? "emergency" : "talking";
  now.dataset.talker = floor.talker.username;
  label.textContent = t(emergency ? "now.emergency" : "now.talking", { group: groupName(active) });
  talker.textContent = personName(floor.talker);
}

function renderPtt() {
  const ptt = $("#ptt");
  const text = $("#ptt-text");
  const talk = client.talk;
  let state = talk.state;
  let label;
  if (client.state !== "open" && state === "idle") {
    state = "offline";
    label = t("ptt.offline");
  } else if (!client.selected && state === "idle") {
    state = "nogroup";
    label = t("ptt.no_group");
  } else if (state === "queued") {
    label = t("ptt.queued", { position: talk.position ?? 1 });
  } else if (state === "denied" || state === "revoked") {
    const why = talk.reason && (has(`reason.${talk.reason}`) ? t(`reason.${talk.reason}`) : talk.reason);
    label = t(`ptt.${state}`) + (why ? ` — ${why}` : "");
  } else {
    label = t(`ptt.${state}`);
  }
  ptt.dataset.state = state;
  ptt.setAttribute("aria-pressed", String(client.pressing));
  text.textContent = label;
}

function renderEmergencyBanner() {
  const banner = $("#emergency-banner");
  const open = [...client.emergencies.entries()].filter(([tg, e]) => client.joined.includes(tg) && !e.acknowledged);
  banner.hidden = open.length === 0;
  if (open.length) {
    banner.textContent = open.map(([tg, e]) => t("sos.other", { group: groupName(tg), name: personName(e.raisedBy) })).join(" · ");
  }
}

function onEmergency(ev) {
  const { talkgroup, kind } = ev.detail;
  if (kind === "acknowledged") toast(t("sos.acknowledged", { group: groupName(talkgroup) }));
  if (kind === "cleared") toast(t("sos.cleared", { group: groupName(talkgroup) }));
  render();
}

// -- push to talk -----------------------------------------------------------------------

function onTalk(ev) {
  const state = ev.detail.state;
  if (state !== lastTalkState) {
    if (state === "talking") permitTone();
    else if (state === "denied" || state === "revoked") busyTone();
    else if (state === "queued") queuedTone();
  }
  lastTalkState = state;
  document.body.dataset.talk = state;
  render();
}

function unlockAudio() {
  unlock();
  for (const el of $("#audio-sink").querySelectorAll("audio")) el.play().catch(() => {});
}

function checkAudioBlocked() {
  const els = [...$("#audio-sink").querySelectorAll("audio")];
  $("#audio-unlock").hidden = !els.some((el) => el.paused && el.srcObject);
}

function pressPtt(by) {
  if (!client || pttBy) return;
  unlockAudio();
  pttBy = by;
  if (client.state !== "open") {
    busyTone();
    renderPtt();
    return;
  }
  client.press();
}

function releasePtt(by) {
  if (pttBy !== by) return;
  pttBy = null;
  client?.release();
}

function bindPtt() {
  const ptt = $("#ptt");
  ptt.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    e.preventDefault();
    try { ptt.setPointerCapture(e.pointerId); } catch { /* synthetic pointer */ }
    pressPtt("pointer");
  });
  for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) {
    ptt.addEventListener(type, () => releasePtt("pointer"));
  }
  ptt.addEventListener("contextmenu", (e) => e.preventDefault());

  document.addEventListener("keydown", (e) => {
    if (document.body.dataset.view !== "radio" || isTyping(e.target)) return;
    if (HOLD_KEYS.has(e.key) || (e.key === "Enter" && e.target === ptt)) {
      e.preventDefault();
      if (!e.repeat) pressPtt("key");
    } else if (TOGGLE_KEYS.has(e.key)) {
      e.preventDefault();
      if (!e.repeat) togglePtt();
    }
  });
  document.addEventListener("keyup", (e) => {
    if (HOLD_KEYS.has(e.key) || e.key === "Enter") releasePtt("key");
  });
  // Bluetooth headsets' buttons reach a web page, where they do at all, as media keys or
  // Media Session actions: one press talks, the next one stops.
  if ("mediaSession" in navigator) {
    for (const action of /** @type {MediaSessionAction[]} */ (["play", "pause", "togglemicrophone"])) {
      try { navigator.mediaSession.setActionHandler(action, togglePtt); } catch { /* unsupported */ }
    }
  }
}

function togglePtt() {
  if (pttBy === "toggle") releasePtt("toggle");
  else pressPtt("toggle");
}

function isTyping(target) {
  return target instanceof HTMLElement
    && (target.matches("input, textarea, select") || target.isContentEditable);
}

// -- emergency -------------------------------------------------------------------------

function bindSos() {
  const button = $("#sos");
  const cancelHold = () => {
    clearTimeout(sos.holdTimer);
    sos.holdTimer = null;
    button.classList.remove("arming");
  };
  button.addEventListener("pointerdown", (e) => {
    e.preventDefault();
    if (sos.phase !== "idle") return;
    button.classList.add("arming");
    sos.holdTimer = setTimeout(() => { cancelHold(); startCountdown(); }, SOS_HOLD_MS);
  });
  for (const type of ["pointerup", "pointercancel", "pointerleave"]) button.addEventListener(type, cancelHold);
  button.addEventListener("contextmenu", (e) => e.preventDefault());
  button.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && sos.phase === "idle") { e.preventDefault(); startCountdown(); }
  });
  $("#sos-cancel").addEventListener("click", () => stopSos(true));
}

function setSosPhase(phase) {
  sos.phase = phase;
  const overlay = $("#sos-overlay");
  overlay.dataset.phase = phase;
  overlay.hidden = phase === "idle";
  document.body.dataset.sos = phase;
}

function startCountdown() {
  unlock();
  setSosPhase("countdown");
  sos.remaining = SOS_COUNTDOWN;
  $("#sos-title").textContent = t("sos.countdown");
  $("#sos-detail").textContent = t("sos.countdown_detail");
  $("#sos-cancel").textContent = t("sos.cancel");
  const tick = () => {
    if (sos.phase !== "countdown") return;
    if (sos.remaining === 0) { fireEmergency(); return; }
    $("#sos-count").textContent = String(sos.remaining);
    countdownPip();
    sos.remaining -= 1;
    sos.timer = setTimeout(tick, 1000);
  };
  tick();
}

async function fireEmergency() {
  setSosPhase("raising");
  countdownPip(true);
  $("#sos-title").textContent = t("sos.active");
  $("#sos-detail").textContent = t("sos.active_detail");
  $("#sos-cancel").textContent = t("sos.stop");
  $("#sos-count").textContent = "";
  const raisedAt = new Date();
  const talkgroup = client.selected ?? client.joined[0];
  const fix = await duty.currentPosition(3000);
  if (sos.phase !== "raising") return;
  if (client.state !== "open") { keepEmergency(talkgroup, fix, raisedAt); return; }
  try {
    pttBy = "sos";
    await client.raiseEmergency(talkgroup, fix?.lat, fix?.lon, { talk: true });
  } catch (err) {
    if (pttBy === "sos") releasePtt("sos");
    pttBy = null;
    if (err.code === "not_connected" || err.code === "no_answer") {
      keepEmergency(talkgroup, fix, raisedAt);
      return;
    }
    toast(t("sos.failed", { error: errorText(err) }));
    setSosPhase("idle");
    return;
  }
  setSosPhase("active");
  sos.remaining = SOS_OPEN_MIC;
  const tick = () => {
    if (sos.phase !== "active") return;
    if (sos.remaining === 0) { stopSos(false); toast(t("sos.raised")); return; }
    $("#sos-count").textContent = String(sos.remaining);
    sos.remaining -= 1;
    sos.timer = setTimeout(tick, 1000);
  };
  tick();
}

/** End the countdown (cancelled: nothing was sent) or the open microphone. */
function stopSos(byUser) {
  clearTimeout(sos.timer);
  const was = sos.phase;
  setSosPhase("idle");
  if (was === "countdown" && byUser) {
    document.body.dataset.sosResult = "cancelled";
    toast(t("sos.cancelled"));
  }
  if (was === "active" || was === "raising") {
    document.body.dataset.sosResult = "raised";
    if (pttBy === "sos") releasePtt("sos");
  }
}

/** No connection: keep the emergency to send later and say so (rule 3). */
function keepEmergency(talkgroup, fix, raisedAt) {
  keepPending(user, {
    talkgroup: talkgroup ?? null, talkgroupName: talkgroup ? groupName(talkgroup) : null,
    raisedAt: raisedAt.toISOString(), lat: fix?.lat ?? null, lon: fix?.lon ?? null,
    accuracy: fix?.accuracy ?? null,
    who: client.user ? { name: client.user.name, unit: client.user.unit } : null,
  });
  setSosPhase("idle");
  document.body.dataset.sosResult = "kept";
  renderPending();
  $("#sos-pending").scrollIntoView({ block: "nearest" });
}

let flushing = false;

/** Send a kept emergency once the radio is open and has its talkgroups back. */
async function flushPending() {
  const pending = user ? loadPending(user) : null;
  if (!pending || flushing || client?.state !== "open" || !client.joined.length) return;
  const talkgroup = pending.talkgroup && client.joined.includes(pending.talkgroup)
    ? pending.talkgroup : (client.selected ?? client.joined[0]);
  flushing = true;
  try {
    await client.raiseEmergency(talkgroup, pending.lat ?? undefined, pending.lon ?? undefined,
      { raisedAt: new Date(pending.raisedAt) });
    dropPending(user);
    document.body.dataset.sosResult = "sent_late";
    toast(t("pending.sent", { time: time(pending.raisedAt) }));
  } catch (err) {
    if (err.code === "invalid_raised_at") {
      dropPending(user);
      toast(t("pending.too_old", { time: time(pending.raisedAt) }), "error", 15000);
    }
    // Anything else (the connection dropped again): kept, tried at the next welcome.
  } finally {
    flushing = false;
    renderPending();
  }
}

function renderPending() {
  const panel = $("#sos-pending");
  const pending = user ? loadPending(user) : null;
  panel.hidden = !pending;
  document.body.dataset.pending = String(Boolean(pending));
  if (!pending) return;
  $("#sos-pending-time").textContent = t("pending.raised", { time: time(pending.raisedAt) });
  const phone = commandCentrePhone();
  const link = $("#sos-sms");
  link.hidden = !phone;
  $("#sos-sms-none").hidden = Boolean(phone);
  if (phone) link.setAttribute("href", smsLink(phone, smsText(pending)));
}

/** A client-side error in the screen's language (radio.js speaks English to developers). */
function errorText(err) {
  return err.code && has(`error.${err.code}`) ? t(`error.${err.code}`)
    : err.code && has(`reason.${err.code}`) ? t(`reason.${err.code}`) : t("error.other");
}

// -- on duty ----------------------------------------------------------------------------

function bindDuty() {
  $("#duty").addEventListener("click", () => {
    if (!duty) return;
    if (duty.active) duty.stop(); else duty.start();
    localStorage.setItem(DUTY_KEY, duty.active ? "on" : "off");
    renderDuty();
  });
  $("#interval").addEventListener("change", (e) => {
    const seconds = Number(e.target.value);
    localStorage.setItem(INTERVAL_KEY, String(seconds));
    duty?.setInterval(seconds);
  });
}

function renderDuty() {
  if (!duty) return;
  const button = $("#duty");
  button.setAttribute("aria-pressed", String(duty.active));
  button.textContent = t(duty.active ? "duty.on" : "duty.off");
  document.body.dataset.duty = duty.active ? "on" : "off";
  const status = $("#position-status");
  status.dataset.state = duty.position;
  status.textContent = duty.position === "sent"
    ? t("position.sent", { time: time(duty.lastSent, { seconds: false }), accuracy: Math.round(duty.fix?.accuracy ?? 0) })
    : t(`position.${duty.position}`);
  $("#wakelock-status").textContent = duty.active ? t(duty.wakeLock === "on" ? "wakelock.on" : "wakelock.off") : "";
}

// -- short messages ---------------------------------------------------------------------

function addMessage(msg) {
  messages.push(msg);
  if (messages.length > 50) messages.shift();
  renderMessages();
}

function renderMessages() {
  const list = $("#message-list");
  list.replaceChildren();
  if (!messages.length) {
    const li = document.createElement("li");
    li.className = "muted empty";
    li.textContent = t("messages.empty");
    list.append(li);
    return;
  }
  for (const msg of [...messages].reverse()) {
    const li = document.createElement("li");
    li.dataset.sender = msg.sender.username;
    li.dataset.talkgroup = msg.talkgroup;
    const meta = document.createElement("div");
    meta.className = "meta";
    meta.textContent = `${groupName(msg.talkgroup)} · ${personName(msg.sender)} · ${time(msg.at, { seconds: false })}`;
    const body = document.createElement("div");
    body.className = "body";
    body.textContent = msg.body;
    li.append(meta, body);
    list.append(li);
  }
}

async function onText(ev) {
  ev.preventDefault();
  const input = $("#text-input");
  const body = input.value.trim();
  const talkgroup = client?.selected;
  if (!body || !talkgroup) return;
  try {
    await client.sendText(talkgroup, body);
    input.value = "";
  } catch {
    toast(t("messages.failed"));
  }
}
