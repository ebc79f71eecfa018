// Which incidents and operations at a point owe a situation report, for the
// coordinator's board: the point's list (GET /crossing-points/<CODE>/sitreps-due,
// re-read each minute) overlaid with the live state of the incidents and
// operations the board follows, so a report posted or a cadence set shows at
// once, on operations as on incidents (pure).

import type { SitrepState } from "../incidents/sitrep-state";

export interface SitrepDue {
  kind: "incident" | "operation";
  ref: string;
  title: string;
  due_at: string | null;
  overdue: boolean;
  every_minutes: number | null;
}

interface Live {
  ref: string;
  title: string;
  sitrep?: SitrepState | null;
  closed: boolean;
}

export function sitrepsDue(
  polled: readonly SitrepDue[],
  incidents: readonly Live[],
  operations: readonly Live[],
  now: number,
): SitrepDue[] {
  const out = new Map<string, SitrepDue>(polled.map((s) => [`${s.kind}:${s.ref}`, s]));
  const overlay = (kind: SitrepDue["kind"], item: Live) => {
    const key = `${kind}:${item.ref}`;
    const state = item.sitrep;
    if (item.closed) {
      out.delete(key);
      return;
    }
    // A list snapshot may not carry the report state (null): the polled list stands.
    if (state === undefined || state === null) return;
    if (state.every_minutes === null || state.due_at === null) {
      out.delete(key);
      return;
    }
    out.set(key, {
      kind,
      ref: item.ref,
      title: item.title,
      due_at: state.due_at,
      every_minutes: state.every_minutes,
      overdue: state.overdue || Date.parse(state.due_at) <= now,
    });
  };
  for (const incident of incidents) overlay("incident", incident);
  for (const op of operations) overlay("operation", op);
  return [...out.values()].sort((a, b) => Date.parse(a.due_at ?? "") - Date.parse(b.due_at ?? ""));
}
