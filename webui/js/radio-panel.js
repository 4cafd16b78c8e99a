/**
 * The radio panel: monitored talkgroups (activity light, talker, members, volume, mute),
 * the selected group, push-to-talk (button and space bar), patches, and the list of
 * transmissions this console has heard.
 *
 * Rows are created once per talkgroup and updated in place, so that a slider being
 * dragged or a checkbox being clicked is never replaced under the pointer.
 *
 * Many groups (incident groups come and go): each row folds to one line (light, name,
 * talker) with its toggle; the user's choice is kept. Until the user chooses, rows are open
 * while there are at most COMPACT_FROM - 1 groups, and beyond that only the selected one.
 * The group list scrolls by itself, so the talk control stays on screen (1366×768).
 */
import { t, onLangChange } from "./i18n.js";
import { duration, time, since } from "../shared/fmt.js";
import { all, h, html, setHtml, toast } from "../shared/dom.js";
import * as tones from "./tones.js";
import { api, auth } from "./api.js";

const RECENT_LIMIT = 25;
// Loads of the recorded list after a transmission ends, until it shows up there.
const RECORDED_TRIES = 5;
const COMPACT_FROM = 7;

export class RadioPanel {
  constructor(radio, { username, features }) {
    this.radio = radio;
    this.storeKey = `siaga.radio.${username}`;
    this.features = features;
    this.list = document.getElementById("talkgroups");
    this.ptt = /** @type {HTMLButtonElement} */ (document.getElementById("ptt"));
    this.pttStatus = document.getElementById("ptt-status");
    this.pttTarget = document.getElementById("ptt-target");
    this.patchButton = /** @type {HTMLButtonElement} */ (document.getElementById("patch-button"));
    this.recentList = document.getElementById("recent");
    this.micState = document.getElementById("mic-state");
    this.rows = new Map();
    this.patchPick = new Set();
    this.recent = [];          // {talkgroup, talker, start, end}
    this.open = new Map();     // talkgroup -> recent entry under way
    this.ended = [];           // ended entries not yet in the recorded list (newest first)
    this.expanded = new Map(); // talkgroup -> the user's choice: row open (true) or folded
    this.talkStarted = null;

    const saved = this.load();
    for (const [tg, v] of Object.entries(saved.volume ?? {})) radio.setVolume(tg, v);
    for (const tg of saved.muted ?? []) radio.setMuted(tg, true);
    for (const [tg, open] of Object.entries(saved.expanded ?? {})) this.expanded.set(tg, Boolean(open));

    radio.addEventListener("change", (/** @type {CustomEvent} */ ev) => this.onChange(ev.detail));
    radio.addEventListener("talk", (/** @type {CustomEvent} */ ev) => this.onTalk(ev.detail));
    radio.addEventListener("message", (/** @type {CustomEvent} */ ev) => this.onMessage(ev.detail));
    onLangChange(() => { this.rebuild(); this.onTalk(radio.talk); this.renderRecent(); });
    this.bindPtt();
    this.patchButton.addEventListener("click", () => this.doPatch());
    this.recorded = null;
    this.renderRecent();
    this.loadRecorded();
  }

  /** Saved per user: monitored groups, selected group, volumes, mutes. */
  load() {
    try { return JSON.parse(localStorage.getItem(this.storeKey) ?? "{}"); } catch { return {}; }
  }

  save() {
    const volume = {};
    const muted = [];
    for (const tg of this.radio.talkgroups.keys()) {
      volume[tg] = this.radio.volume(tg);
      if (this.radio.isMuted(tg)) muted.push(tg);
    }
    localStorage.setItem(this.storeKey, JSON.stringify({
      monitored: this.radio.wanted, selected: this.radio.wantedSelected, volume, muted,
      expanded: Object.fromEntries(this.expanded),
    }));
  }

  // -- talkgroup rows ---------------------------------------------------------------

  /** Whether a row shows its controls (the class comment says the default). */
  isExpanded(tg) {
    const chosen = this.expanded.get(tg);
    if (chosen !== undefined) return chosen;
    return this.listenable().length < COMPACT_FROM || this.radio.selected === tg;
  }

