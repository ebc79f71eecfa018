// Reports the gzipped size of the JavaScript a browser loads first (the entry
// and its static imports; lazy chunks excluded) and fails above the budget the
// officer screens must stay within on a weak link.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const BUDGET = 60 * 1024;
const dist = new URL("../dist/", import.meta.url);
const manifest = JSON.parse(readFileSync(new URL(".vite/manifest.json", dist), "utf8"));
const entry = Object.values(manifest).find((chunk) => chunk.isEntry);
if (!entry) {
  console.error("no entry in dist/.vite/manifest.json: run the build first");
  process.exit(2);
}
const seen = new Set();
const walk = (chunk) => {
  if (seen.has(chunk.file)) return;
  seen.add(chunk.file);
  for (const name of chunk.imports ?? []) walk(manifest[name]);
};
walk(entry);
let total = 0;
for (const file of seen) {
  const size = gzipSync(readFileSync(new URL(file, dist)), { level: 9 }).length;
  total += size;
  console.log(`${file}  ${(size / 1024).toFixed(1)} kB gzipped`);
}
const lazy = Object.values(manifest).filter((c) => c.file.endsWith(".js") && !seen.has(c.file));
const lazyTotal = lazy.reduce((sum, c) => sum + gzipSync(readFileSync(new URL(c.file, dist)), { level: 9 }).length, 0);
console.log(`initial JavaScript: ${(total / 1024).toFixed(1)} kB gzipped (budget ${BUDGET / 1024} kB); lazy chunks: ${(lazyTotal / 1024).toFixed(1)} kB in ${lazy.length}`);
if (total > BUDGET) {
  console.error("over budget: load more of the app lazily");
  process.exit(1);
}
