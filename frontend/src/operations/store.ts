// A joint operation as the checklist shows it: the REST snapshot moved forward
// by the events of `operation:<REF>` (pure). Monotonic by seq: an event the
// state already reflects changes nothing, so replays, repeats and the overlap
// between a snapshot and the stream are harmless. Progress and "overdue" are
// derived against a clock the caller passes in, never stored.

import type { SitrepState } from "../incidents/sitrep-state";
import { applySitrepEvent } from "../incidents/sitrep-state";
import type { EventFrame } from "../realtime/protocol";

export type TaskStatus = "open" | "in_progress" | "done" | "blocked" | "not_applicable";

export interface TaskHistoryLine {
  seq: number;
  at: string;
  kind: string;
  actor: { name: string; username: string | null; agency: string | null } | null;
  payload: Record<string, unknown>;
}

export interface TaskState {
  id: number;
  position: number;
  title: string;
  guidance: string;
  agencyKind: string;
  assignedAgency: string | null;
  assignees: string[];
  dueAt: string | null;
  status: TaskStatus;
  requiresNote: boolean;
  requiresCosign: boolean;
  note: string;
  evidence: string;
  /** Ids of the evidence files added to the task (files of the operation's incident). */
  files: number[];
  reason: string;
  completedBy: string | null;
  completedByName: string | null;
  completedAgency: string | null;
  completedAt: string | null;
  cosignedBy: string | null;
  cosignedByName: string | null;
  cosignedAgency: string | null;
  cosignedAt: string | null;
  adhoc: boolean;
  escalatedAt: string | null;
  removed: boolean;
  /** Who did what to this task (events seen by this client, oldest first). */
  history: TaskHistoryLine[];
}

export interface OperationState {
  ref: string;
  crossingPoint: string;
  title: string;
  status: string;
  template: string;
  templateVersion: number;
  incident: string | null;
  leadAgency: string;
  startedBy: { username: string; name: string };
  startedAt: string;
  closedAt: string | null;
  closeNote: string;
  tasks: TaskState[];
  stream: string;
  seq: number;
  sitrep: SitrepState | null;
}

export interface Progress {
  total: number;
  done: number;
  not_applicable: number;
  open: number;
  in_progress: number;
  blocked: number;
  overdue: number;
}

/** The REST shape (hub/operations/api.py OperationOut), loosely typed where it grows. */
export interface OperationSnapshot {
  ref: string;
  crossing_point: string;
  title: string;
  status: string;
  template: string;
  template_version: number;
  incident: string | null;
  lead_agency: string;
  started_by: { username: string; name: string };
  started_at: string;
  closed_at: string | null;
  close_note: string;
  stream: string;
  seq: number;
  sitrep?: SitrepState | null;
  tasks: {
    id: number;
    position: number;
    title: string;
    guidance: string;
    agency_kind: string;
    assigned_agency: string | null;
    assignees: string[];
    due_at: string | null;
    status: string;
    requires_note: boolean;
    requires_cosign: boolean;
    note: string;
    evidence: string;
    attachments?: { id: number }[];
    reason: string;
    completed_by: string | null;
    completed_at: string | null;
    cosigned_by: string | null;
    cosigned_agency: string | null;
    cosigned_at: string | null;
    adhoc: boolean;
    escalated_at: string | null;
  }[];
}

type Payload = Record<string, unknown>;

export function fromSnapshot(op: OperationSnapshot): OperationState {
  return {
    ref: op.ref,
    crossingPoint: op.crossing_point,
    title: op.title,
    status: op.status,
    template: op.template,
    templateVersion: op.template_version,
    incident: op.incident,
    leadAgency: op.lead_agency,
    startedBy: { username: op.started_by.username, name: op.started_by.name },
    startedAt: op.started_at,
    closedAt: op.closed_at,
    closeNote: op.close_note,
    stream: op.stream,
    seq: op.seq,
    sitrep: op.sitrep ?? null,
    tasks: op.tasks
      .map((t) => ({
        id: t.id,
        position: t.position,
        title: t.title,
        guidance: t.guidance,
        agencyKind: t.agency_kind,
        assignedAgency: t.assigned_agency,
        assignees: [...t.assignees],
        dueAt: t.due_at,
        status: t.status as TaskStatus,
        requiresNote: t.requires_note,
        requiresCosign: t.requires_cosign,
        note: t.note,
        evidence: t.evidence,
        files: (t.attachments ?? []).map((a) => a.id),
        reason: t.reason,
        completedBy: t.completed_by,
        completedByName: null,
        completedAgency: null,
        completedAt: t.completed_at,
        cosignedBy: t.cosigned_by,
        cosignedByName: null,
        cosignedAgency: t.cosigned_agency,
        cosignedAt: t.cosigned_at,
        adhoc: t.adhoc,
        escalatedAt: t.escalated_at,
        removed: false,
        history: [],
      }))
      .sort((a, b) => a.position - b.position),
  };
}