  listenable() {
    return [...this.radio.talkgroups.values()].filter((tg) => (tg.rights ?? []).includes("listen"));
  }

  onChange({ what, talkgroup }) {
    if (what === "talkgroups" || this.rows.size !== this.listenable().length) this.rebuild();
    else if (talkgroup && this.rows.has(talkgroup)) this.update(talkgroup);
    else for (const tg of this.rows.keys()) this.update(tg);
    if (what === "microphone") this.showMic();
    this.updatePtt();
  }

  rebuild() {
    this.list.replaceChildren();
    this.rows.clear();
    for (const info of this.listenable()) {
      const li = document.createElement("li");
      li.className = "tg";
      li.dataset.tg = info.id;
      setHtml(li, html`
        <div class="tg-head">
          <button type="button" class="tg-toggle" aria-expanded="true"></button>
          <input type="checkbox" class="tg-monitor">
          <span class="light" aria-hidden="true"></span>
          <button type="button" class="tg-name"></button>
          <span class="tg-count"></span>
          <label class="tg-pick"><input type="checkbox" class="tg-patch"> <span></span></label>
        </div>
        <div class="tg-talker"></div>
        <div class="tg-patched" hidden><span></span> <button type="button" class="link tg-unpatch"></button></div>
        <div class="tg-audio">
          <button type="button" class="tg-mute"></button>
          <input type="range" class="tg-volume" min="0" max="100" step="5">
        </div>`);
      const monitor = /** @type {HTMLInputElement} */ (li.querySelector(".tg-monitor"));
      monitor.addEventListener("change", () => this.setMonitored(info.id, monitor.checked));
      li.querySelector(".tg-toggle").addEventListener("click", () => {
        this.expanded.set(info.id, !this.isExpanded(info.id));
        this.save();
        this.update(info.id);
      });
      li.querySelector(".tg-name").addEventListener("click", () => this.select(info.id));
      const pick = /** @type {HTMLInputElement} */ (li.querySelector(".tg-patch"));
      pick.addEventListener("change", () => {
        if (pick.checked) this.patchPick.add(info.id); else this.patchPick.delete(info.id);
        this.patchButton.disabled = this.patchPick.size < 2;
      });
      li.querySelector(".tg-unpatch").addEventListener("click", () => {
        this.radio.unpatch(info.id).catch(() => {});
      });
      li.querySelector(".tg-mute").addEventListener("click", () => {
        this.radio.setMuted(info.id, !this.radio.isMuted(info.id));
        this.save();
      });
      const volume = /** @type {HTMLInputElement} */ (li.querySelector(".tg-volume"));
      volume.addEventListener("input", () => {
        this.radio.setVolume(info.id, Number(volume.value) / 100);
        this.save();
      });
      this.rows.set(info.id, li);
      this.list.appendChild(li);
      this.update(info.id);
    }
    this.patchButton.disabled = this.patchPick.size < 2;
  }

