import { describe, expect, it } from "vitest";
import { describeReadiness, fetchReadiness } from "./health";

function fakeFetch(status: number, body: unknown): typeof fetch {
  return (async () => new Response(JSON.stringify(body), { status })) as typeof fetch;
}

describe("fetchReadiness", () => {
  it("reports ready when /readyz answers 200", async () => {
    const r = await fetchReadiness(fakeFetch(200, { status: "ok", checks: { database: "ok" } }));
    expect(r.ready).toBe(true);
    expect(r.checks).toEqual({ database: "ok" });
    expect(describeReadiness(r)).toBe("All systems ready");
  });

  it("names the failing check on 503", async () => {
    const r = await fetchReadiness(
      fakeFetch(503, {
        status: "unavailable",
        checks: { database: "ok", channel_layer: "failing" },
        reasons: { channel_layer: "Redis unreachable" },
      }),
    );
    expect(r.ready).toBe(false);
    expect(describeReadiness(r)).toBe("Degraded — channel_layer: Redis unreachable");
  });

  it("treats a network failure as not ready", async () => {
    const failing = (async () => {
      throw new TypeError("Failed to fetch");
    }) as typeof fetch;
    const r = await fetchReadiness(failing);
    expect(r.ready).toBe(false);
    expect(describeReadiness(r)).toContain("network");
  });
});
