/** Small shared pieces of the console's screen: tabs and the toast line. */

export function selectTab(name) {
  for (const tab of document.querySelectorAll("[role=tab]")) {
    tab.setAttribute("aria-selected", String(tab.dataset.tab === name));
  }
  for (const body of document.querySelectorAll("[data-tab-body]")) {
    body.hidden = body.dataset.tabBody !== name;
  }
}

let toastTimer = null;

/** A short message at the bottom of the screen for five seconds. */
export function toast(text, kind = "info") {
  const el = document.getElementById("toast");
  if (!el) return;
  el.textContent = text;
  el.dataset.kind = kind;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 5000);
}
