// The alerts panel's state: the alerts of the crossing points an officer serves,
// built from a REST snapshot (GET /crossing-points/{code}/alerts) and kept live
// by the events of their `crossing:<CODE>` streams (payloads: hub/events/types.py).
//
// Every change is monotonic, so applying an event twice, or an event that the
// snapshot already reflects (the snapshot is taken after the stream head the
// subscription resumes from), changes nothing:
// - acknowledgements and escalations only accumulate (the first one recorded wins);
// - an alert that ended (cancelled or expired) stays ended;
// - the alert's own fields change only with a newer version.
// Pure (no DOM), so it is unit-tested.

import type { AlertOut } from "../api/types";
import type { ActorRef, EventFrame } from "../realtime/protocol";

export interface Person {
  name: string;
  username: string | null;
}

export interface TargetState {
  agency: string;
  dueAt: string | null;
  acknowledgedAt: string | null;
  acknowledgedBy: Person | null;
  escalatedAt: string | null;
}

export type AlertStatus = "active" | "cancelled" | "expired";

export interface AlertState {
  id: number;
  crossingPoint: string;
  stream: string;
  category: string;
  severity: string;
  urgency: string;
  certainty: string;
  title: string;
  body: string;
  exercise: boolean;
  ackRequired: boolean;
  status: AlertStatus;
  version: number;
  incident: string | null;
  issuingAgency: string;
  issuedBy: Person | null;
  createdAt: string;
  updatedAt: string;
  expiresAt: string | null;
  /** When it was cancelled or expired (null while active). */
  endedAt: string | null;
  cancelReason: string;
  targets: TargetState[];
}

export type AlertChange = "issued" | "updated" | "cancelled" | "expired" | "acknowledged" | "escalated";

export interface Applied {
  alertId: number;
  change: AlertChange;
  /** False when the event named an alert this board does not hold (fetch it). */
  known: boolean;
  /** True when the event changed the board (false for a repeat). */
  changed: boolean;
  /** The agency an acknowledgement or escalation is about. */
  agency?: string;
}

/** The marker every alert surface puts before a drill's title. */
export const EXERCISE = "EXERCISE";

export function displayTitle(alert: { title: string; exercise: boolean }): string {
  return `${alert.exercise ? `${EXERCISE} — ` : ""}${alert.title}`;
}

const SEVERITY_RANK: Record<string, number> = { critical: 4, high: 3, medium: 2, low: 1 };
/** Ended alerts stay on the panel this long (a shift sees what was withdrawn). */
export const ENDED_VISIBLE_MS = 12 * 60 * 60 * 1000;

function ms(iso: string | null): number | null {
  if (iso === null) {
    return null;
  }
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t;
}

function person(actor: ActorRef | null | undefined): Person | null {
  return actor ? { name: actor.name, username: actor.username } : null;
}

function str(value: unknown, fallback = ""): string {
  return typeof value === "string" ? value : fallback;
}

