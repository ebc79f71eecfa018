import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe as suite, expect, it } from "vitest";
import type { EventFrame } from "./protocol";
import { describe } from "./timeline";

function frame(kind: string, payload: Record<string, unknown>): EventFrame {
  return {
    type: "event",
    stream: "incident:WDH-2026-0001",
    seq: 4,
    kind,
    at: "2026-11-22T08:00:00Z",
    actor: { id: 1, username: "na-imm.duty", name: "Ndapewa Amutenya", agency: "NA-IMM" },
    payload,
  };
}

suite("describe", () => {
  it("shows messages as chat lines", () => {
    const line = describe(frame("message.posted", { message_id: 1, body: "On my way", redacted: false }));
    expect(line).toMatchObject({ kind: "message", text: "On my way", who: "Ndapewa Amutenya", agency: "NA-IMM" });
  });

  it("never shows redacted text", () => {
    const line = describe(frame("message.posted", { message_id: 1, body: "", redacted: true }));
    expect(line.text).toBe("[redacted]");
    expect(line.redacted).toBe(true);
  });

  it("marks exercises", () => {
    const line = describe(frame("alert.issued", { title: "Vessel", severity: "critical", targets: ["ZA-IMM"], exercise: true }));
    expect(line.text.startsWith("EXERCISE — alert: Vessel")).toBe(true);
    expect(line.exercise).toBe(true);
  });

  it("describes status changes", () => {
    const line = describe(frame("incident.transitioned", { from_status: "reported", to_status: "triaged", reason: "" }));
    expect(line.text).toBe("status reported → triaged");
    expect(line.kind).toBe("system");
  });

  const alertKinds: [string, Record<string, unknown>, string][] = [
    ["alert.issued", { alert_id: 5, title: "Vessel", severity: "critical", targets: ["ZA-IMM", "ZA-CUS"] }, "alert: Vessel (critical) to ZA-IMM, ZA-CUS"],
    ["alert.updated", { alert_id: 5, version: 2, changes: { severity: { old: "high", new: "critical" } } }, "updated alert 5: severity"],
    ["alert.acknowledged", { alert_id: 5, agency: "ZA-CUS", pending: [] }, "acknowledged alert 5 for ZA-CUS"],
    ["alert.escalated", { alert_id: 5, agency: "ZA-POL", due_at: "2026-11-22T08:15:00Z", notified: ["za-pol.duty"] }, "alert 5 overdue for ZA-POL; notified za-pol.duty"],
    ["alert.cancelled", { alert_id: 5, version: 3, reason: "Drill over" }, "cancelled alert 5 — Drill over"],
    ["alert.expired", { alert_id: 5, version: 3 }, "alert 5 expired"],
  ];

  it("covers every alert kind the hub defines (hub/events/types.py)", () => {
    const types = readFileSync(resolve(dirname(fileURLToPath(import.meta.url)), "../../hub/events/types.py"), "utf8");
    const defined = [...types.matchAll(/@event_kind\("(alert\.[a-z_]+)"\)/g)].map((m) => m[1]).sort();
    expect(defined.length).toBeGreaterThan(0);
    expect(alertKinds.map(([kind]) => kind).sort()).toEqual(defined);
  });

  it.each(alertKinds)("marks %s of an exercise alert with EXERCISE", (kind, payload, text) => {
    const line = describe(frame(kind, { ...payload, exercise: true }));
    expect(line.exercise).toBe(true);
    expect(line.text).toBe(`EXERCISE — ${text}`);
  });

  it.each(alertKinds)("does not mark %s of a real alert", (kind, payload, text) => {
    const line = describe(frame(kind, { ...payload, exercise: false }));
    expect(line.exercise).toBe(false);
    expect(line.text).toBe(text);
  });

  it("names the new title of an updated alert", () => {
    const line = describe(frame("alert.updated", { alert_id: 5, version: 2, exercise: false, changes: { title: { old: "A", new: "B" } } }));
    expect(line.text).toBe('updated alert 5 (now "B"): title');
  });
});