  update(tg) {
    const li = this.rows.get(tg);
    const info = this.radio.talkgroups.get(tg);
    if (!li || !info) return;
    const r = this.radio;
    const joined = r.joined.includes(tg);
    const floor = r.floors.get(tg);
    const mine = floor && r.user && floor.talker.user_id === r.user.user_id;
    li.dataset.monitored = String(joined);
    li.dataset.selected = String(r.selected === tg);
    const open = this.isExpanded(tg);
    li.dataset.open = String(open);
    const toggle = li.querySelector(".tg-toggle");
    toggle.setAttribute("aria-expanded", String(open));
    toggle.setAttribute("aria-label", t(open ? "radio.fold" : "radio.unfold", { name: info.name }));
    toggle.textContent = open ? "▾" : "▸";
    li.dataset.active = String(Boolean(floor));
    li.dataset.emergency = String(r.emergencies.has(tg));
    const monitor = li.querySelector(".tg-monitor");
    monitor.checked = joined;
    monitor.title = t("radio.monitor");
    monitor.setAttribute("aria-label", `${t("radio.monitor")} ${info.name}`);
    const name = li.querySelector(".tg-name");
    name.textContent = info.name;
    name.title = t("radio.select");
    name.setAttribute("aria-pressed", String(r.selected === tg));
    const members = r.members.get(tg);
    li.querySelector(".tg-count").textContent = joined && members ? t("radio.members", { n: members.size }) : "";
    li.querySelector(".tg-pick span").textContent = t("radio.pick");
    li.querySelector(".tg-patch").checked = this.patchPick.has(tg);
    const talker = li.querySelector(".tg-talker");
    if (floor) {
      const who = floor.talker;
      talker.replaceChildren(
        h("span", { class: "talker-name" }, mine ? t("radio.you") : who.name),
        ...(who.unit ? [" ", h("span", { class: "talker-unit" }, who.unit)] : []),
        ...(floor.callType === "emergency" ? [" ", h("span", { class: "badge red" }, t("radio.emergency_call"))] : []),
        " ", h("span", { class: "talk-clock", dataset: { since: floor.since.toISOString() } }, duration(since(floor.since))));
    } else {
      talker.textContent = joined ? t("radio.quiet") : t("radio.not_monitored");
    }
    const patched = r.patches.get(tg);
    const patchRow = li.querySelector(".tg-patched");
    patchRow.hidden = !patched;
    if (patched) {
      const names = patched.map((g) => r.talkgroups.get(g)?.name ?? g).join(", ");
      patchRow.querySelector("span").textContent = t("radio.patched_with", { groups: names });
      patchRow.querySelector("button").textContent = t("radio.unpatch");
    }
    const mute = li.querySelector(".tg-mute");
    const muted = r.isMuted(tg);
    mute.textContent = muted ? t("radio.unmute") : t("radio.mute");
    mute.setAttribute("aria-pressed", String(muted));
    const volume = li.querySelector(".tg-volume");
    if (document.activeElement !== volume) volume.value = String(Math.round(r.volume(tg) * 100));
    volume.setAttribute("aria-label", t("radio.volume", { group: info.name }));
    volume.disabled = muted;
  }

  /** Each second: the talkers' running clocks. */
  tick() {
    for (const el of all(this.list, ".talk-clock")) {
      el.textContent = duration(since(el.dataset.since));
    }
    if (this.talkStarted && this.radio.talk.state === "talking") {
      const clock = this.pttStatus.querySelector(".talk-clock");
      if (clock) clock.textContent = duration(since(this.talkStarted));
    }
  }

  setMonitored(tg, on) {
    const current = new Set(this.radio.joined);
    if (on) current.add(tg); else current.delete(tg);
    const order = this.listenable().map((g) => g.id).filter((g) => current.has(g));
    const selected = order.includes(this.radio.selected) ? this.radio.selected : (order[0] ?? null);
    this.radio.scan(order, selected).catch(() => {}).finally(() => this.save());
  }

  select(tg) {
    if (!this.radio.joined.includes(tg)) {
      this.setMonitored(tg, true);
      this.radio.wantedSelected = tg;
    }
    this.radio.select(tg).catch(() => {}).finally(() => this.save());
  }

  doPatch() {
    const groups = [...this.patchPick];
    if (groups.length < 2) return;
    this.radio.patch(groups).catch(() => {});
    this.patchPick.clear();
    for (const tg of this.rows.keys()) this.update(tg);
    this.patchButton.disabled = true;
  }

  showMic() {
    const err = this.radio.micError;
    this.micState.hidden = !err;
    if (err) this.micState.textContent = t("radio.no_microphone", { reason: err });
  }

  // -- push-to-talk -----------------------------------------------------------------

