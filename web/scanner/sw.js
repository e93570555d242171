// The scanner app's service worker (scope /scanner/): caches the app shell
// on install and answers it from the cache, so the app opens and works with
// no network after its first load. API calls (/v1/...) are outside its
// scope and never touched: the queue lives in IndexedDB, not here.
//
// invsync replaces the build marker below with a hash of every file of
// the app when it serves this file, so any change to the app changes this
// worker: the browser installs it, it caches the new shell, and the old
// cache is dropped.

const BUILD = "__INVSYNC_BUILD__";
const CACHE = "invsync-scanner-" + BUILD;

// Every file of the shell, relative to the scope (a test checks this list
// against the files invsync embeds).
const SHELL = [
  "./",
  "index.html",
  "app.css",
  "manifest.webmanifest",
  "icons/icon.svg",
  "icons/icon-maskable.svg",
  "icons/icon-192.png",
  "icons/icon-512.png",
  "js/api.js",
  "js/bus.js",
  "js/catalog.js",
  "js/enrol.js",
  "js/heartbeat.js",
  "js/ids.js",
  "js/lists.js",
  "js/locks.js",
  "js/main.js",
  "js/scanform.js",
  "js/status.js",
  "js/store.js",
  "js/sync.js",
  "js/tasks.js",
  "js/validate.js",
];

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    // no-cache: revalidate with the server, never take a stale HTTP-cache copy.
    await cache.addAll(SHELL.map((p) => new Request(p, { cache: "no-cache" })));
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key.startsWith("invsync-scanner-") && key !== CACHE) await caches.delete(key);
    }
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  const req = event.request;
  if (req.method !== "GET") return;
  const url = new URL(req.url);
  const scope = new URL(self.registration.scope);
  if (url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname)) return;
  if (url.pathname === scope.pathname + "sw.js") return;
  event.respondWith(fromShell(req, scope));
});

async function fromShell(req, scope) {
  const cache = await caches.open(CACHE);
  // Any navigation inside the scope is the app (the enrolment link's
  // fragment never reaches here; a query string is ignored).
  const key = req.mode === "navigate" ? new URL("./", scope).href : req;
  const hit = await cache.match(key, { ignoreSearch: true });
  if (hit) return hit;
  try {
    return await fetch(req);
  } catch (err) {
    return new Response("offline and not cached: " + new URL(req.url).pathname, {
      status: 503, headers: { "Content-Type": "text/plain; charset=utf-8" },
    });
  }
}
