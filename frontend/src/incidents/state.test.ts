import { describe, expect, it } from "vitest";
import type { EventFrame } from "../realtime/protocol";
import { applyIncidentEvent, isOpen, needsReason, TRANSITIONS, unreadCount } from "./state";
import type { IncidentState } from "./state";

const base = {
  ref: "WDH-2026-0001",
  crossing_point: "WDH",
  title: "Minor travelling",
  description: "",
  category: "trafficking_in_persons",
  severity: "high",
  status: "reported",
  people_count: 2,
  occurred_at: "2026-12-03T10:00:00Z",
  location_detail: "",
  visibility: "participants",
  reporting_agency: "NA-IMM",
  lead_agency: "NA-IMM",
  participating_agencies: ["NA-IMM"],
  reported_by: { id: 1, username: "na-imm.duty", name: "N. Amutenya" },
  created_at: "2026-12-03T10:00:00Z",
  updated_at: "2026-12-03T10:00:00Z",
  stream: "incident:WDH-2026-0001",
  seq: 3,
  read_seq: 3,
} as unknown as IncidentState;

function ev(seq: number, kind: string, payload: Record<string, unknown>): EventFrame {
  return { type: "event", stream: base.stream, seq, kind, at: "2026-12-03T11:00:00Z", actor: null, payload } as EventFrame;
}

describe("applyIncidentEvent", () => {
  it("moves status, lead, agencies and fields forward", () => {
    let s = applyIncidentEvent(base, ev(4, "incident.transitioned", { from_status: "reported", to_status: "triaged" }));
    s = applyIncidentEvent(s, ev(5, "incident.agency_invited", { agency: "NA-POL" }));
    s = applyIncidentEvent(s, ev(6, "incident.lead_changed", { old: "NA-IMM", new: "NA-POL" }));
    s = applyIncidentEvent(s, ev(7, "incident.updated", { changes: { severity: { old: "high", new: "critical" }, secret: { old: 1, new: 2 } } }));
    expect(s).toMatchObject({ status: "triaged", lead_agency: "NA-POL", participating_agencies: ["NA-IMM", "NA-POL"], severity: "critical", seq: 7 });
    expect((s as unknown as Record<string, unknown>).secret).toBeUndefined();
  });

  it("is monotonic: an event the state already reflects changes nothing", () => {
    const same = applyIncidentEvent(base, ev(3, "incident.transitioned", { to_status: "closed" }));
    expect(same).toBe(base);
    const once = applyIncidentEvent(base, ev(4, "incident.agency_invited", { agency: "NA-POL" }));
    expect(applyIncidentEvent(once, ev(4, "incident.agency_invited", { agency: "NA-POL" }))).toBe(once);
  });

  it("counts unread events past the read marker", () => {
    const s = applyIncidentEvent(base, ev(9, "message.posted", { message_id: 1, body: "x" }));
    expect(unreadCount(s)).toBe(6);
    expect(unreadCount({ ...s, read_seq: 9 })).toBe(0);
  });

  it("knows open statuses, transitions and which need a reason (hub/incidents/permissions.py)", () => {
    expect(isOpen({ status: "active" })).toBe(true);
    expect(isOpen({ status: "resolved" })).toBe(false);
    expect(TRANSITIONS.closed).toEqual(["active"]);
    expect(needsReason("active", "resolved")).toBe(true);
    expect(needsReason("reported", "triaged")).toBe(false);
  });
});
