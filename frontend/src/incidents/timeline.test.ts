import { describe, expect, it } from "vitest";
import type { EventFrame } from "../realtime/protocol";
import { Timeline } from "./timeline";

const STREAM = "incident:WDH-2026-0001";
const imm = { id: 1, username: "na-imm.duty", name: "Ndapewa Amutenya", agency: "NA-IMM" };
const pol = { id: 2, username: "na-pol.coord", name: "Loide Nakale", agency: "NA-POL" };

function ev(seq: number, kind: string, payload: Record<string, unknown>, actor = imm): EventFrame {
  return { type: "event", stream: STREAM, seq, kind, at: `2026-12-03T12:00:${String(seq).padStart(2, "0")}Z`, actor, payload } as EventFrame;
}

const history = [
  ev(1, "incident.reported", { title: "Minor travelling" }),
  ev(2, "message.posted", { message_id: 10, body: "First version @NA-POL", mentions: [{ kind: "agency", key: "NA-POL", name: "Police" }] }),
  ev(3, "incident.transitioned", { from_status: "reported", to_status: "triaged", reason: "" }, pol),
  ev(4, "message.edited", { message_id: 10, body: "Second version", edit_number: 1, mentions: [] }),
  ev(5, "message.posted", { message_id: 11, body: "Police on the way" }, pol),
  ev(6, "message.redacted", { message_id: 11, reason: "Named a witness" }, pol),
];

describe("Timeline", () => {
  it("folds edits into the message and keeps every version", () => {
    const timeline = new Timeline(STREAM);
    timeline.add(history);
    const messages = timeline.entries().filter((e) => e.type === "message");
    expect(messages).toHaveLength(2);
    const first = timeline.message(10)!;
    expect(first.body).toBe("Second version");
    expect(first.versions.map((v) => v.body)).toEqual(["First version @NA-POL", "Second version"]);
    expect(first.editedAt).toBe(history[3]!.at);
    expect(first.mentions).toEqual([]);
  });

  it("shows a redaction with who and why, and never the text", () => {
    const timeline = new Timeline(STREAM);
    timeline.add(history);
    const redacted = timeline.message(11)!;
    expect(redacted.redacted).toBe(true);
    expect(redacted.body).toBe("");
    expect(redacted.versions.every((v) => v.body === "")).toBe(true);
    expect(redacted.redaction).toMatchObject({ reason: "Named a witness", by: { name: "Loide Nakale", agency: "NA-POL" } });
  });

  it("is idempotent and order-independent by seq", () => {
    const once = new Timeline(STREAM);
    once.add(history);
    const shuffled = new Timeline(STREAM);
    expect(shuffled.add([history[5]!, history[2]!])).toBe(true);
    expect(shuffled.add([...history].reverse())).toBe(true);
    expect(shuffled.add(history)).toBe(false);
    expect(shuffled.entries()).toEqual(once.entries());
    expect(shuffled.size).toBe(6);
  });

  it("knows what it holds: lowest, highest, and whether the start is loaded", () => {
    const timeline = new Timeline(STREAM);
    timeline.add(history.slice(3));
    expect([timeline.lowest, timeline.highest, timeline.complete]).toEqual([4, 6, false]);
    // An edit whose posting is not loaded yet is shown as an event row.
    expect(timeline.entries()[0]).toMatchObject({ type: "event", seq: 4 });
    timeline.add(history.slice(0, 3));
    expect(timeline.complete).toBe(true);
    expect(timeline.entries()[1]).toMatchObject({ type: "message", seq: 2 });
  });

  it("ignores events of other streams", () => {
    const timeline = new Timeline(STREAM);
    expect(timeline.add([{ ...history[0]!, stream: "incident:OTHER" } as EventFrame])).toBe(false);
  });
});
