import { describe, expect, it } from "vitest";
import type { Me } from "../api/types";
import type { EventFrame } from "../realtime/protocol";
import { canCosign, canManage, canWork, completionProblem, movesFor } from "./rules";
import { applyOperationEvent, cosignState, fromSnapshot, isOverdue, progressOf, withRecord } from "./store";
import type { OperationSnapshot } from "./store";

const STREAM = "operation:OP-WDH-2026-0001";

function task(id: number, over: Partial<OperationSnapshot["tasks"][number]> = {}): OperationSnapshot["tasks"][number] {
  return {
    id,
    position: id,
    title: `Task ${id}`,
    guidance: "",
    agency_kind: "immigration",
    assigned_agency: "NA-IMM",
    assignees: [],
    due_at: "2026-12-03T12:00:00Z",
    status: "open",
    requires_note: false,
    requires_cosign: false,
    note: "",
    evidence: "",
    reason: "",
    completed_by: null,
    completed_at: null,
    cosigned_by: null,
    cosigned_agency: null,
    cosigned_at: null,
    adhoc: false,
    escalated_at: null,
    ...over,
  };
}

const snapshot: OperationSnapshot = {
  ref: "OP-WDH-2026-0001",
  crossing_point: "WDH",
  title: "Trafficking screening",
  status: "active",
  template: "trafficking-screening",
  template_version: 1,
  incident: "WDH-2026-0001",
  lead_agency: "NA-IMM",
  started_by: { username: "na-imm.coord", name: "T. Kandjii" },
  started_at: "2026-12-03T10:00:00Z",
  closed_at: null,
  close_note: "",
  stream: STREAM,
  seq: 5,
  tasks: [task(1), task(2, { assigned_agency: "NA-POL", requires_note: true, requires_cosign: true }), task(3, { assigned_agency: null })],
};

const pol = { id: 7, username: "na-pol.duty", name: "L. Nakale", agency: "NA-POL" };
const cus = { id: 8, username: "na-cus.duty", name: "J. Shikongo", agency: "NA-CUS" };

function ev(seq: number, kind: string, payload: Record<string, unknown>, actor: EventFrame["actor"] = pol): EventFrame {
  return { type: "event", stream: STREAM, seq, kind, at: `2026-12-03T11:00:${String(seq).padStart(2, "0")}Z`, actor, payload } as EventFrame;
}

function me(username: string, grants: [string, string][]): Me {
  return {
    id: 1,
    username,
    name: username,
    memberships: grants.map(([agency, role]) => ({ agency, agency_name: agency, agency_kind: "other", role, crossing_points: ["WDH"] })),
  } as Me;
}

