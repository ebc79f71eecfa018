// The review's rows: one per event, with the time since the incident was
// reported and the gap since the row before it (pure).

export interface ReviewEvent {
  seq: number;
  kind: string;
  at: string;
  actor: { username?: string | null; name: string; agency?: string | null } | null;
  payload: Record<string, unknown>;
}

export interface ReviewRow extends ReviewEvent {
  /** Milliseconds since the incident was reported (never negative). */
  sinceStartMs: number;
  /** Milliseconds since the row shown before this one; null for the first row. */
  gapMs: number | null;
}

export function reviewRows(events: readonly ReviewEvent[], reportedAt: string, before: ReviewEvent | null = null): ReviewRow[] {
  const start = Date.parse(reportedAt);
  let previous = before === null ? null : Date.parse(before.at);
  return [...events]
    .sort((a, b) => a.seq - b.seq)
    .map((event) => {
      const at = Date.parse(event.at);
      const row = { ...event, sinceStartMs: Math.max(0, at - start), gapMs: previous === null ? null : Math.max(0, at - previous) };
      previous = at;
      return row;
    });
}

/** Append a newer page to the rows shown, each event once. */
export function appendRows(rows: readonly ReviewRow[], page: readonly ReviewEvent[], reportedAt: string): ReviewRow[] {
  const seen = new Set(rows.map((r) => r.seq));
  const fresh = page.filter((e) => !seen.has(e.seq));
  return [...rows, ...reviewRows(fresh, reportedAt, rows.at(-1) ?? null)];
}
