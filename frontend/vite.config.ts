import { defineConfig } from "vitest/config";

// Django renders the HTML shell (hub/templates/app.html) and reads the manifest
// to find the hashed entry files, served by WhiteNoise under /static/app/.
export default defineConfig({
  base: "/static/app/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    manifest: true,
    rollupOptions: { input: "src/main.ts" },
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.ts"],
  },
});
