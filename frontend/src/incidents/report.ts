// The report form's data, apart from the screen: the draft (every field of
// IncidentCreate as typed, plus the form's one client_msg_id), where the
// officer may report and for which agency, the checks that mirror the hub's
// limits (hub/incidents/schemas.py IncidentCreate, services._occurred), and
// the payload. Pure, so it is unit-tested.

import type { IncidentCreate, Me } from "../api/types";
import { OPERATIONAL_ROLES, agenciesAt } from "../app/session";
import { CATEGORIES, SEVERITIES } from "../board/Board";
import { t } from "../i18n";
import { utcToZonedInput, zonedInputToUtc } from "../i18n/time";
import { checkText, parseWhole } from "./form-kit";

export const VISIBILITIES = ["participants", "crossing_point"] as const;

export const REPORT_LIMITS = {
  title: 200,
  description: 10_000,
  location_detail: 300,
  people_count: 100_000,
} as const;

/** How far ahead of the hub's clock an occurred_at may be (services.FUTURE_TOLERANCE). */
export const FUTURE_TOLERANCE_MS = 60 * 60 * 1000;

/** The form's fields, in the order they appear (the first invalid one gets focus). */
export const REPORT_FIELDS = [
  "crossing_point",
  "agency",
  "title",
  "description",
  "category",
  "severity",
  "people_count",
  "occurred_at",
  "location_detail",
  "visibility",
] as const;

export interface ReportDraft {
  /** The client_msg_id this form sends with, for its whole life. */
  id: string;
  crossing_point: string;
  agency: string;
  title: string;
  description: string;
  category: string;
  severity: string;
  people_count: string;
  /** As typed in the crossing point's zone ("2026-12-03T14:05"). */
  occurred_at: string;
  /** False while occurred_at is still the default "now" (it follows a change of crossing point). */
  occurred_touched: boolean;
  location_detail: string;
  visibility: string;
}

export function reportDraftKey(username: string): string {
  return `hub.draft.report.${username}`;
}

/** Crossing points where the officer is a duty officer or coordinator (who may report). */
export function reportPoints(user: Me | null): string[] {
  const codes = new Set<string>();
  for (const m of user?.memberships ?? []) {
    if (OPERATIONAL_ROLES.includes(m.role)) m.crossing_points.forEach((c) => codes.add(c));
  }
  return [...codes].sort();
}

/** Agencies the officer may report for at `point`. */
export function reportAgencies(user: Me | null, point: string): string[] {
  return point ? agenciesAt(user, point, OPERATIONAL_ROLES) : [];
}

export function newReportDraft(id: string, point: string, tz: string, now: number): ReportDraft {
  return {
    id,
    crossing_point: point,
    agency: "",
    title: "",
    description: "",
    category: "",
    severity: "",
    people_count: "0",
    occurred_at: utcToZonedInput(now, tz),
    occurred_touched: false,
    location_detail: "",
    visibility: "participants",
  };
}

/**
 * The draft at a crossing point (a new one, or the same one checked again):
 * the agency kept only if the officer acts for it there (the only one
 * preselected); on a change of point, a time still at its default is re-read
 * as now in the new zone.
 */
export function withPoint(draft: ReportDraft, point: string, agencies: readonly string[], tz: string, now: number): ReportDraft {
  const agency = agencies.includes(draft.agency) ? draft.agency : agencies.length === 1 ? (agencies[0] ?? "") : "";
  const moved = point !== draft.crossing_point && !draft.occurred_touched;
  return {
    ...draft,
    crossing_point: point,
    agency,
    occurred_at: moved ? utcToZonedInput(now, tz) : draft.occurred_at,
  };
}

export interface ReportContext {
  points: readonly string[];
  agencies: readonly string[];
  tz: string;
  now: number;
}

/** The reasons the form would be refused, by field (empty when it may be sent). */
export function checkReport(d: ReportDraft, ctx: ReportContext): Record<string, string> {
  const out: Record<string, string> = {};
  const put = (field: string, reason: string | null) => {
    if (reason !== null) out[field] = reason;
  };
  if (!ctx.points.includes(d.crossing_point)) put("crossing_point", t("report.check.choosePoint"));
  if (ctx.agencies.length > 1 && !ctx.agencies.includes(d.agency)) put("agency", t("report.check.chooseAgency"));
  put("title", checkText(d.title, REPORT_LIMITS.title, true));
  put("description", checkText(d.description, REPORT_LIMITS.description, false));
  if (!CATEGORIES.includes(d.category)) put("category", t("report.check.choice"));
  if (!SEVERITIES.includes(d.severity)) put("severity", t("report.check.choice"));
  if (d.people_count.trim() !== "" && parseWhole(d.people_count, 0, REPORT_LIMITS.people_count) === null) {
    put("people_count", t("report.check.number", { min: 0, max: REPORT_LIMITS.people_count }));
  }
  const at = zonedInputToUtc(d.occurred_at, ctx.tz);
  if (at === null) {
    put("occurred_at", t("report.check.dateTime"));
  } else if (Date.parse(at) > ctx.now + FUTURE_TOLERANCE_MS) {
    put("occurred_at", t("report.check.inFuture"));
  } else if (new Date(at).getUTCFullYear() < 2000) {
    put("occurred_at", t("report.check.tooOld"));
  }
  put("location_detail", checkText(d.location_detail, REPORT_LIMITS.location_detail, false));
  if (!(VISIBILITIES as readonly string[]).includes(d.visibility)) put("visibility", t("report.check.choice"));
  return out;
}

export type ReportPayload = Omit<IncidentCreate, "client_msg_id">;

/**
 * The body of POST /incidents (the outbox adds client_msg_id). Call after
 * `checkReport` found nothing. `agency` is sent only when the officer acts for
 * several agencies at the point (else the hub takes the only one).
 */
export function buildReportPayload(d: ReportDraft, ctx: Pick<ReportContext, "agencies" | "tz">): ReportPayload {
  const payload: ReportPayload = {
    crossing_point: d.crossing_point,
    title: d.title.trim(),
    description: d.description.trim(),
    category: d.category as ReportPayload["category"],
    severity: d.severity as ReportPayload["severity"],
    people_count: d.people_count.trim() === "" ? 0 : (parseWhole(d.people_count, 0, REPORT_LIMITS.people_count) ?? 0),
    occurred_at: zonedInputToUtc(d.occurred_at, ctx.tz) ?? "",
    location_detail: d.location_detail.trim(),
    visibility: d.visibility as ReportPayload["visibility"],
  };
  if (ctx.agencies.length > 1 && d.agency) payload.agency = d.agency;
  return payload;
}
