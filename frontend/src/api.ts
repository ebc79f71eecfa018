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
  memberships: { agency: string; agency_name: string; role: string; crossing_points: string[] }[];
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

export async function signIn(username: string, password: string): Promise<void> {
  await api("GET", "/auth/csrf");
  await api("POST", "/auth/login", { username, password });
}

export async function signOut(): Promise<void> {
  await api("POST", "/auth/logout");
}
