/**
 * The dispatcher console: login, then one screen (radio, map, incidents, units,
 * hospitals), live over two WebSockets (radio /ws, dispatch stream). A hospital account
 * gets its own screen instead (hospital.js): incoming patients, beds, capabilities.
 *
 * Test and diagnostic switch: `?audio=raw` captures the microphone without echo
 * cancellation, noise suppression or gain control (a test tone arrives at its level);
 * the default keeps the browser's processing, which is what a dispatcher needs.
 */
import { t, has, applyI18n, toggleLang, onLangChange, getLang } from "./i18n.js";
import { api, auth, login, ApiError } from "./api.js";
import { RadioClient, RAW_AUDIO } from "../shared/radio.js";
import { RadioPanel } from "./radio-panel.js";
import { Alerts } from "./alerts.js";
import { Messages } from "./messages.js";
import { ConsoleMap } from "./map.js";
import { DispatchConsole } from "./dispatch.js";
import { HospitalScreen } from "./hospital.js";
import * as tones from "./tones.js";
import { time } from "../shared/fmt.js";
import { all, toast } from "../shared/dom.js";
import { selectTab } from "./ui.js";

/** @type {(id: string) => any} the console's fixed elements, by id (index.html) */
const $ = (id) => document.getElementById(id);

async function loadConfig() {
  try {
    return await api("/api/console/config");
  } catch {
    return { tile_url: null, pmtiles_url: null, tile_attribution: "", features: {} };
  }
}

function show(view) {
  document.body.dataset.view = view;
  $("login-view").hidden = view !== "login";
  $("console-view").hidden = view !== "console";
  $("hospital-view").hidden = view !== "hospital";
}

/** A hospital account's own screen (hospital.js) instead of the dispatcher console. */
async function startHospital(me) {
  show("hospital");
  const screen = new HospitalScreen(me, { onUnauthorized: () => logout(t("login.expired")) });
  globalThis.siaga = { hospital: screen, tones };
  auth.onUnauthorized = () => logout(t("login.expired"));
  $("hosp-logout").onclick = () => logout();
  function logout(message = null) {
    screen.close();
    auth.token = null;
    if (message) sessionStorage.setItem("siaga.message", message);
    location.reload();
  }
  const tick = () => {
    $("hosp-clock").textContent = time(new Date());
    screen.tick();
  };
  tick();
  setInterval(tick, 1000);
  await screen.start();
}

function showLogin(config, message = null) {
  show("login");
  const err = $("login-error");
  err.hidden = !message;
  err.textContent = message ?? "";
  $("login-username").focus();  // hidden at load, so `autofocus` alone cannot do it
  const form = $("login-form");
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    tones.unlock();  // a user gesture: later sounds may play
    const data = new FormData(form);
    $("login-submit").disabled = true;
    try {
      await login(String(data.get("username")), String(data.get("password")));
      await start(config);
    } catch (e) {
      err.hidden = false;
      err.textContent = e instanceof ApiError && e.status === 401 ? t("login.failed")
        : e instanceof ApiError && e.status === 429 ? t("login.throttled") : t("login.error");
    } finally {
      $("login-submit").disabled = false;
    }
  };
}

function setConn(id, state) {
  const el = $(id);
  el.dataset.state = state;
  el.querySelector(".conn-text").textContent = t(`conn.state.${state}`);
}

/** The badge saying what carries voice (WebRTC, or the WebSocket fallback). @param {string} transport */
function setTransport(transport) {
  const el = $("transport");
  el.dataset.transport = transport;
  el.textContent = t(`transport.${transport}`);
}

