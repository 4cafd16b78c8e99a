/** The console's tabs (the toast line is shared with the officers' app: `/shared/dom.js`). */

/** @param {string} name the `data-tab` of the tab to show */
export function selectTab(name) {
  for (const tab of document.querySelectorAll("[role=tab]")) {
    tab.setAttribute("aria-selected", String(/** @type {HTMLElement} */ (tab).dataset.tab === name));
  }
  for (const el of document.querySelectorAll("[data-tab-body]")) {
    const body = /** @type {HTMLElement} */ (el);
    body.hidden = body.dataset.tabBody !== name;
  }
}
