import { describe, expect, it } from "vitest";
import { AlertBoard, ackSummary, displayTitle, isLive, owedBy, standing } from "./store";
import type { AlertOut } from "../api/types";
import type { ActorRef, EventFrame } from "../realtime/protocol";

const T0 = Date.parse("2026-11-22T08:00:00Z");
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();

const cus: ActorRef = { id: 7, username: "na-cus.duty", name: "Helvi Nghipandulwa", agency: "NA-CUS" };
const imm: ActorRef = { id: 3, username: "na-imm.duty", name: "Ndapewa Amutenya", agency: "NA-IMM" };

let seq = 0;
function ev(kind: string, payload: Record<string, unknown>, actor: ActorRef | null = imm, minutes = 0): EventFrame {
  seq += 1;
  return { type: "event", stream: "crossing:WDH", seq, kind, at: at(minutes), actor, payload };
}

function issued(overrides: Record<string, unknown> = {}): EventFrame {
  return ev("alert.issued", {
    alert_id: 5,
    version: 1,
    crossing_point: "WDH",
    category: "document_fraud",
    severity: "high",
    urgency: "Expected",
    certainty: "Likely",
    title: "Counterfeit visas",
    body: "Check every visa.",
    expires_at: at(600),
    exercise: false,
    ack_required: true,
    targets: ["NA-CUS", "NA-POL", "NA-AIR"],
    due_at: at(15),
    incident: "WDH-2026-0001",
    issuing_agency: "NA-IMM",
    ...overrides,
  });
}

function snapshot(overrides: Partial<AlertOut> = {}): AlertOut {
  return {
    id: 5,
    crossing_point: "WDH",
    category: "document_fraud",
    severity: "high",
    urgency: "Expected",
    certainty: "Likely",
    title: "Counterfeit visas",
    body: "Check every visa.",
    exercise: false,
    ack_required: true,
    status: "active",
    version: 1,
    incident: null,
    issuing_agency: "NA-IMM",
    issued_by: { id: 3, username: "na-imm.duty", name: "Ndapewa Amutenya" },
    created_at: at(0),
    updated_at: at(0),
    expires_at: null,
    cancel_reason: "",
    targets: [
      { agency: "NA-CUS", due_at: at(15), acknowledged: false, acknowledged_at: null, acknowledged_by: null, overdue: false, escalated_at: null },
      {
        agency: "NA-POL",
        due_at: at(15),
        acknowledged: true,
        acknowledged_at: at(2),
        acknowledged_by: { id: 9, username: "na-pol.duty", name: "Johannes Shikongo" },
        overdue: false,
        escalated_at: null,
      },
    ],
    pending: ["NA-CUS"],
    stream: "crossing:WDH",
    ...overrides,
  };
}