  bindPtt() {
    const down = (ev) => {
      ev.preventDefault();
      if (ev.pointerId !== undefined) this.ptt.setPointerCapture?.(ev.pointerId);
      this.radio.press(this.radio.selected);
    };
    const up = () => this.radio.release();
    this.ptt.addEventListener("pointerdown", down);
    this.ptt.addEventListener("pointerup", up);
    this.ptt.addEventListener("pointercancel", up);
    this.ptt.addEventListener("lostpointercapture", up);
    this.ptt.addEventListener("contextmenu", (ev) => ev.preventDefault());
    // Space is push-to-talk everywhere except where it types (text fields, lists).
    const TOGGLES = ["checkbox", "radio", "range", "button", "submit"];
    const typing = (el) => el && (el.isContentEditable || ["TEXTAREA", "SELECT"].includes(el.tagName)
      || (el.tagName === "INPUT" && !TOGGLES.includes(el.type)));
    window.addEventListener("keydown", (ev) => {
      if (ev.code !== "Space" || typing(ev.target) || document.body.dataset.view !== "console") return;
      ev.preventDefault();
      if (!ev.repeat) this.radio.press(this.radio.selected);
    });
    window.addEventListener("keyup", (ev) => {
      if (ev.code !== "Space" || typing(ev.target)) return;
      ev.preventDefault();
      this.radio.release();
    });
    window.addEventListener("blur", up);
    // Enter holds it too while the button has the focus (keyboard users, the skip link).
    this.ptt.addEventListener("keydown", (ev) => {
      if (ev.key !== "Enter") return;
      ev.preventDefault();
      if (!ev.repeat) this.radio.press(this.radio.selected);
    });
    this.ptt.addEventListener("keyup", (ev) => {
      if (ev.key === "Enter") { ev.preventDefault(); this.radio.release(); }
    });
  }

  updatePtt() {
    const tg = this.radio.selected;
    this.pttTarget.textContent = tg ? (this.radio.talkgroups.get(tg)?.name ?? tg) : t("radio.none_selected");
    this.ptt.disabled = !tg || this.radio.state !== "open" || Boolean(this.radio.micError);
  }

  onTalk(talk) {
    const prev = this.ptt.dataset.state;
    this.ptt.dataset.state = talk.state;
    const name = (tg) => this.radio.talkgroups.get(tg)?.name ?? tg ?? "";
    /** @type {(string | Node)[]} */
    let text = [];
    switch (talk.state) {
      case "requesting": text = [t("talk.requesting")]; break;
      case "talking":
        if (prev !== "talking") { this.talkStarted = new Date(); tones.permitTone(); }
        text = [t("talk.talking", { group: name(talk.talkgroup) }), " ",
          h("span", { class: "talk-clock" }, duration(since(this.talkStarted)))];
        break;
      case "queued": text = [t("talk.queued", { n: talk.position ?? "?" })]; break;
      case "denied":
        if (prev !== "denied") tones.busyTone();
        text = [t("talk.denied", { reason: t(`reason.${talk.reason}`) })]; break;
      case "revoked":
        if (prev !== "revoked") tones.busyTone();
        text = [t("talk.revoked", { reason: t(`reason.${talk.reason}`) })]; break;
      default:
        this.talkStarted = null;
        text = talk.reason === "disconnected" ? [t("talk.disconnected")] : [];
    }
    this.pttStatus.replaceChildren(...text);
    this.pttStatus.dataset.state = talk.state;
  }

  // -- transmissions heard ------------------------------------------------------------

  onMessage(msg) {
    const now = new Date();
    const begin = (tg, talker) => {
      const cur = this.open.get(tg);
      if (cur && cur.talker.user_id === talker.user_id) return;
      if (cur) cur.end = now;
      const entry = { talkgroup: tg, talker, start: now, end: null };
      this.open.set(tg, entry);
      this.recent.unshift(entry);
      this.recent.length = Math.min(this.recent.length, RECENT_LIMIT);
    };
    switch (msg.type) {
      case "floor_taken":
      case "floor_granted":
        begin(msg.talkgroup, msg.talker);
        break;
      case "floor_idle":
        for (const tg of msg.talkgroups) {
          const cur = this.open.get(tg);
          if (cur) {
            cur.end = now;
            this.open.delete(tg);
            this.ended.unshift(cur);
            this.ended.length = Math.min(this.ended.length, RECENT_LIMIT);
          }
        }
        break;
      default:
        return;
    }
    if (msg.type === "floor_idle" && this.features?.transmissions) {
      this.scheduleRecorded(0);
    }
    this.renderRecent();
  }

  liveRow(e) {
    const li = document.createElement("li");
    li.dataset.live = e.end ? "ended" : "true";
    const group = this.radio.talkgroups.get(e.talkgroup)?.name ?? e.talkgroup;
    const length = e.end ? duration((e.end - e.start) / 1000) : t("radio.live");
    li.append(...this.heard(e.start, group, e.talker, length));
    return li;
  }

