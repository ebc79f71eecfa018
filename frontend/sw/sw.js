// The hub's service worker: after one visit the app opens without a network.
// The build (vite.config.ts) prepends `const PRECACHE = [...]; const VERSION = "...";`
// with every file of the build, so a new build is a new worker.
//
// - Page loads (every client-side path serves the same shell): network first,
//   the last shell from the cache when the network fails.
// - The built files under /static/app/: cache first (their names carry a hash).
// - The API and the socket are never cached here: the app keeps its own
//   last-known state in IndexedDB and marks it read-only.
/* global PRECACHE, VERSION */
const CACHE = `hub-app-${VERSION}`;
const SHELL = "/__shell__";

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      await cache.addAll(PRECACHE.map((path) => `/static/app/${path}`)).catch(() => undefined);
      try {
        const shell = await fetch("/", { credentials: "same-origin" });
        if (shell.ok) await cache.put(SHELL, shell);
      } catch {
        // offline at install: the first page load will store it
      }
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith("hub-app-") && name !== CACHE) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    const skip = ["/api/", "/admin/", "/ws/", "/healthz", "/readyz", "/static/"];
    if (skip.some((prefix) => url.pathname.startsWith(prefix))) return;
    event.respondWith(
      (async () => {
        try {
          const response = await fetch(request);
          if (response.ok) {
            const cache = await caches.open(CACHE);
            await cache.put(SHELL, response.clone());
          }
          return response;
        } catch {
          const cached = await caches.match(SHELL);
          return cached ?? new Response("Offline", { status: 503, headers: { "Content-Type": "text/plain" } });
        }
      })(),
    );
    return;
  }
  if (url.pathname.startsWith("/static/app/")) {
    event.respondWith(
      (async () => {
        const cached = await caches.match(request);
        if (cached) return cached;
        const response = await fetch(request);
        if (response.ok) {
          const cache = await caches.open(CACHE);
          await cache.put(request, response.clone());
        }
        return response;
      })(),
    );
  }
});
