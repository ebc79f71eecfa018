// Typed calls to the REST API (/api/v1). The browser signs in with the session
// cookie; writes carry the CSRF token Django sets.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
  ) {
    super(`${status} ${code}: ${detail}`);
  }
}

export function csrfToken(cookies: string = document.cookie): string {
  const match = /(?:^|;\s*)csrftoken=([^;]+)/.exec(cookies);
  return match ? decodeURIComponent(match[1] ?? "") : "";
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
  }
  if (method !== "GET") {
    headers["X-CSRFToken"] = csrfToken();
  }
  const response = await fetch(`/api/v1${path}`, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (!response.ok) {
    throw new ApiError(response.status, String(data.code ?? "error"), String(data.detail ?? response.statusText));
  }
  return data as T;
}

export interface Me {
  id: number;
  username: string;
  name: string;
  memberships: { agency: string; agency_name: string; agency_kind?: string; role: string; crossing_points: string[] }[];
}

/** Roles that read (and are alerted at) the crossing points they serve (hub/agencies/access.py). */
export const READER_ROLES = ["duty_officer", "coordinator", "senior_official"];

/** Crossing points whose alerts the officer reads: those served in a reader role. */
export function crossingPointsServed(me: Me): string[] {
  const codes = new Set<string>();
  for (const m of me.memberships) {
    if (READER_ROLES.includes(m.role)) {
      m.crossing_points.forEach((code) => codes.add(code));
    }
  }
  return [...codes].sort();
}

/** Agencies the officer acts for at a crossing point (in a reader role). */
export function agenciesAt(me: Me, crossingPoint: string): string[] {
  return [
    ...new Set(
      me.memberships.filter((m) => READER_ROLES.includes(m.role) && m.crossing_points.includes(crossingPoint)).map((m) => m.agency),
    ),
  ].sort();
}

export interface UserRef {
  id: number;
  username: string;
  name: string;
}

export interface AlertTargetOut {
  agency: string;
  due_at: string | null;
  acknowledged: boolean;
  acknowledged_at: string | null;
  acknowledged_by: UserRef | null;
  overdue: boolean;
  escalated_at: string | null;
}

/** An alert as GET /api/v1/alerts/{id} returns it (hub/alerts/api.py AlertOut). */
export interface AlertOut {
  id: number;
  crossing_point: string;
  category: string;
  severity: string;
  urgency: string;
  certainty: string;
  title: string;
  body: string;
  exercise: boolean;
  ack_required: boolean;
  status: "active" | "cancelled" | "expired";
  version: number;
  incident: string | null;
  issuing_agency: string;
  issued_by: UserRef;
  created_at: string;
  updated_at: string;
  expires_at: string | null;
  cancel_reason: string;
  targets: AlertTargetOut[];
  pending: string[];
  stream: string;
}

export interface IncidentSummary {
  ref: string;
  crossing_point: string;
  title: string;
  category: string;
  severity: string;
  status: string;
  lead_agency: string;
  participating_agencies: string[];
  stream: string;
  seq: number;
  occurred_at: string;
  description: string;
  location_detail: string;
  people_count: number;
}

export const getMe = () => api<Me>("GET", "/me");
export const listIncidents = () => api<{ items: IncidentSummary[] }>("GET", "/incidents?limit=100");
export const getIncident = (ref: string) => api<IncidentSummary>("GET", `/incidents/${encodeURIComponent(ref)}`);

export const listAlerts = (crossingPoint: string) =>
  api<AlertOut[]>("GET", `/crossing-points/${encodeURIComponent(crossingPoint)}/alerts?current=true&limit=500`);
export const getAlert = (id: number) => api<AlertOut>("GET", `/alerts/${id}`);

/** The stream's current head seq (one cheap page of the timeline endpoint). */
export async function streamHead(stream: string): Promise<number> {
  const page = await api<{ head: number }>("GET", `/streams/${encodeURIComponent(stream)}/events?after=0&limit=1`);
  return page.head;
}

export async function signIn(username: string, password: string): Promise<void> {
  await api("GET", "/auth/csrf");
  await api("POST", "/auth/login", { username, password });
}

export async function signOut(): Promise<void> {
  await api("POST", "/auth/logout");
}