  /**
   * Load the recorded list after a transmission ended, again (1.5 s, 3 s, 6 s, ... at most
   * RECORDED_TRIES times) while one heard here is not in it yet: the server stores a
   * transmission when its recording is written, which a busy server may take a while to do.
   * @param {number} attempt
   */
  scheduleRecorded(attempt) {
    clearTimeout(this.recordedTimer);
    if (attempt >= RECORDED_TRIES) return;
    this.recordedTimer = setTimeout(async () => {
      await this.loadRecorded();
      if (this.ended.length) this.scheduleRecorded(attempt + 1);
    }, 1500 * 2 ** attempt);
  }

  /**
   * Whether the server's list holds a transmission heard here (same group and talker,
   * started within a few seconds of when this console heard it start).
   * @param {{talkgroup: string, talker: {user_id: number}, start: Date}} e
   */
  isRecorded(e) {
    return (this.recorded ?? []).some((item) => item.talkgroup === e.talkgroup
      && item.talker.user_id === e.talker.user_id
      && Math.abs(new Date(item.started_at).getTime() - e.start.getTime()) < 5000);
  }

  /**
   * One transmission heard: "14:05:09 WIB **Group** Name (Unit) 0:12".
   * @param {Date | string} start
   * @param {string} group
   * @param {{name: string, unit?: string | null}} talker
   * @param {string} length
   */
  heard(start, group, talker, length) {
    const who = talker.unit ? `${talker.name} (${talker.unit})` : talker.name;
    return [h("span", { class: "when" }, time(start)), " ", h("b", null, group), " ",
      h("span", null, who), " ", h("span", { class: "len" }, length)];
  }

  /** Recorded transmissions from the server (newest first), when it records them. */
  async loadRecorded() {
    if (!this.features?.transmissions) return;
    try {
      const page = await api("/api/transmissions?limit=25");
      this.recorded = page.items;
      this.ended = this.ended.filter((e) => !this.isRecorded(e));
      this.renderRecent();
    } catch { /* keep what we have */ }
  }

  async replay(item, button) {
    if (this.player) { this.player.pause(); URL.revokeObjectURL(this.player.src); }
    button.disabled = true;
    try {
      const res = await fetch(item.audio_url, { headers: { Authorization: `Bearer ${auth.token}` } });
      if (!res.ok) throw new Error(String(res.status));
      const url = URL.createObjectURL(await res.blob());
      this.player = new Audio(url);
      this.player.dataset.transmission = String(item.id);
      this.player.onended = () => { button.disabled = false; };
      await this.player.play();
    } catch {
      button.disabled = false;
      toast(t("radio.replay_failed"));
    }
  }

  renderRecent() {
    if (this.features?.transmissions) {
      const none = !this.open.size && !this.ended.length && !(this.recorded ?? []).length;
      document.getElementById("recent-note").textContent = none ? t("radio.recent_none") : "";
      // Under way, then ended here but not yet in the server's list, then the server's.
      const live = [...this.open.values(), ...this.ended];
      const rows = live.map((e) => this.liveRow(e));
      for (const item of this.recorded ?? []) {
        const li = document.createElement("li");
        li.dataset.transmission = String(item.id);
        const group = this.radio.talkgroups.get(item.talkgroup)?.name ?? item.talkgroup;
        const length = item.duration_ms != null ? duration(item.duration_ms / 1000) : "";
        li.append(...this.heard(item.started_at, group, { name: item.talker.name }, length));
        if (item.audio_url) {
          const b = document.createElement("button");
          b.type = "button";
          b.className = "replay";
          b.textContent = t("radio.replay");
          b.addEventListener("click", () => this.replay(item, b));
          li.appendChild(b);
        }
        rows.push(li);
      }
      this.recentList.replaceChildren(...rows);
      return;
    }
    document.getElementById("recent-note").textContent = t("radio.recent_note");
    this.recentList.replaceChildren(...this.recent.map((e) => {
      const li = document.createElement("li");
      const group = this.radio.talkgroups.get(e.talkgroup)?.name ?? e.talkgroup;
      const length = e.end ? duration((e.end - e.start) / 1000) : t("radio.live");
      li.append(...this.heard(e.start, group, e.talker, length));
      return li;
    }));
  }
}
