/**
 * Short texts on the console (the "Pesan" tab).
 *
 * Rules:
 * 1. The server sends a console every text of the talkgroups its user may listen to, joined
 *    or not (docs/protocol.md, `text`): they are all listed here, newest first, with the
 *    group's name, the sender and the time in WIB.
 * 2. A text from someone else that arrives while the tab is not shown is unread; the tab
 *    shows how many. Opening the tab reads them all.
 * 3. The dispatcher writes on a joined talkgroup (the server takes texts only there), the
 *    selected one by default; a refusal is said in the screen's language.
 */
import { t, has, onLangChange } from "./i18n.js";
import { time } from "../shared/fmt.js";
import { toast } from "../shared/dom.js";

const KEEP = 200;

export class Messages {
  /** @param {import("../shared/radio.js").RadioClient} radio */
  constructor(radio) {
    this.radio = radio;
    /** @type {any[]} */
    this.list = [];
    this.unread = 0;
    this.tab = /** @type {HTMLElement} */ (document.querySelector('[role=tab][data-tab="messages"]'));
    this.pane = /** @type {HTMLElement} */ (document.getElementById("messages-pane"));
    this.count = /** @type {HTMLElement} */ (document.getElementById("unread-count"));
    this.group = /** @type {HTMLSelectElement} */ (document.getElementById("console-text-group"));
    this.input = /** @type {HTMLInputElement} */ (document.getElementById("console-text-input"));
    this.ol = /** @type {HTMLElement} */ (document.getElementById("console-messages"));
    radio.addEventListener("text", (/** @type {CustomEvent} */ ev) => this.add(ev.detail));
    radio.addEventListener("change", (/** @type {CustomEvent} */ ev) => {
      if (["joined", "talkgroups", "refresh"].includes(ev.detail.what)) this.renderGroups();
    });
    this.tab.addEventListener("click", () => this.read());
    document.getElementById("console-text-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.send();
    });
    onLangChange(() => { this.render(); this.renderCount(); });
    this.render();
    this.renderCount();
  }

  get shown() { return !this.pane.hidden; }

  add(msg) {
    this.list.unshift(msg);
    if (this.list.length > KEEP) this.list.pop();
    if (msg.sender.user_id !== this.radio.user?.user_id && !this.shown) this.unread += 1;
    this.render();
    this.renderCount();
  }

  read() {
    this.unread = 0;
    this.renderCount();
  }

  renderCount() {
    this.count.hidden = this.unread === 0;
    this.count.textContent = String(this.unread);
    this.count.setAttribute("aria-label", t("messages.unread", { n: this.unread }));
    document.body.dataset.unread = String(this.unread);
  }

  renderGroups() {
    const r = this.radio;
    const wanted = this.group.value || r.selected;
    const options = r.joined.filter((id) => (r.talkgroups.get(id)?.rights ?? []).includes("talk"))
      .map((id) => {
        const option = document.createElement("option");
        option.value = id;
        option.textContent = r.talkgroups.get(id)?.name ?? id;
        return option;
      });
    this.group.replaceChildren(...options);
    if (options.some((o) => o.value === wanted)) this.group.value = wanted;
  }

  render() {
    this.renderGroups();
    if (!this.list.length) {
      const li = document.createElement("li");
      li.className = "empty";
      li.textContent = t("messages.empty");
      this.ol.replaceChildren(li);
      return;
    }
    this.ol.replaceChildren(...this.list.map((msg) => {
      const li = document.createElement("li");
      li.dataset.talkgroup = msg.talkgroup;
      li.dataset.sender = msg.sender.username;
      const meta = document.createElement("div");
      meta.className = "meta";
      const who = msg.sender.unit ? `${msg.sender.name} (${msg.sender.unit})` : msg.sender.name;
      const group = this.radio.talkgroups.get(msg.talkgroup)?.name ?? msg.talkgroup;
      meta.textContent = `${group} · ${who} · ${time(msg.at)}`;
      const body = document.createElement("div");
      body.className = "body";
      body.textContent = msg.body;
      li.append(meta, body);
      return li;
    }));
  }

  async send() {
    const body = this.input.value.trim();
    const talkgroup = this.group.value;
    if (!body) return;
    if (!talkgroup) { toast(t("messages.no_group"), "error"); return; }
    try {
      await this.radio.send("text", { talkgroup, body }, { expect: "text" });
      this.input.value = "";
    } catch (err) {
      const why = err.code && has(`messages.error.${err.code}`) ? t(`messages.error.${err.code}`) : t("messages.error.other");
      toast(t("messages.failed", { reason: why }), "error");
    }
  }
}
