// Typed calls to the REST API, one per endpoint the web app reads.
// Writes go through the outbox (realtime/outbox.ts), not through here.

import { api } from "./client";
import type { EventFrame } from "../realtime/protocol";
import type { AlertOut, CrossingPoint, EventOut, EventPage, IncidentOut, IncidentPage, Me } from "./types";

const enc = encodeURIComponent;

/** The most events one page of `GET /streams/{stream}/events` holds (the schema's `limit` maximum). */
export const MAX_EVENT_PAGE = 2000;

export const getMe = () => api<Me>("GET", "/me");
export const listCrossingPoints = () => api<CrossingPoint[]>("GET", "/crossing-points");

export interface IncidentQuery {
  crossing_point?: string;
  status?: string;
  category?: string;
  severity?: string;
  agency?: string;
  q?: string;
  limit?: number;
}

export function listIncidents(query: IncidentQuery): Promise<IncidentPage> {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== "") {
      params.set(name, String(value));
    }
  }
  return api<IncidentPage>("GET", `/incidents?${params}`);
}

export const getIncident = (ref: string) => api<IncidentOut>("GET", `/incidents/${enc(ref)}`);

export const listAlerts = (code: string) =>
  api<AlertOut[]>("GET", `/crossing-points/${enc(code)}/alerts?current=true&limit=500`);
export const getAlert = (id: number) => api<AlertOut>("GET", `/alerts/${id}`);

/** Events after `after` (oldest first), or the newest before `before`. */
export function streamEvents(stream: string, page: { after?: number; before?: number; limit?: number; kind?: string }): Promise<EventPage> {
  const params = new URLSearchParams();
  if (page.kind) params.set("kind", page.kind);
  if (page.after !== undefined) params.set("after", String(page.after));
  if (page.before !== undefined) params.set("before", String(page.before));
  params.set("limit", String(page.limit ?? 100));
  return api<EventPage>("GET", `/streams/${enc(stream)}/events?${params}`);
}

/** A REST event as the socket would have delivered it. */
export function eventFrame(e: EventOut): EventFrame {
  return { type: "event", stream: e.stream, seq: e.seq, kind: e.kind, at: e.at, actor: e.actor ?? null, payload: e.payload } as EventFrame;
}

/** Every event of a (small) stream from `after` through `through`, oldest first, a page at a time. */
export async function streamEventsThrough(stream: string, through: number, after = 0): Promise<EventFrame[]> {
  const out: EventFrame[] = [];
  while (after < through) {
    const page = await streamEvents(stream, { after, limit: MAX_EVENT_PAGE });
    if (page.events.length === 0) break;
    for (const e of page.events) if (e.seq <= through) out.push(eventFrame(e));
    after = page.events.at(-1)?.seq ?? through;
  }
  return out;
}

/** The stream's current head seq (one cheap page of the timeline endpoint). */
export async function streamHead(stream: string): Promise<number> {
  const page = await api<{ head: number }>("GET", `/streams/${enc(stream)}/events?after=0&limit=1`);
  return page.head;
}

export async function signIn(username: string, password: string): Promise<void> {
  await api("GET", "/auth/csrf", undefined, { quiet401: true });
  await api("POST", "/auth/login", { username, password }, { quiet401: true });
}

export async function signOut(): Promise<void> {
  await api("POST", "/auth/logout", undefined, { quiet401: true });
}