function strOrNull(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

export function fromSnapshot(alert: AlertOut): AlertState {
  const ended = alert.status !== "active";
  return {
    id: alert.id,
    crossingPoint: alert.crossing_point,
    stream: alert.stream,
    category: alert.category,
    severity: alert.severity,
    urgency: alert.urgency,
    certainty: alert.certainty,
    title: alert.title,
    body: alert.body,
    exercise: alert.exercise,
    ackRequired: alert.ack_required,
    status: alert.status as AlertStatus,
    version: alert.version,
    incident: alert.incident,
    issuingAgency: alert.issuing_agency,
    issuedBy: { name: alert.issued_by.name, username: alert.issued_by.username },
    createdAt: alert.created_at,
    updatedAt: alert.updated_at,
    expiresAt: alert.expires_at,
    endedAt: ended ? (alert.status === "expired" && alert.expires_at ? alert.expires_at : alert.updated_at) : null,
    cancelReason: alert.cancel_reason,
    targets: alert.targets.map((t) => ({
      agency: t.agency,
      dueAt: t.due_at,
      acknowledgedAt: t.acknowledged_at,
      acknowledgedBy: t.acknowledged_by ? { name: t.acknowledged_by.name, username: t.acknowledged_by.username } : null,
      escalatedAt: t.escalated_at,
    })).sort(byAgency),
  };
}

/** Active and not past its expiry. */
export function isLive(alert: AlertState, now: number): boolean {
  const expires = ms(alert.expiresAt);
  return alert.status === "active" && (expires === null || expires > now);
}

/** When the alert ended, counting an expiry the sweep has not recorded yet. */
export function endedAt(alert: AlertState, now: number): number | null {
  if (alert.status !== "active") {
    return ms(alert.endedAt) ?? ms(alert.updatedAt);
  }
  const expires = ms(alert.expiresAt);
  return expires !== null && expires <= now ? expires : null;
}

export type Standing = "acknowledged" | "waiting" | "overdue" | "not_required";

/** Where one targeted agency stands on the alert. */
export function standing(alert: AlertState, target: TargetState, now: number): Standing {
  if (target.acknowledgedAt !== null) {
    return "acknowledged";
  }
  if (!alert.ackRequired) {
    return "not_required";
  }
  const due = ms(target.dueAt);
  if (isLive(alert, now) && (target.escalatedAt !== null || (due !== null && due <= now))) {
    return "overdue";
  }
  return "waiting";
}

/** Which of `agencies` still owe an acknowledgement (only while the alert is live). */
export function owedBy(alert: AlertState, agencies: readonly string[], now: number): string[] {
  if (!alert.ackRequired || !isLive(alert, now)) {
    return [];
  }
  return alert.targets
    .filter((t) => agencies.includes(t.agency) && t.acknowledgedAt === null)
    .map((t) => t.agency);
}

export interface AckSummary {
  acknowledged: TargetState[];
  waiting: TargetState[];
  overdue: TargetState[];
}

export function ackSummary(alert: AlertState, now: number): AckSummary {
  const out: AckSummary = { acknowledged: [], waiting: [], overdue: [] };
  for (const target of alert.targets) {
    const s = standing(alert, target, now);
    if (s === "acknowledged") {
      out.acknowledged.push(target);
    } else if (s === "overdue") {
      out.overdue.push(target);
    } else if (s === "waiting") {
      out.waiting.push(target);
    }
  }
  return out;
}

function mergeTarget(into: TargetState, from: TargetState): boolean {
  let changed = false;
  if (into.acknowledgedAt === null && from.acknowledgedAt !== null) {
    into.acknowledgedAt = from.acknowledgedAt;
    into.acknowledgedBy = from.acknowledgedBy;
    changed = true;
  }
  if (into.escalatedAt === null && from.escalatedAt !== null) {
    into.escalatedAt = from.escalatedAt;
    changed = true;
  }
  if (into.dueAt === null && from.dueAt !== null) {
    into.dueAt = from.dueAt;
    changed = true;
  }
  return changed;
}

/** Targets are kept in agency-code order, however they arrived. */
function byAgency(a: TargetState, b: TargetState): number {
  return a.agency < b.agency ? -1 : a.agency > b.agency ? 1 : 0;
}

function targetOf(alert: AlertState, agency: string): TargetState {
  let target = alert.targets.find((t) => t.agency === agency);
  if (target === undefined) {
    target = { agency, dueAt: null, acknowledgedAt: null, acknowledgedBy: null, escalatedAt: null };
    alert.targets.push(target);
    alert.targets.sort(byAgency);
  }
  return target;
}

function end(alert: AlertState, status: "cancelled" | "expired", at: string): boolean {
  if (alert.status === "cancelled" || (alert.status === status && alert.endedAt !== null)) {
    return false;
  }
  alert.status = status;
  alert.endedAt = alert.endedAt ?? at;
  return true;
}

/** Fields an `alert.updated` event may change, and where they live in the state. */
const UPDATABLE: Record<string, keyof AlertState> = {
  title: "title",
  body: "body",
  category: "category",
  severity: "severity",
  urgency: "urgency",
  certainty: "certainty",
  expires_at: "expiresAt",
};

export class AlertBoard {
  private readonly alerts = new Map<number, AlertState>();

  get size(): number {
    return this.alerts.size;
  }

  get(id: number): AlertState | undefined {
    return this.alerts.get(id);
  }

  remove(id: number): void {
    this.alerts.delete(id);
  }

  all(): AlertState[] {
    return [...this.alerts.values()];
  }

  /** Merge an alert as REST returns it. Returns true when the board changed. */
  merge(snapshot: AlertOut): boolean {
    const incoming = fromSnapshot(snapshot);
    const existing = this.alerts.get(incoming.id);
    if (existing === undefined) {
      this.alerts.set(incoming.id, incoming);
      return true;
    }
    let changed = false;
    if (incoming.version > existing.version) {
      const { targets: _targets, status: _status, endedAt: _ended, ...fields } = incoming;
      Object.assign(existing, fields);
      changed = true;
    }
    if (incoming.status !== "active" && existing.status !== "cancelled" && existing.status !== incoming.status) {
      existing.status = incoming.status;
      existing.endedAt = existing.endedAt ?? incoming.endedAt;
      existing.cancelReason = incoming.cancelReason || existing.cancelReason;
      changed = true;
    }
    for (const target of incoming.targets) {
      const had = existing.targets.some((t) => t.agency === target.agency);
      changed = mergeTarget(targetOf(existing, target.agency), target) || !had || changed;
    }
    return changed;
  }

  /** Apply one event of a `crossing:` stream; null for kinds that are not about alerts. */
  apply(event: EventFrame): Applied | null {
    if (!event.kind.startsWith("alert.")) {
      return null;
    }
    const p = event.payload;
    const alertId = typeof p.alert_id === "number" ? p.alert_id : NaN;
    if (Number.isNaN(alertId)) {
      return null;
    }
    const change = event.kind.slice("alert.".length) as AlertChange;
    const alert = this.alerts.get(alertId);
    const result: Applied = { alertId, change, known: alert !== undefined, changed: false };
    switch (event.kind) {
      case "alert.issued": {
        if (alert !== undefined) {
          return result; // the snapshot already holds it (and possibly more)
        }
        const targets = Array.isArray(p.targets) ? (p.targets as unknown[]).map(String) : [];
        const dueAt = strOrNull(p.due_at);
        this.alerts.set(alertId, {
          id: alertId,
          crossingPoint: str(p.crossing_point),
          stream: event.stream,
          category: str(p.category),
          severity: str(p.severity),
          urgency: str(p.urgency),
          certainty: str(p.certainty),
          title: str(p.title),
          body: str(p.body),
          exercise: Boolean(p.exercise),
          ackRequired: p.ack_required !== false,
          status: "active",
          version: typeof p.version === "number" ? p.version : 1,
          incident: strOrNull(p.incident),
          issuingAgency: str(p.issuing_agency),
          issuedBy: person(event.actor),
          createdAt: event.at,
          updatedAt: event.at,
          expiresAt: strOrNull(p.expires_at),
          endedAt: null,
          cancelReason: "",
          targets: targets.map((agency) => ({ agency, dueAt, acknowledgedAt: null, acknowledgedBy: null, escalatedAt: null })).sort(byAgency),
        });
        return { ...result, known: true, changed: true };
      }
      case "alert.updated": {
        const version = typeof p.version === "number" ? p.version : 0;
        if (alert === undefined || version <= alert.version) {
          return result;
        }
        const changes = (p.changes ?? {}) as Record<string, { old: unknown; new: unknown }>;
        const fields = alert as unknown as Record<string, unknown>;
        for (const [name, diff] of Object.entries(changes)) {
          const key = UPDATABLE[name];
          if (key !== undefined) {
            fields[key] = diff.new;
          }
        }
        alert.version = version;
        alert.updatedAt = event.at;
        return { ...result, changed: true };
      }
      case "alert.cancelled": {
        if (alert === undefined) {
          return result;
        }
        const changed = end(alert, "cancelled", event.at);
        if (changed) {
          alert.cancelReason = str(p.reason);
        }
        if (typeof p.version === "number" && p.version > alert.version) {
          alert.version = p.version;
        }
        return { ...result, changed };
      }
      case "alert.expired":
        return alert === undefined ? result : { ...result, changed: end(alert, "expired", event.at) };
      case "alert.acknowledged": {
        if (alert === undefined) {
          return { ...result, agency: str(p.agency) };
        }
        const changed = mergeTarget(targetOf(alert, str(p.agency)), {
          agency: str(p.agency),
          dueAt: null,
          acknowledgedAt: event.at,
          acknowledgedBy: person(event.actor),
          escalatedAt: null,
        });
        return { ...result, changed, agency: str(p.agency) };
      }
      case "alert.escalated": {
        if (alert === undefined) {
          return { ...result, agency: str(p.agency) };
        }
        const changed = mergeTarget(targetOf(alert, str(p.agency)), {
          agency: str(p.agency),
          dueAt: strOrNull(p.due_at),
          acknowledgedAt: null,
          acknowledgedBy: null,
          escalatedAt: event.at,
        });
        return { ...result, changed, agency: str(p.agency) };
      }
      default:
        return null;
    }
  }

  /**
   * What the panel lists, in order: live alerts (those `mine` owe first, then
   * by severity, newest first), then alerts that ended in the last 12 hours.
   */
  visible(now: number, mine: (alert: AlertState) => readonly string[]): AlertState[] {
    const live: AlertState[] = [];
    const ended: AlertState[] = [];
    for (const alert of this.alerts.values()) {
      if (isLive(alert, now)) {
        live.push(alert);
      } else {
        const at = endedAt(alert, now);
        if (at === null || now - at <= ENDED_VISIBLE_MS) {
          ended.push(alert);
        }
      }
    }
    const owes = (a: AlertState) => (owedBy(a, mine(a), now).length > 0 ? 1 : 0);
    live.sort(
      (a, b) =>
        owes(b) - owes(a) ||
        (SEVERITY_RANK[b.severity] ?? 0) - (SEVERITY_RANK[a.severity] ?? 0) ||
        (ms(b.createdAt) ?? 0) - (ms(a.createdAt) ?? 0) ||
        b.id - a.id,
    );
    ended.sort((a, b) => (endedAt(b, now) ?? 0) - (endedAt(a, now) ?? 0) || b.id - a.id);
    return [...live, ...ended];
  }
}

/** Put a saved state back (the offline cache); a held alert is kept as it is. */
export function restoreInto(board: AlertBoard, states: readonly AlertState[]): void {
  for (const state of states) {
    if (board.get(state.id) === undefined) {
      (board as unknown as { alerts: Map<number, AlertState> }).alerts.set(state.id, structuredClone(state));
    }
  }
}
