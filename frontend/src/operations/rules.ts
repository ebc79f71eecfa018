// What an officer may do with an operation and its tasks: the same rules as
// hub/operations/permissions.py, so the page offers only the moves the hub will
// accept (the hub still decides, and a refusal shows next to the task).

import type { Me } from "../api/types";
import type { OperationState, TaskState, TaskStatus } from "./store";

const READER_ROLES = ["duty_officer", "coordinator", "senior_official"];

export const TASK_TRANSITIONS: Record<TaskStatus, TaskStatus[]> = {
  open: ["in_progress", "blocked", "not_applicable"],
  in_progress: ["done", "blocked", "not_applicable", "open"],
  blocked: ["in_progress", "not_applicable"],
  not_applicable: ["open"],
  done: ["in_progress"],
};

export const NEEDS_REASON: readonly TaskStatus[] = ["blocked", "not_applicable"];

function grants(me: Me | null, point: string, roles: readonly string[]) {
  return (me?.memberships ?? []).filter((m) => roles.includes(m.role) && m.crossing_points.includes(point));
}

/** The lead agency and every agency with a task in the operation. */
export function operationAgencies(op: OperationState): Set<string> {
  const out = new Set([op.leadAgency]);
  for (const task of op.tasks) if (!task.removed && task.assignedAgency) out.add(task.assignedAgency);
  return out;
}

/** Coordinators of the agencies in the operation assign, add and remove tasks, and close it. */
export function canManage(me: Me | null, op: OperationState): boolean {
  if (op.status === "closed") return false;
  const agencies = operationAgencies(op);
  return grants(me, op.crossingPoint, ["coordinator"]).some((g) => agencies.has(g.agency));
}

/** The task's agency, its assignees, or a managing coordinator work a task. */
export function canWork(me: Me | null, op: OperationState, task: TaskState): boolean {
  if (op.status === "closed" || task.removed) return false;
  const readers = grants(me, op.crossingPoint, READER_ROLES);
  if (task.assignedAgency !== null && readers.some((g) => g.agency === task.assignedAgency)) return true;
  if (readers.length > 0 && me !== null && task.assignees.includes(me.username)) return true;
  return canManage(me, op);
}

/**
 * An officer of another agency than the task's co-signs; never the officer who
 * completed it, nor one of the completing agency.
 */
export function canCosign(me: Me | null, op: OperationState, task: TaskState): boolean {
  if (op.status === "closed" || task.removed || !task.requiresCosign || task.cosignedAt !== null) return false;
  if (me !== null && task.completedBy === me.username) return false;
  return grants(me, op.crossingPoint, READER_ROLES).some(
    (g) => g.agency !== task.assignedAgency && (task.completedAgency === null || g.agency !== task.completedAgency),
  );
}

/** The status moves to offer on a task. */
export function movesFor(me: Me | null, op: OperationState, task: TaskState): TaskStatus[] {
  return canWork(me, op, task) ? TASK_TRANSITIONS[task.status] : [];
}

/** Is this task "mine" (assigned to me) or "my agency's"? */
export function isMine(me: Me | null, task: TaskState): boolean {
  return me !== null && task.assignees.includes(me.username);
}

export function isMyAgency(me: Me | null, op: OperationState, task: TaskState): boolean {
  return task.assignedAgency !== null && grants(me, op.crossingPoint, READER_ROLES).some((g) => g.agency === task.assignedAgency);
}

/** What a completion still lacks (the hub refuses a completion without a required note). */
/** A task that needs a note is done only with a note, text evidence or evidence files (new or already there). */
export function completionProblem(task: TaskState, note: string, evidence = "", newFiles = 0): "note_required" | null {
  const shown = note.trim() || task.note.trim() || evidence.trim() || task.evidence.trim() || newFiles > 0 || task.files.length > 0;
  return task.requiresNote && !shown ? "note_required" : null;
}
