// The committed REST types must be what docs/openapi.json (exported from the
// hub by `manage.py export_openapi`) produces today: `npm run gen:api`.
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import openapiTS, { astToString } from "openapi-typescript";
import { describe, expect, it } from "vitest";
import { MAX_EVENT_PAGE } from "./endpoints";

const here = dirname(fileURLToPath(import.meta.url));

describe("schema.d.ts", () => {
  it("is generated from the current docs/openapi.json (run `npm run gen:api`)", async () => {
    const schema = JSON.parse(readFileSync(resolve(here, "../../../docs/openapi.json"), "utf8"));
    const generated = astToString(await openapiTS(schema));
    const committed = readFileSync(resolve(here, "schema.d.ts"), "utf8");
    const body = (text: string) => text.slice(text.indexOf("export"));
    expect(body(committed)).toBe(body(generated));
  }, 30_000);

  it("MAX_EVENT_PAGE is the events endpoint's documented limit maximum", () => {
    const schema = JSON.parse(readFileSync(resolve(here, "../../../docs/openapi.json"), "utf8"));
    const limit = schema.paths["/api/v1/streams/{stream}/events"].get.parameters.find(
      (p: { name: string }) => p.name === "limit",
    );
    expect(limit.schema.maximum).toBe(MAX_EVENT_PAGE);
  });
});