async function start(config) {
  let me;
  try {
    me = await api("/api/me");
  } catch {
    auth.token = null;
    showLogin(config);
    return;
  }
  if (me.role === "hospital") {
    await startHospital(me);
    return;
  }
  show("console");
  $("user-name").textContent = `${me.display_name} (${me.username})`;

  const params = new URLSearchParams(location.search);
  const saved = (() => {
    try { return JSON.parse(localStorage.getItem(`siaga.radio.${me.username}`) ?? "{}"); } catch { return {}; }
  })();
  const radio = new RadioClient({
    token: auth.token,
    talkgroups: saved.monitored ?? null,
    selected: saved.selected ?? null,
    audio: params.get("audio") === "raw" ? RAW_AUDIO : true,
    audioContainer: $("downlinks"),
  });
  const panel = new RadioPanel(radio, { username: me.username, features: config.features });
  const alerts = new Alerts(radio);
  const messages = new Messages(radio);
  const map = new ConsoleMap($("map"), { tileUrl: config.tile_url, pmtilesUrl: config.pmtiles_url, attribution: config.tile_attribution });
  const dispatch = new DispatchConsole({ config, map, alerts, toast, me });
  // Radio alerts on the incident board show whether their emergency was acknowledged.
  radio.addEventListener("change", (/** @type {CustomEvent} */ ev) => {
    if (ev.detail.what === "emergency") dispatch.render();
  });
  globalThis.siaga = { radio, map, dispatch, panel, alerts, messages, tones };

  radio.addEventListener("state", (/** @type {CustomEvent} */ ev) => {
    setConn("conn-radio", ev.detail.state);
    panel.updatePtt();
    if (ev.detail.state === "unauthorized") logout(t("login.expired"));
    if (ev.detail.state === "replaced") toast(t("conn.replaced"));
  });
  radio.addEventListener("media", (/** @type {CustomEvent} */ ev) => setConn("conn-audio", ev.detail.state));
  radio.addEventListener("transport", () => setTransport(radio.transport));
  radio.addEventListener("autoplay", (/** @type {CustomEvent} */ ev) => { $("audio-blocked").hidden = !ev.detail.blocked; });
  // Any click or key press may unblock audio the browser refused to autoplay.
  const unblock = () => { tones.unlock(); radio.resumeAudio(); };
  window.addEventListener("pointerdown", unblock, true);
  window.addEventListener("keydown", unblock, true);
  // Officers' positions: the last known ones at start and after each radio reconnection
  // (`location` messages reach only a connected console), then the live ones.
  const showOfficers = (list) => dispatch.officersMoved(list.filter((pos) => map.setOfficer(pos)));
  const loadPositions = () => api("/api/radio/positions").then(showOfficers).catch(() => {});
  radio.addEventListener("location", (/** @type {CustomEvent} */ ev) => showOfficers([ev.detail]));
  let radioWasOpen = false;
  radio.addEventListener("state", (/** @type {CustomEvent} */ ev) => {
    if (ev.detail.state !== "open") return;
    if (radioWasOpen) loadPositions();
    radioWasOpen = true;
  });
  radio.addEventListener("error", (/** @type {CustomEvent} */ ev) => {
    const code = ev.detail.code;
    if (code && code !== "media") {
      toast(`${t("radio.error")}: ${has(`radio.error.${code}`) ? t(`radio.error.${code}`) : t("radio.error.other", { code })}`);
    }
  });
  dispatch.addEventListener("state", (/** @type {CustomEvent} */ ev) => {
    setConn("conn-dispatch", ev.detail.state);
    if (ev.detail.state === "unauthorized") logout(t("login.expired"));
  });
  setConn("conn-radio", radio.state);
  setConn("conn-audio", radio.mediaState);
  setConn("conn-dispatch", dispatch.state);
  setTransport(radio.transport);
  onLangChange(() => {
    setTransport(radio.transport);
    setConn("conn-radio", radio.state);
    setConn("conn-audio", radio.mediaState);
    setConn("conn-dispatch", dispatch.state);
  });

  auth.onUnauthorized = () => logout(t("login.expired"));
  $("logout").onclick = () => logout();
  function logout(message = null) {
    radio.close();
    dispatch.close();
    tones.alarm.stop();
    auth.token = null;
    if (message) sessionStorage.setItem("siaga.message", message);
    location.reload();
  }

  $("skip-to-ptt").addEventListener("click", (/** @type {Event} */ ev) => {
    ev.preventDefault();  // focus the talk control itself, not just scroll to it
    $("ptt").focus();
  });

  for (const tab of all(document, "[role=tab]")) {
    tab.addEventListener("click", () => selectTab(tab.dataset.tab));
  }

  const tick = () => {
    $("clock").textContent = time(new Date());
    panel.tick();
    dispatch.tick();
    map.tick();
  };
  tick();
  setInterval(tick, 1000);

  radio.connect();
  loadPositions();
  await dispatch.start();
  map.invalidate();
}

async function main() {
  applyI18n(document);
  for (const el of all(document, ".lang-toggle")) {
    el.addEventListener("click", () => toggleLang());
  }
  onLangChange(() => applyI18n(document));
  document.documentElement.lang = getLang();
  const config = await loadConfig();
  const message = sessionStorage.getItem("siaga.message");
  sessionStorage.removeItem("siaga.message");
  if (auth.token) await start(config);
  else showLogin(config, message);
}

main();