/** The task's files with those an event added (ids, in order, each once). */
function withFiles(files: number[], added: unknown): number[] {
  if (!Array.isArray(added)) return files;
  const ids = added.filter((a): a is number => typeof a === "number" && !files.includes(a));
  return ids.length ? [...files, ...ids] : files;
}

function taskFromPayload(raw: Payload): TaskState {
  return {
    id: Number(raw.id),
    position: Number(raw.position ?? 0),
    title: String(raw.title ?? ""),
    guidance: String(raw.guidance ?? ""),
    agencyKind: String(raw.agency_kind ?? ""),
    assignedAgency: (raw.assigned_agency as string | null) ?? null,
    assignees: Array.isArray(raw.assignees) ? raw.assignees.map(String) : [],
    dueAt: (raw.due_at as string | null) ?? null,
    status: (raw.status as TaskStatus) ?? "open",
    requiresNote: Boolean(raw.requires_note),
    requiresCosign: Boolean(raw.requires_cosign),
    note: "",
    evidence: "",
    files: [],
    reason: "",
    completedBy: null,
    completedByName: null,
    completedAgency: null,
    completedAt: null,
    cosignedBy: null,
    cosignedByName: null,
    cosignedAgency: null,
    cosignedAt: null,
    adhoc: Boolean(raw.adhoc),
    escalatedAt: null,
    removed: false,
    history: [],
  };
}

function line(event: EventFrame): TaskHistoryLine {
  return {
    seq: event.seq,
    at: event.at,
    kind: event.kind,
    actor: event.actor ? { name: event.actor.name, username: event.actor.username ?? null, agency: event.actor.agency ?? null } : null,
    payload: event.payload as Payload,
  };
}

function taskIdOf(event: EventFrame): number | null {
  const p = event.payload as Payload;
  if (typeof p.task_id === "number") return p.task_id;
  if (event.kind === "task.added" && typeof (p.task as Payload | undefined)?.id === "number") return (p.task as Payload).id as number;
  return null;
}

/**
 * Fill in what the REST snapshot leaves out, from the operation's own events up
 * to the snapshot's seq: each task's "who did what", and the names and agencies
 * behind "done by" and "co-signed by". Lines already present (seen live) are
 * kept once, in seq order.
 */
export function withRecord(state: OperationState, events: readonly EventFrame[]): OperationState {
  const byTask = new Map<number, EventFrame[]>();
  for (const event of events) {
    if (event.stream !== state.stream || event.seq > state.seq) continue;
    const id = taskIdOf(event);
    if (id === null) continue;
    const list = byTask.get(id) ?? [];
    list.push(event);
    byTask.set(id, list);
  }
  if (byTask.size === 0) return state;
  const tasks = state.tasks.map((task) => {
    const mine = byTask.get(task.id);
    if (!mine) return task;
    const seen = new Set(task.history.map((h) => h.seq));
    const history = [...task.history, ...mine.filter((e) => !seen.has(e.seq)).map(line)].sort((a, b) => a.seq - b.seq);
    const next: TaskState = { ...task, history };
    for (const event of [...mine].sort((a, b) => a.seq - b.seq)) {
      const p = event.payload as Payload;
      const who = event.actor?.username ?? null;
      if (event.kind === "task.status_changed" && p.to_status === "done" && who !== null && who === task.completedBy) {
        next.completedByName = event.actor?.name ?? null;
        next.completedAgency = event.actor?.agency ?? null;
      } else if (event.kind === "task.cosigned" && who !== null && who === task.cosignedBy) {
        next.cosignedByName = event.actor?.name ?? null;
      }
    }
    return next;
  });
  return { ...state, tasks };
}

