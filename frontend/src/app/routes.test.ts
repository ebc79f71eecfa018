import { describe, expect, it } from "vitest";
import { parseRoute, pointOfRoute } from "./routes";

describe("parseRoute", () => {
  it.each([
    ["/", { name: "home" }],
    ["/signin?next=%2Fincidents%2FWDH-2026-0001", { name: "signin" }],
    ["/points/WDH", { name: "board", code: "WDH" }],
    ["/points/WDH/", { name: "board", code: "WDH" }],
    ["/points/WDH/alerts/new", { name: "issue-alert", code: "WDH" }],
    ["/points/WDH/operations", { name: "operations", code: "WDH" }],
    ["/incidents/WDH-2026-0001", { name: "room", ref: "WDH-2026-0001" }],
    ["/incidents/WDH-2026-0001/review", { name: "review", ref: "WDH-2026-0001" }],
    ["/alerts/12", { name: "alert", id: 12 }],
    ["/operations/OP-WDH-2026-0001", { name: "operation", ref: "OP-WDH-2026-0001" }],
    ["/report?point=WEN", { name: "report", point: "WEN" }],
    ["/report", { name: "report", point: null }],
    ["/search", { name: "search" }],
  ])("%s", (path, expected) => {
    expect(parseRoute(path)).toEqual(expected);
  });

  it.each(["/points/wdh", "/alerts/0", "/alerts/abc", "/incidents/", "/incidents/a b", "/nowhere", "/points/WDH/other"])("%s is unknown", (path) => {
    expect(parseRoute(path)).toEqual({ name: "unknown" });
  });

  it("names the crossing point of a screen", () => {
    expect(pointOfRoute(parseRoute("/points/WVB"))).toBe("WVB");
    expect(pointOfRoute(parseRoute("/report?point=WEN"))).toBe("WEN");
    expect(pointOfRoute(parseRoute("/incidents/WDH-2026-0001"))).toBeNull();
  });
});