describe("operation store", () => {
  it("fills in who did what and the names behind the co-sign sentence from the record", () => {
    // The snapshot as a reload sees it: usernames only, no history.
    const reloaded = fromSnapshot({
      ...snapshot,
      tasks: [task(1), task(2, { assigned_agency: "NA-POL", requires_cosign: true, status: "done", completed_by: "na-pol.duty", completed_at: "2026-12-03T11:00:03Z", cosigned_by: "na-cus.duty", cosigned_agency: "NA-CUS", cosigned_at: "2026-12-03T11:00:04Z" })],
    });
    expect(cosignState(reloaded.tasks[1]!)).toMatchObject({ kind: "cosigned", doneBy: "na-pol.duty", doneAgency: null });
    const record = [
      ev(1, "operation.started", { ref: snapshot.ref }),
      ev(2, "task.status_changed", { task_id: 2, from_status: "open", to_status: "in_progress" }),
      ev(3, "task.status_changed", { task_id: 2, from_status: "in_progress", to_status: "done", note: "Referred" }),
      ev(4, "task.cosigned", { task_id: 2, agency: "NA-CUS", note: "" }, cus),
      ev(6, "task.noted", { task_id: 2, note: "later" }), // beyond the snapshot: the live feed brings it
    ];
    const filled = withRecord(reloaded, record);
    const t2 = filled.tasks[1]!;
    expect(t2.history.map((h) => h.seq)).toEqual([2, 3, 4]);
    expect(cosignState(t2)).toMatchObject({ kind: "cosigned", doneBy: "L. Nakale", doneAgency: "NA-POL", by: "J. Shikongo", agency: "NA-CUS" });
    expect(filled.tasks[0]!.history).toEqual([]);
    // Twice, or after live lines arrived: each line once, in order.
    expect(withRecord(filled, record).tasks[1]!.history.map((h) => h.seq)).toEqual([2, 3, 4]);
  });

  it("reopening a done task withdraws its co-sign", () => {
    let s = fromSnapshot({ ...snapshot, tasks: [task(2, { assigned_agency: "NA-POL", requires_cosign: true, status: "done", completed_by: "na-pol.duty", completed_at: "2026-12-03T11:00:03Z", cosigned_by: "na-cus.duty", cosigned_agency: "NA-CUS", cosigned_at: "2026-12-03T11:00:04Z" })] });
    s = applyOperationEvent(s, ev(6, "task.status_changed", { task_id: 2, from_status: "done", to_status: "in_progress" }));
    expect(s.tasks[0]).toMatchObject({ status: "in_progress", completedBy: null, cosignedBy: null, cosignedAgency: null, cosignedAt: null });
    expect(cosignState(s.tasks[0]!)).toEqual({ kind: "none" });
  });

  it("applies task events and derives progress", () => {
    let s = fromSnapshot(snapshot);
    s = applyOperationEvent(s, ev(6, "task.status_changed", { task_id: 2, from_status: "open", to_status: "in_progress", note: "", evidence: "", reason: "" }));
    s = applyOperationEvent(s, ev(7, "task.status_changed", { task_id: 2, from_status: "in_progress", to_status: "done", note: "Adult interviewed", evidence: "form 12", reason: "" }));
    s = applyOperationEvent(s, ev(8, "task.status_changed", { task_id: 3, from_status: "open", to_status: "not_applicable", note: "", evidence: "", reason: "No vessel" }));
    const t2 = s.tasks.find((t) => t.id === 2)!;
    expect(t2).toMatchObject({ status: "done", note: "Adult interviewed", evidence: "form 12", completedBy: "na-pol.duty", completedAgency: "NA-POL" });
    expect(t2.history.map((h) => h.seq)).toEqual([6, 7]);
    expect(s.tasks.find((t) => t.id === 3)).toMatchObject({ status: "not_applicable", reason: "No vessel" });
    expect(progressOf(s, Date.parse("2026-12-03T11:00:00Z"))).toEqual({ total: 3, done: 1, not_applicable: 1, open: 1, in_progress: 0, blocked: 0, overdue: 0 });
  });

  it("is idempotent and monotonic by seq", () => {
    const s = fromSnapshot(snapshot);
    const event = ev(6, "task.cosigned", { task_id: 2, agency: "NA-CUS", note: "" }, cus);
    const once = applyOperationEvent(s, event);
    expect(applyOperationEvent(once, event)).toBe(once);
    expect(applyOperationEvent(s, ev(5, "operation.closed", { note: "x" }))).toBe(s);
  });

  it("adds, reassigns (clearing a co-sign) and removes tasks, and closes", () => {
    let s = fromSnapshot(snapshot);
    s = applyOperationEvent(s, ev(6, "task.cosigned", { task_id: 2, agency: "NA-CUS", note: "" }, cus));
    s = applyOperationEvent(s, ev(7, "task.assigned", { task_id: 2, agency: "NA-CUS", assignees: ["na-cus.duty"], cosign_cleared: "NA-CUS" }));
    expect(s.tasks.find((t) => t.id === 2)).toMatchObject({ assignedAgency: "NA-CUS", assignees: ["na-cus.duty"], cosignedAt: null });
    s = applyOperationEvent(s, ev(8, "task.added", { task: { id: 9, position: 9, title: "Call the embassy", guidance: "", agency_kind: "immigration", assigned_agency: "NA-IMM", assignees: [], due_at: null, status: "open", requires_note: false, requires_cosign: false, adhoc: true } }));
    s = applyOperationEvent(s, ev(9, "task.removed", { task_id: 9, reason: "Done by phone" }));
    s = applyOperationEvent(s, ev(10, "operation.closed", { note: "All done" }));
    expect(s.tasks.find((t) => t.id === 9)).toMatchObject({ adhoc: true, removed: true });
    expect(progressOf(s, 0).total).toBe(3);
    expect(s).toMatchObject({ status: "closed", closeNote: "All done" });
  });

  it("computes overdue against the clock it is given", () => {
    const s = fromSnapshot(snapshot);
    const t1 = s.tasks[0]!;
    expect(isOverdue(t1, Date.parse("2026-12-03T11:59:59Z"))).toBe(false);
    expect(isOverdue(t1, Date.parse("2026-12-03T12:00:00Z"))).toBe(true);
    expect(progressOf(s, Date.parse("2026-12-03T13:00:00Z")).overdue).toBe(3);
    expect(isOverdue({ ...t1, status: "done" }, Date.parse("2026-12-04T00:00:00Z"))).toBe(false);
  });

  it("says where a co-sign stands", () => {
    let s = fromSnapshot(snapshot);
    s = applyOperationEvent(s, ev(6, "task.status_changed", { task_id: 2, from_status: "open", to_status: "done", note: "n", evidence: "", reason: "" }));
    expect(cosignState(s.tasks[1]!)).toMatchObject({ kind: "awaiting", doneBy: "L. Nakale", doneAgency: "NA-POL" });
    s = applyOperationEvent(s, ev(7, "task.cosigned", { task_id: 2, agency: "NA-CUS", note: "" }, cus));
    expect(cosignState(s.tasks[1]!)).toMatchObject({ kind: "cosigned", by: "J. Shikongo", agency: "NA-CUS" });
    expect(cosignState(s.tasks[0]!)).toEqual({ kind: "none" });
  });
});

