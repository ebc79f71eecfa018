import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Plugin } from "vite";
import { defineConfig } from "vitest/config";

// The service worker (sw/sw.js) is emitted at the root of dist/ with the list
// of every built file prepended, so each build is a new worker that precaches
// exactly the app it belongs to. Django serves it at /sw.js.
function serviceWorker(): Plugin {
  return {
    name: "hub-service-worker",
    apply: "build",
    generateBundle(_options, bundle) {
      const files = Object.keys(bundle)
        .filter((name) => !name.startsWith(".vite/") && !name.endsWith(".map"))
        .sort();
      const version = createHash("sha256").update(files.join("\n")).digest("hex").slice(0, 16);
      const source = readFileSync(new URL("./sw/sw.js", import.meta.url), "utf8");
      this.emitFile({
        type: "asset",
        fileName: "sw.js",
        source: `const PRECACHE = ${JSON.stringify(files)};\nconst VERSION = ${JSON.stringify(version)};\n${source}`,
      });
    },
  };
}

// Django renders the HTML shell (hub/templates/app.html) and reads the manifest
// to find the hashed entry files, served by WhiteNoise under /static/app/.
// JSX is compiled by Vite's own oxc transform for Preact (no Babel preset).
// public/ (the web app manifest, the icon) lands at the root of dist/.
export default defineConfig({
  base: "/static/app/",
  oxc: {
    jsx: { runtime: "automatic", importSource: "preact" },
  },
  plugins: [serviceWorker()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    manifest: true,
    target: "es2022",
    rollupOptions: { input: "src/main.tsx" },
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.ts", "src/**/*.test.tsx"],
  },
});