/** The state after `event`, or the same object when it changes nothing. */
export function applyOperationEvent(state: OperationState, event: EventFrame): OperationState {
  if (event.seq <= state.seq || event.stream !== state.stream) return state;
  const p = event.payload as Payload;
  const next: OperationState = { ...state, seq: event.seq };
  const taskId = typeof p.task_id === "number" ? p.task_id : null;
  const edit = (id: number, change: (task: TaskState) => TaskState) => {
    next.tasks = next.tasks.map((t) => (t.id === id ? { ...change(t), history: [...t.history, line(event)] } : t));
  };
  switch (event.kind) {
    case "operation.closed":
      next.status = "closed";
      next.closedAt = event.at;
      next.closeNote = String(p.note ?? "");
      break;
    case "task.added": {
      const task = taskFromPayload((p.task ?? {}) as Payload);
      if (!next.tasks.some((t) => t.id === task.id)) {
        next.tasks = [...next.tasks, { ...task, history: [line(event)] }].sort((a, b) => a.position - b.position);
      }
      break;
    }
    case "task.removed":
      if (taskId !== null) edit(taskId, (t) => ({ ...t, removed: true, reason: String(p.reason ?? "") }));
      break;
    case "task.assigned":
      if (taskId !== null)
        edit(taskId, (t) => ({
          ...t,
          assignedAgency: (p.agency as string | null) ?? null,
          assignees: Array.isArray(p.assignees) ? p.assignees.map(String) : [],
          ...(p.cosign_cleared ? { cosignedBy: null, cosignedByName: null, cosignedAgency: null, cosignedAt: null } : {}),
        }));
      break;
    case "task.status_changed":
      if (taskId !== null)
        edit(taskId, (t) => {
          const to = String(p.to_status ?? t.status) as TaskStatus;
          const done = to === "done";
          return {
            ...t,
            status: to,
            note: p.note ? String(p.note) : t.note,
            evidence: p.evidence ? String(p.evidence) : t.evidence,
            files: withFiles(t.files, p.attachments),
            reason: to === "blocked" || to === "not_applicable" ? String(p.reason ?? "") : t.reason,
            completedBy: done ? (event.actor?.username ?? null) : to === t.status ? t.completedBy : null,
            completedByName: done ? (event.actor?.name ?? null) : to === t.status ? t.completedByName : null,
            completedAgency: done ? (event.actor?.agency ?? null) : to === t.status ? t.completedAgency : null,
            completedAt: done ? event.at : to === t.status ? t.completedAt : null,
            // Reopened: a co-sign that vouched for the completion goes with it.
            ...(t.status === "done" && !done ? { cosignedBy: null, cosignedByName: null, cosignedAgency: null, cosignedAt: null } : {}),
          };
        });
      break;
    case "task.noted":
      if (taskId !== null) edit(taskId, (t) => ({ ...t, note: String(p.note ?? t.note), evidence: String(p.evidence ?? t.evidence), files: withFiles(t.files, p.attachments) }));
      break;
    case "task.cosigned":
      if (taskId !== null)
        edit(taskId, (t) => ({
          ...t,
          cosignedBy: event.actor?.username ?? null,
          cosignedByName: event.actor?.name ?? null,
          cosignedAgency: String(p.agency ?? event.actor?.agency ?? ""),
          cosignedAt: event.at,
        }));
      break;
    case "task.overdue":
      if (taskId !== null) edit(taskId, (t) => ({ ...t, escalatedAt: t.escalatedAt ?? event.at }));
      break;
    case "sitrep.posted":
    case "sitrep.cadence_set":
    case "sitrep.overdue":
      next.sitrep = applySitrepEvent(state.sitrep, event) ?? null;
      break;
    default:
      break;
  }
  return next;
}

const OPEN_STATES: readonly string[] = ["open", "in_progress", "blocked"];

export function isOverdue(task: TaskState, now: number): boolean {
  if (task.removed || !OPEN_STATES.includes(task.status) || task.dueAt === null) return false;
  return Date.parse(task.dueAt) <= now;
}

/** done / applicable, and the rest by state, as the hub counts them (hub/operations/selectors.py). */
export function progressOf(state: OperationState, now: number): Progress {
  const out: Progress = { total: 0, done: 0, not_applicable: 0, open: 0, in_progress: 0, blocked: 0, overdue: 0 };
  for (const task of state.tasks) {
    if (task.removed) continue;
    out.total += 1;
    out[task.status] += 1;
    if (isOverdue(task, now)) out.overdue += 1;
  }
  return out;
}

/** Tasks that count towards completion (not "not applicable"). */
export function applicable(progress: Progress): number {
  return progress.total - progress.not_applicable;
}

/** Where a task stands on its co-sign, for the sentence the row shows. */
export type CosignState =
  | { kind: "none" }
  | { kind: "awaiting"; doneBy: string | null; doneAgency: string | null; doneAt: string | null }
  | { kind: "cosigned"; by: string | null; agency: string | null; at: string | null; doneBy: string | null; doneAgency: string | null; doneAt: string | null }
  | { kind: "cosigned-before-done"; by: string | null; agency: string | null; at: string | null };

export function cosignState(task: TaskState): CosignState {
  if (!task.requiresCosign) return { kind: "none" };
  const done = task.status === "done";
  const doneBy = task.completedByName ?? task.completedBy;
  if (task.cosignedAt !== null) {
    const by = task.cosignedByName ?? task.cosignedBy;
    return done
      ? { kind: "cosigned", by, agency: task.cosignedAgency, at: task.cosignedAt, doneBy, doneAgency: task.completedAgency, doneAt: task.completedAt }
      : { kind: "cosigned-before-done", by, agency: task.cosignedAgency, at: task.cosignedAt };
  }
  return done ? { kind: "awaiting", doneBy, doneAgency: task.completedAgency ?? task.assignedAgency, doneAt: task.completedAt } : { kind: "none" };
}