describe("task action rules (hub/operations/permissions.py)", () => {
  const op = fromSnapshot(snapshot);
  const t1 = op.tasks[0]!;
  const t2 = op.tasks[1]!;

  it("lets coordinators of the operation's agencies manage it, not others", () => {
    expect(canManage(me("na-imm.coord", [["NA-IMM", "coordinator"]]), op)).toBe(true);
    expect(canManage(me("na-pol.coord", [["NA-POL", "coordinator"]]), op)).toBe(true);
    expect(canManage(me("na-cus.coord", [["NA-CUS", "coordinator"]]), op)).toBe(false);
    expect(canManage(me("na-imm.duty", [["NA-IMM", "duty_officer"]]), op)).toBe(false);
    expect(canManage(me("na-imm.coord", [["NA-IMM", "coordinator"]]), { ...op, status: "closed" })).toBe(false);
  });

  it("lets the task's agency, its assignees and managers work it", () => {
    const polDuty = me("na-pol.duty", [["NA-POL", "duty_officer"]]);
    expect(canWork(polDuty, op, t2)).toBe(true);
    expect(canWork(polDuty, op, t1)).toBe(false);
    expect(canWork(polDuty, op, { ...t1, assignees: ["na-pol.duty"] })).toBe(true);
    expect(movesFor(polDuty, op, t2)).toEqual(["in_progress", "blocked", "not_applicable"]);
    expect(movesFor(polDuty, op, t1)).toEqual([]);
  });

  it("lets another agency co-sign, never the completing one or officer", () => {
    const done = { ...t2, status: "done" as const, completedBy: "na-pol.duty", completedAgency: "NA-POL" };
    expect(canCosign(me("na-cus.duty", [["NA-CUS", "duty_officer"]]), op, done)).toBe(true);
    expect(canCosign(me("na-pol.coord", [["NA-POL", "coordinator"]]), op, done)).toBe(false);
    expect(canCosign(me("na-pol.duty", [["NA-CUS", "duty_officer"]]), op, done)).toBe(false);
    expect(canCosign(me("na-cus.duty", [["NA-CUS", "duty_officer"]]), op, t1)).toBe(false);
  });

  it("requires a note where the task does", () => {
    expect(completionProblem(t2, "")).toBe("note_required");
    expect(completionProblem(t2, "Interviewed")).toBeNull();
    expect(completionProblem(t1, "")).toBeNull();
    // Text evidence or evidence files (new, or already on the task) do as well.
    expect(completionProblem(t2, "", "form 12")).toBeNull();
    expect(completionProblem(t2, "", "", 1)).toBeNull();
    expect(completionProblem({ ...t2, files: [7] }, "")).toBeNull();
  });
});

describe("evidence files on tasks", () => {
  it("come from the snapshot and from task events, each once, in order", () => {
    let s = fromSnapshot({ ...snapshot, tasks: [task(1, { attachments: [{ id: 4 }] }), task(2)] });
    expect(s.tasks.map((x) => x.files)).toEqual([[4], []]);
    s = applyOperationEvent(s, ev(20, "task.noted", { task_id: 1, note: "photos", evidence: "", attachments: [5, 4] }));
    s = applyOperationEvent(s, ev(21, "task.status_changed", { task_id: 2, from_status: "open", to_status: "done", note: "", evidence: "", reason: "", attachments: [6] }));
    s = applyOperationEvent(s, ev(22, "task.noted", { task_id: 2, note: "no files this time", evidence: "" }));
    expect(s.tasks.map((x) => x.files)).toEqual([[4, 5], [6]]);
  });
});
