// The milestone strip across the top of the review: the six steps of an
// incident's life, in order, each reached or not, with its time since the report.

import type { MilestoneKey, ReviewOut } from "./types";

export const MILESTONES: readonly MilestoneKey[] = ["reported", "triaged", "lead_set", "active", "resolved", "closed"];

export interface Milestone {
  key: MilestoneKey;
  at: string | null;
  afterSeconds: number | null;
}

export function milestoneStrip(review: Pick<ReviewOut, "milestones" | "reported_at">): Milestone[] {
  const byKey = new Map(review.milestones.map((m) => [m.key, m]));
  const start = Date.parse(review.reported_at);
  return MILESTONES.map((key) => {
    const found = byKey.get(key);
    const at = found?.at ?? (key === "reported" ? review.reported_at : null);
    const afterSeconds = at === null ? null : (found?.after_seconds ?? Math.max(0, Math.round((Date.parse(at) - start) / 1000)));
    return { key, at, afterSeconds };
  });
}