describe("AlertBoard.apply", () => {
  it("adds an issued alert with every target waiting", () => {
    const board = new AlertBoard();
    expect(board.apply(issued())).toEqual({ alertId: 5, change: "issued", known: true, changed: true });
    const alert = board.get(5)!;
    expect(alert).toMatchObject({ title: "Counterfeit visas", status: "active", issuingAgency: "NA-IMM", exercise: false });
    expect(alert.issuedBy).toEqual({ name: "Ndapewa Amutenya", username: "na-imm.duty" });
    // Kept in agency-code order, as the REST snapshot lists them.
    expect(alert.targets.map((t) => [t.agency, standing(alert, t, T0)])).toEqual([
      ["NA-AIR", "waiting"],
      ["NA-CUS", "waiting"],
      ["NA-POL", "waiting"],
    ]);
  });

  it("records who acknowledged for which agency, and when; a repeat changes nothing", () => {
    const board = new AlertBoard();
    board.apply(issued());
    const ack = ev("alert.acknowledged", { alert_id: 5, exercise: false, agency: "NA-CUS", pending: ["NA-POL", "NA-AIR"] }, cus, 3);
    expect(board.apply(ack)).toEqual({ alertId: 5, change: "acknowledged", known: true, changed: true, agency: "NA-CUS" });
    const target = board.get(5)!.targets.find((t) => t.agency === "NA-CUS")!;
    expect(target.acknowledgedBy).toEqual({ name: "Helvi Nghipandulwa", username: "na-cus.duty" });
    expect(target.acknowledgedAt).toBe(at(3));
    expect(board.apply({ ...ack, seq: ack.seq + 1, at: at(9) })).toMatchObject({ changed: false });
    expect(board.get(5)!.targets.find((t) => t.agency === "NA-CUS")!.acknowledgedAt).toBe(at(3));
    const summary = ackSummary(board.get(5)!, T0 + 4 * 60_000);
    expect(summary.acknowledged.map((t) => t.agency)).toEqual(["NA-CUS"]);
    expect(summary.waiting.map((t) => t.agency)).toEqual(["NA-AIR", "NA-POL"]);
  });

  it("shows an escalated agency as overdue, until it acknowledges", () => {
    const board = new AlertBoard();
    board.apply(issued());
    board.apply(ev("alert.escalated", { alert_id: 5, exercise: false, agency: "NA-AIR", due_at: at(15), notified: ["na-air.duty"] }, null, 16));
    const alert = board.get(5)!;
    const air = alert.targets.find((t) => t.agency === "NA-AIR")!;
    expect(air.escalatedAt).toBe(at(16));
    expect(standing(alert, air, T0 + 17 * 60_000)).toBe("overdue");
    // Past the due time every agency that has not acknowledged is overdue.
    expect(ackSummary(alert, T0 + 17 * 60_000).overdue.map((t) => t.agency)).toEqual(["NA-AIR", "NA-CUS", "NA-POL"]);
    expect(ackSummary(alert, T0 + 10 * 60_000).overdue.map((t) => t.agency)).toEqual(["NA-AIR"]);
    board.apply(ev("alert.acknowledged", { alert_id: 5, exercise: false, agency: "NA-AIR", pending: [] }, null, 18));
    expect(standing(board.get(5)!, air, T0 + 19 * 60_000)).toBe("acknowledged");
  });

  it("a target past its due time is overdue even before the escalation event", () => {
    const board = new AlertBoard();
    board.apply(issued());
    const alert = board.get(5)!;
    const cusTarget = alert.targets.find((t) => t.agency === "NA-CUS")!;
    expect(standing(alert, cusTarget, T0 + 14 * 60_000)).toBe("waiting");
    expect(standing(alert, cusTarget, T0 + 15 * 60_000)).toBe("overdue");
  });

  it("applies an update only with a newer version", () => {
    const board = new AlertBoard();
    board.apply(issued());
    const update = ev("alert.updated", {
      alert_id: 5,
      version: 2,
      exercise: false,
      changes: { title: { old: "Counterfeit visas", new: "Counterfeit visas and stamps" }, severity: { old: "high", new: "critical" } },
    });
    expect(board.apply(update)).toMatchObject({ change: "updated", changed: true });
    expect(board.get(5)).toMatchObject({ title: "Counterfeit visas and stamps", severity: "critical", version: 2 });
    const stale = ev("alert.updated", { alert_id: 5, version: 2, exercise: false, changes: { title: { old: "x", new: "stale" } } });
    expect(board.apply(stale)).toMatchObject({ changed: false });
    expect(board.get(5)!.title).toBe("Counterfeit visas and stamps");
  });

  it("a cancelled alert stays cancelled, with its reason, and owes nothing", () => {
    const board = new AlertBoard();
    board.apply(issued());
    expect(board.apply(ev("alert.cancelled", { alert_id: 5, version: 2, exercise: false, reason: "Issued in error" }, imm, 5))).toMatchObject({
      change: "cancelled",
      changed: true,
    });
    board.apply(ev("alert.expired", { alert_id: 5, version: 2, exercise: false }, null, 7));
    const alert = board.get(5)!;
    expect(alert).toMatchObject({ status: "cancelled", cancelReason: "Issued in error", endedAt: at(5) });
    expect(isLive(alert, T0 + 6 * 60_000)).toBe(false);
    expect(owedBy(alert, ["NA-CUS"], T0 + 6 * 60_000)).toEqual([]);
  });

  it("marks expiry, from the event or from the clock", () => {
    const board = new AlertBoard();
    board.apply(issued({ expires_at: at(60) }));
    expect(isLive(board.get(5)!, T0 + 59 * 60_000)).toBe(true);
    expect(isLive(board.get(5)!, T0 + 60 * 60_000)).toBe(false);
    board.apply(ev("alert.expired", { alert_id: 5, version: 1, exercise: false }, null, 61));
    expect(board.get(5)).toMatchObject({ status: "expired", endedAt: at(61) });
  });

  it("reports events about alerts it does not hold, so the app fetches them", () => {
    const board = new AlertBoard();
    expect(board.apply(ev("alert.acknowledged", { alert_id: 42, exercise: false, agency: "NA-CUS", pending: [] }, cus))).toEqual({
      alertId: 42,
      change: "acknowledged",
      known: false,
      changed: false,
      agency: "NA-CUS",
    });
    expect(board.size).toBe(0);
  });

  it("ignores events that are not about alerts", () => {
    const board = new AlertBoard();
    expect(board.apply(ev("operation.started", { ref: "OP-1" }))).toBeNull();
  });
});

