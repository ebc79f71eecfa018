// Who is signed in, the reference data every screen needs, and what happens
// when the session ends: a 401 (REST) or 4401 (socket) takes the officer to
// sign in and, after it, back to the path they were on. The outbox lives in
// IndexedDB and is untouched by all of this.

import { computed, signal } from "@preact/signals";
import { ApiError, onUnauthorized } from "../api/client";
import { getMe, listCrossingPoints, signOut } from "../api/endpoints";
import type { CrossingPoint, Me } from "../api/types";
import { clearCached, loadCached, saveCached } from "../realtime/cache";
import { startLive, stopLive } from "../realtime/live";

export type SessionState =
  | { kind: "loading" }
  | { kind: "signed-out"; next: string; expired: boolean }
  | { kind: "signed-in"; me: Me; offline: boolean };

export const session = signal<SessionState>({ kind: "loading" });
export const crossingPoints = signal<CrossingPoint[]>([]);

export const me = computed<Me | null>(() => (session.value.kind === "signed-in" ? session.value.me : null));

/** Roles that read (and are alerted at) the crossing points they serve (hub/agencies/access.py). */
export const READER_ROLES = ["duty_officer", "coordinator", "senior_official"];
export const OPERATIONAL_ROLES = ["duty_officer", "coordinator"];

export function pointsServed(user: Me | null): string[] {
  const codes = new Set<string>();
  for (const m of user?.memberships ?? []) {
    if (READER_ROLES.includes(m.role)) m.crossing_points.forEach((c) => codes.add(c));
  }
  return [...codes].sort();
}

/** Agencies the officer acts for at a crossing point (in a reader role, or the given roles). */
export function agenciesAt(user: Me | null, point: string, roles: readonly string[] = READER_ROLES): string[] {
  return [
    ...new Set((user?.memberships ?? []).filter((m) => roles.includes(m.role) && m.crossing_points.includes(point)).map((m) => m.agency)),
  ].sort();
}

export function rolesAt(user: Me | null, point: string): string[] {
  return [...new Set((user?.memberships ?? []).filter((m) => m.crossing_points.includes(point)).map((m) => m.role))];
}

export function hasRoleAt(user: Me | null, point: string, role: string, agency?: string): boolean {
  return (user?.memberships ?? []).some(
    (m) => m.role === role && m.crossing_points.includes(point) && (agency === undefined || m.agency === agency),
  );
}

export function pointInfo(code: string): CrossingPoint | undefined {
  return crossingPoints.value.find((p) => p.code === code);
}

/** The crossing point's IANA zone (UTC until reference data is loaded). */
export function zoneOf(code: string | null | undefined): string {
  return (code ? pointInfo(code)?.timezone : undefined) ?? "UTC";
}

function currentPath(): string {
  return `${location.pathname}${location.search}`;
}

let navigate: ((path: string) => void) | null = null;

export function setNavigator(fn: (path: string) => void): void {
  navigate = fn;
}

function goSignIn(expired: boolean): void {
  const path = currentPath();
  const next = path.startsWith("/signin") ? new URLSearchParams(location.search).get("next") ?? "/" : path;
  stopLive();
  session.value = { kind: "signed-out", next, expired };
  navigate?.(`/signin?next=${encodeURIComponent(next)}`);
}

onUnauthorized(() => {
  if (session.value.kind === "signed-in" && !session.value.offline) {
    goSignIn(true);
  } else if (session.value.kind === "loading") {
    goSignIn(false);
  }
});

/** Load who is signed in; offline, fall back to what the last visit cached (read-only). */
export async function loadSession(): Promise<void> {
  try {
    const [user, points] = await Promise.all([getMe(), listCrossingPoints()]);
    crossingPoints.value = points;
    session.value = { kind: "signed-in", me: user, offline: false };
    void saveCached("session", { me: user, points });
    await startLive(user.username);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      goSignIn(false);
      return;
    }
    const cached = await loadCached<{ me: Me; points: CrossingPoint[] }>("session");
    if (cached !== null) {
      crossingPoints.value = cached.value.points;
      session.value = { kind: "signed-in", me: cached.value.me, offline: true };
      return;
    }
    session.value = { kind: "signed-out", next: currentPath(), expired: false };
  }
}

export async function signOutNow(): Promise<void> {
  try {
    await signOut();
  } finally {
    stopLive();
    // The next officer on this tablet must not open this one's boards offline.
    await clearCached();
    session.value = { kind: "signed-out", next: "/", expired: false };
    navigate?.("/signin");
  }
}
