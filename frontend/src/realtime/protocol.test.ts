// The committed TypeScript protocol types must be what docs/protocol.schema.json
// (generated from hub/realtime/protocol.py) produces today.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { compileFromFile } from "json-schema-to-typescript";
import { describe, expect, it } from "vitest";

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

describe("protocol.ts", () => {
  it("is generated from the current protocol schema (run `npm run gen:protocol`)", async () => {
    const generated = await compileFromFile(here("../../../docs/protocol.schema.json"), {
      unreachableDefinitions: true,
    });
    expect(readFileSync(here("./protocol.ts"), "utf8")).toBe(generated);
  });
});
