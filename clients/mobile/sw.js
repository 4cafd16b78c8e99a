/**
 * The app shell offline: the page, its code and icons are cached so that the app opens
 * without a network (it then shows "offline" and reconnects by itself).
 *
 * Network first for the shell (an update reaches the phone at the next online start),
 * the cache when the network fails. The API, the radio socket and anything not in the
 * shell are never cached: stale radio state would be worse than none.
 */
const CACHE = "siaga-app-v4";
const SHELL = [
  "./", "index.html", "manifest.webmanifest", "css/app.css",
  "js/app.js", "js/i18n.js", "js/tones.js", "js/duty.js", "js/pending.js",
  // Shared with the dispatcher console, served at /shared/ (one level above the app).
  "../shared/radio.js", "../shared/transport.js", "../shared/wsvoice.js", "../shared/tones.js",
  "../shared/i18n.js", "../shared/fmt.js", "../shared/dom.js",
  "icons/icon.svg", "icons/icon-192.png", "icons/icon-512.png", "icons/icon-maskable-512.png",
];
const SHELL_URLS = new Set(SHELL.map((path) => new URL(path, self.registration.scope).href));

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) if (key !== CACHE) await caches.delete(key);
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  url.search = "";
  const isShell = SHELL_URLS.has(url.href) || request.mode === "navigate";
  if (!isShell) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const response = await fetch(request);
      if (response.ok && SHELL_URLS.has(url.href)) cache.put(url.href, response.clone());
      return response;
    } catch (err) {
      const cached = await cache.match(url.href)
        ?? (request.mode === "navigate" ? await cache.match(new URL("./", self.registration.scope).href) : undefined);
      if (cached) return cached;
      throw err;
    }
  })());
});
