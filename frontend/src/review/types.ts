// The review endpoint's answer (GET /api/v1/incidents/{ref}/review; hub/incidents/review_api.py).

export type MilestoneKey = "reported" | "triaged" | "lead_set" | "active" | "resolved" | "closed";

export interface ReviewOut {
  ref: string;
  crossing_point: string;
  timezone: string;
  reported_at: string;
  head: number;
  head_hash: string;
  milestones: { key: MilestoneKey; at: string | null; seq: number | null; after_seconds: number | null }[];
  first_responses: { agency: string; invited_at: string | null; invited_seq: number | null; at: string | null; seq: number | null; after_seconds: number | null; after_invite_seconds: number | null }[];
  alert_acks: { alert_id: number; title: string; agency: string; issued_at: string; at: string | null; after_seconds: number | null; after_issue_seconds: number | null }[];
  verification: {
    ok: boolean;
    through_seq: number;
    broken_seq: number | null;
    reason: string | null;
    verified_at: string;
    checkpoint?: number | null;
    checkpoint_at?: string | null;
    checkpoint_seq?: number | null;
    key_id?: string | null;
  };
  actors: { username: string; name: string; agency: string | null }[];
  agencies: string[];
}
