// The situation-report state of an incident or operation (latest report,
// cadence, due time), moved forward by the `sitrep.*` events of its stream
// (pure; the caller applies each event once, in seq order).

import type { components } from "../api/schema";
import type { EventFrame } from "../realtime/protocol";

export type SitrepState = components["schemas"]["SitrepStateOut"];
export type Sitrep = components["schemas"]["SitrepOut"];

type Payload = Record<string, unknown>;

export function applySitrepEvent(state: SitrepState | null | undefined, event: EventFrame): SitrepState | null | undefined {
  const p = event.payload as Payload;
  const base: SitrepState = state ?? { reports: 0, latest: null, every_minutes: null, due_at: null, overdue: false, reminded_at: null };
  switch (event.kind) {
    case "sitrep.posted":
      return {
        ...base,
        reports: Math.max(base.reports + 1, Number(p.number ?? 0)),
        latest: {
          number: Number(p.number ?? base.reports + 1),
          situation: String(p.situation ?? ""),
          actions_taken: String(p.actions_taken ?? ""),
          next_steps: String(p.next_steps ?? ""),
          needs: Array.isArray(p.needs) ? (p.needs as Sitrep["needs"]) : [],
          author: { id: event.actor?.id ?? 0, username: event.actor?.username ?? "", name: event.actor?.name ?? "" },
          agency: event.actor?.agency ?? "",
          posted_at: event.at,
          seq: event.seq,
          stream: event.stream,
        } as Sitrep,
        every_minutes: (p.every_minutes as number | null | undefined) ?? base.every_minutes,
        due_at: (p.due_at as string | null | undefined) ?? null,
        overdue: false,
        reminded_at: null,
      };
    case "sitrep.cadence_set":
      return { ...base, every_minutes: (p.every_minutes as number | null) ?? null, due_at: (p.due_at as string | null) ?? null, overdue: false, reminded_at: null };
    case "sitrep.overdue":
      return { ...base, overdue: true, reminded_at: event.at };
    default:
      return state;
  }
}

/** "update due" state against a clock: none, upcoming (ms left), or late (ms late). */
export function dueState(state: SitrepState | null | undefined, now: number): { kind: "none" } | { kind: "due"; ms: number } | { kind: "late"; ms: number } {
  if (!state?.due_at || state.every_minutes === null) return { kind: "none" };
  const due = Date.parse(state.due_at);
  return due <= now ? { kind: "late", ms: now - due } : { kind: "due", ms: due - now };
}
