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
});
