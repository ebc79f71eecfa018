// An incident as the board and the room show it: the REST snapshot, moved
// forward by the events of its stream. Monotonic: an event at or below the
// seq the state already reflects changes nothing, so replays and repeats are
// harmless. Pure.

import type { IncidentOut } from "../api/types";
import type { EventFrame } from "../realtime/protocol";
import { applySitrepEvent } from "./sitrep-state";

export type IncidentState = IncidentOut & { read_seq?: number };

type Payload = Record<string, unknown>;

const FIELDS = new Set(["title", "description", "category", "severity", "people_count", "occurred_at", "location_detail", "visibility"]);

/** The state after `event`, or the same object when the event changes nothing. */
export function applyIncidentEvent(state: IncidentState, event: EventFrame): IncidentState {
  if (event.seq <= state.seq) return state;
  const p = event.payload as Payload;
  const next: IncidentState = { ...state, seq: event.seq, updated_at: event.at };
  switch (event.kind) {
    case "incident.transitioned":
      next.status = String(p.to_status ?? state.status);
      break;
    case "incident.lead_changed":
      next.lead_agency = String(p.new ?? state.lead_agency);
      break;
    case "incident.agency_invited": {
      const agency = String(p.agency ?? "");
      if (agency && !state.participating_agencies.includes(agency)) {
        next.participating_agencies = [...state.participating_agencies, agency].sort();
      }
      break;
    }
    case "incident.updated": {
      const changes = (p.changes ?? {}) as Record<string, { new: unknown }>;
      const fields = next as unknown as Record<string, unknown>;
      for (const [name, change] of Object.entries(changes)) {
        if (FIELDS.has(name)) fields[name] = change.new;
      }
      break;
    }
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

export const OPEN_STATUSES = ["reported", "triaged", "active"];

export function isOpen(incident: { status: string }): boolean {
  return OPEN_STATUSES.includes(incident.status);
}

/** Events the officer has not read (the stream head past their read marker). */
export function unreadCount(incident: IncidentState): number {
  return Math.max(0, incident.seq - (incident.read_seq ?? incident.seq));
}

/** The transitions of hub/incidents/permissions.py TRANSITIONS (what to offer). */
export const TRANSITIONS: Record<string, string[]> = {
  reported: ["triaged", "active", "resolved"],
  triaged: ["active", "resolved"],
  active: ["resolved"],
  resolved: ["closed", "active"],
  closed: ["active"],
};

const REASON_REQUIRED = new Set([
  "active>resolved",
  "triaged>resolved",
  "reported>resolved",
  "resolved>closed",
  "resolved>active",
  "closed>active",
]);

export function needsReason(from: string, to: string): boolean {
  return REASON_REQUIRED.has(`${from}>${to}`);
}
