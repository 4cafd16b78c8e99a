/**
 * The alert strip above everything: radio emergencies and dispatch escalations.
 *
 * An emergency stays on screen, with the alarm sounding, until a dispatcher acknowledges
 * it (here or on another console: the server tells every dispatcher); then it shows a
 * "clear" button until it is cleared. Escalations stay until the incident moves on; a MERAH
 * call not dispatched in time (`siren`) sounds the alarm until a unit is sent.
 */
import { t, onLangChange } from "./i18n.js";
import { time } from "../shared/fmt.js";
import { html, setHtml } from "../shared/dom.js";
import { alarm } from "./tones.js";

export class Alerts {
  constructor(radio, root = document.getElementById("alerts")) {
    this.radio = radio;
    this.root = root;
    this.escalations = new Map();   // key -> {title, body, action: {label, run}}
    radio.addEventListener("change", (/** @type {CustomEvent} */ ev) => {
      if (["emergency", "refresh", "talkgroups", "joined"].includes(ev.detail.what)) this.render();
    });
    radio.addEventListener("state", () => this.render());
    onLangChange(() => this.render());
  }

  setEscalation(key, alert) {
    if (alert) this.escalations.set(key, alert); else this.escalations.delete(key);
    this.render();
  }

  render() {
    const r = this.radio;
    const cards = [];
    for (const [tg, e] of r.emergencies) {
      const name = r.talkgroups.get(tg)?.name ?? tg;
      const who = e.raisedBy ? `${e.raisedBy.name}${e.raisedBy.unit ? ` (${e.raisedBy.unit})` : ""}` : t("alert.unknown_raiser");
      const card = document.createElement("div");
      card.className = "alert emergency";
      card.dataset.talkgroup = tg;
      card.dataset.acknowledged = String(e.acknowledged);
      const state = e.acknowledged
        ? t("alert.acknowledged_by", { name: e.by?.name ?? t("alert.another_dispatcher") })
        : t("alert.waiting_ack");
      setHtml(card, html`
        <div class="alert-text">
          <strong>${t("alert.emergency", { group: name })}</strong>
          <span>${t("alert.raised_by", { name: who })} · ${time(e.raisedAt ?? e.since)}${e.raisedAt
            ? html` <span class="alert-received">${t("alert.received", { time: time(e.since) })}</span>` : ""}</span>
          <span class="alert-state">${state}</span>
        </div>
        <div class="alert-actions"></div>`);
      const button = document.createElement("button");
      button.type = "button";
      if (e.acknowledged) {
        button.className = "emergency-clear";
        button.textContent = t("alert.clear");
        button.addEventListener("click", () => r.clearEmergency(tg).catch(() => {}));
      } else {
        button.className = "emergency-ack primary";
        button.textContent = t("alert.acknowledge");
        button.addEventListener("click", () => r.acknowledgeEmergency(tg).catch(() => {}));
      }
      card.querySelector(".alert-actions").appendChild(button);
      cards.push(card);
    }
    for (const [key, a] of this.escalations) {
      const card = document.createElement("div");
      card.className = "alert escalation";
      card.dataset.key = key;
      if (a.kind) card.dataset.kind = a.kind;
      setHtml(card, html`<div class="alert-text"><strong>${a.title()}</strong><span>${a.body()}</span></div>
        <div class="alert-actions"></div>`);
      if (a.action) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "primary";
        button.textContent = a.action.label();
        button.addEventListener("click", a.action.run);
        card.querySelector(".alert-actions").appendChild(button);
      }
      if (a.dismiss) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "alert-dismiss";
        button.textContent = t("alert.dismiss");
        button.addEventListener("click", a.dismiss);
        card.querySelector(".alert-actions").appendChild(button);
      }
      cards.push(card);
    }
    this.root.replaceChildren(...cards);
    this.root.hidden = cards.length === 0;
    // The siren: an unacknowledged radio emergency, or a MERAH call still without a unit.
    const sounding = [...r.emergencies.values()].some((e) => !e.acknowledged)
      || [...this.escalations.values()].some((a) => a.siren);
    if (sounding) alarm.start(); else alarm.stop();
  }
}