describe("AlertBoard.merge (snapshot, then the events after its head)", () => {
  it("replaying events the snapshot already holds changes nothing", () => {
    const board = new AlertBoard();
    expect(board.merge(snapshot())).toBe(true);
    // The issued and NA-POL's acknowledgement were before the snapshot.
    expect(board.apply(issued())).toMatchObject({ changed: false });
    expect(
      board.apply(ev("alert.acknowledged", { alert_id: 5, exercise: false, agency: "NA-POL", pending: ["NA-CUS"] }, null, 8)),
    ).toMatchObject({ changed: false });
    const pol = board.get(5)!.targets.find((t) => t.agency === "NA-POL")!;
    expect(pol.acknowledgedBy?.name).toBe("Johannes Shikongo");
    expect(pol.acknowledgedAt).toBe(at(2));
    expect(board.merge(snapshot())).toBe(false);
  });

  it("snapshot plus events equals a later snapshot", () => {
    const live = new AlertBoard();
    live.merge(snapshot());
    live.apply(ev("alert.acknowledged", { alert_id: 5, exercise: false, agency: "NA-CUS", pending: [] }, cus, 4));
    const later = new AlertBoard();
    later.merge(
      snapshot({
        targets: [
          {
            agency: "NA-CUS",
            due_at: at(15),
            acknowledged: true,
            acknowledged_at: at(4),
            acknowledged_by: { id: 7, username: "na-cus.duty", name: "Helvi Nghipandulwa" },
            overdue: false,
            escalated_at: null,
          },
          snapshot().targets[1]!,
        ],
        pending: [],
      }),
    );
    expect(live.get(5)).toEqual(later.get(5));
  });

  it("keeps an acknowledgement the board has when an older snapshot arrives", () => {
    const board = new AlertBoard();
    board.merge(snapshot());
    board.apply(ev("alert.acknowledged", { alert_id: 5, exercise: false, agency: "NA-CUS", pending: [] }, cus, 4));
    board.merge(snapshot());
    expect(board.get(5)!.targets[0]!.acknowledgedBy?.username).toBe("na-cus.duty");
  });

  it("takes a newer version's fields and an ended status from a snapshot", () => {
    const board = new AlertBoard();
    board.apply(issued());
    board.merge(snapshot({ version: 3, title: "Revised", status: "cancelled", cancel_reason: "Resolved", updated_at: at(30) }));
    expect(board.get(5)).toMatchObject({ title: "Revised", version: 3, status: "cancelled", cancelReason: "Resolved", endedAt: at(30) });
    // Targets are merged, not replaced: NA-AIR from the issue stays.
    expect(board.get(5)!.targets.map((t) => t.agency).sort()).toEqual(["NA-AIR", "NA-CUS", "NA-POL"]);
  });
});

describe("AlertBoard.visible", () => {
  it("lists alerts my agency owes first, then by severity; recently ended ones last", () => {
    const board = new AlertBoard();
    board.apply(issued({ alert_id: 1, severity: "critical", targets: ["NA-POL"] }));
    board.apply(issued({ alert_id: 2, severity: "low", targets: ["NA-CUS"] }));
    board.apply(issued({ alert_id: 3, severity: "medium", targets: ["NA-CUS"] }));
    board.apply(ev("alert.cancelled", { alert_id: 3, version: 2, exercise: false, reason: "wrong" }, imm, 1));
    board.apply(issued({ alert_id: 4, severity: "high", targets: ["NA-POL"], expires_at: at(-20 * 60) }));
    const ids = board.visible(T0 + 2 * 60_000, () => ["NA-CUS"]).map((a) => a.id);
    expect(ids).toEqual([2, 1, 3]); // 4 expired over 12 hours ago: gone
  });
});

describe("displayTitle", () => {
  it("marks a drill", () => {
    expect(displayTitle({ title: "Vessel", exercise: true })).toBe("EXERCISE — Vessel");
    expect(displayTitle({ title: "Vessel", exercise: false })).toBe("Vessel");
  });

  it("keeps the drill flag from the issue event", () => {
    const board = new AlertBoard();
    board.apply(issued({ exercise: true }));
    expect(board.get(5)!.exercise).toBe(true);
  });
});
