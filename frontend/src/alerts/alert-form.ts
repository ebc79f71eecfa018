// The alert forms' data, apart from the screens: issuing (AlertIn), updating
// (AlertPatch: only the fields that changed, a new version) and cancelling
// (CancelIn), with checks that mirror the hub (hub/alerts/api.py and
// services.py) and who may change an alert (hub/alerts/permissions.py).
// Pure, so it is unit-tested.

import type { components } from "../api/schema";
import type { Me } from "../api/types";
import { READER_ROLES, agenciesAt } from "../app/session";
import { SEVERITIES } from "../board/Board";
import { t } from "../i18n";
import { utcToZonedInput, zonedInputToUtc } from "../i18n/time";
import { checkText, refusalOf } from "../incidents/form-kit";
import type { Refusal } from "../incidents/form-kit";
import type { OutboxError } from "../realtime/outbox";
import type { AlertState } from "./store";

export type AlertIn = components["schemas"]["AlertIn"];
export type AlertPatch = components["schemas"]["AlertPatch"];

export const ALERT_CATEGORIES = [
  "wanted_person",
  "trafficking_risk",
  "smuggling",
  "document_fraud",
  "vessel_of_interest",
  "security_threat",
  "health",
  "weather",
  "systems",
  "other",
];
export const URGENCIES = ["Immediate", "Expected", "Future", "Past", "Unknown"];
export const CERTAINTIES = ["Observed", "Likely", "Possible", "Unlikely", "Unknown"];
/** What the hub picks when the issuer leaves urgency / certainty open (services.DEFAULT_URGENCY). */
export const DEFAULT_URGENCY: Record<string, string> = { critical: "Immediate", high: "Immediate", medium: "Expected", low: "Future" };
export const DEFAULT_CERTAINTY = "Likely";

export const ALERT_LIMITS = { title: 200, body: 10_000, incident: 32, reason: 500, targets: 50 } as const;

/** The issue form's fields, in the order they appear. */
export const ALERT_FIELDS = [
  "agency",
  "title",
  "body",
  "category",
  "severity",
  "urgency",
  "certainty",
  "expires_at",
  "targets",
  "ack_required",
  "exercise",
  "incident",
] as const;

export const UPDATE_FIELDS = ["title", "body", "category", "severity", "urgency", "certainty", "expires_at"] as const;

// --- issuing -------------------------------------------------------------------

export interface AlertDraft {
  /** The client_msg_id this form sends with, for its whole life. */
  id: string;
  /** The issuing agency ("" until chosen, when the officer acts for several here). */
  agency: string;
  title: string;
  body: string;
  category: string;
  severity: string;
  /** "" leaves it to the hub (by severity). */
  urgency: string;
  /** "" leaves it to the hub (Likely). */
  certainty: string;
  /** As typed in the crossing point's zone; "" for no expiry. */
  expires_at: string;
  /** Deployed agencies the officer unticked (all others must acknowledge). */
  unchecked: string[];
  ack_required: boolean;
  exercise: boolean;
  incident: string;
}

export function alertDraftKey(username: string, code: string): string {
  return `hub.draft.alert.${username}.${code}`;
}

export function newAlertDraft(id: string, agencies: readonly string[], incident = ""): AlertDraft {
  return {
    id,
    agency: agencies.length === 1 ? (agencies[0] ?? "") : "",
    title: "",
    body: "",
    category: "",
    severity: "",
    urgency: "",
    certainty: "",
    expires_at: "",
    unchecked: [],
    ack_required: true,
    exercise: false,
    incident,
  };
}

/** Agencies the officer may issue for at the point (any reader role). */
export function issuingAgencies(user: Me | null, code: string): string[] {
  return agenciesAt(user, code, READER_ROLES);
}

/** The agency the alert goes out for: the chosen one, else the only one. */
export function issuerOf(d: AlertDraft, agencies: readonly string[]): string {
  if (agencies.includes(d.agency)) return d.agency;
  return agencies.length === 1 ? (agencies[0] ?? "") : "";
}

/** The agencies that may be asked to acknowledge: every one deployed here but the issuer. */
export function targetChoices(deployed: readonly string[], issuer: string): string[] {
  return [...new Set(deployed)].filter((a) => a !== issuer).sort();
}

/** The ticked agencies. */
export function targetsOf(d: AlertDraft, deployed: readonly string[], issuer: string): string[] {
  return targetChoices(deployed, issuer).filter((a) => !d.unchecked.includes(a));
}

export interface AlertContext {
  /** Agencies the officer may issue for here. */
  agencies: readonly string[];
  /** Agencies deployed at the point. */
  deployed: readonly string[];
  tz: string;
  now: number;
}

function checkExpiry(local: string, tz: string, now: number): string | null {
  if (local.trim() === "") return null;
  const at = zonedInputToUtc(local, tz);
  if (at === null) return t("report.check.dateTime");
  return Date.parse(at) <= now ? t("alertForm.check.expiryPast") : null;
}

export function checkAlert(d: AlertDraft, ctx: AlertContext): Record<string, string> {
  const out: Record<string, string> = {};
  const put = (field: string, reason: string | null) => {
    if (reason !== null) out[field] = reason;
  };
  const issuer = issuerOf(d, ctx.agencies);
  if (issuer === "") put("agency", t("report.check.chooseAgency"));
  put("title", checkText(d.title, ALERT_LIMITS.title, true));
  put("body", checkText(d.body, ALERT_LIMITS.body, false));
  if (!ALERT_CATEGORIES.includes(d.category)) put("category", t("report.check.choice"));
  if (!SEVERITIES.includes(d.severity)) put("severity", t("report.check.choice"));
  if (d.urgency !== "" && !URGENCIES.includes(d.urgency)) put("urgency", t("report.check.choice"));
  if (d.certainty !== "" && !CERTAINTIES.includes(d.certainty)) put("certainty", t("report.check.choice"));
  put("expires_at", checkExpiry(d.expires_at, ctx.tz, ctx.now));
  const targets = targetsOf(d, ctx.deployed, issuer);
  if (targets.length === 0) put("targets", t("alertForm.check.noTargets"));
  else if (targets.length > ALERT_LIMITS.targets) put("targets", t("alertForm.check.tooManyTargets", { max: ALERT_LIMITS.targets }));
  put("incident", checkText(d.incident, ALERT_LIMITS.incident, false));
  return out;
}

/**
 * The body of POST /crossing-points/{code}/alerts (the outbox adds
 * client_msg_id). Call after `checkAlert` found nothing. The targets are
 * always named; the agency only when the officer acts for several here.
 */
export function buildAlertPayload(d: AlertDraft, ctx: Omit<AlertContext, "now">): Omit<AlertIn, "client_msg_id"> {
  const issuer = issuerOf(d, ctx.agencies);
  const payload: Omit<AlertIn, "client_msg_id"> = {
    title: d.title.trim(),
    body: d.body.trim(),
    category: d.category as AlertIn["category"],
    severity: d.severity as AlertIn["severity"],
    targets: targetsOf(d, ctx.deployed, issuer),
    ack_required: d.ack_required,
    exercise: d.exercise,
  };
  if (d.urgency) payload.urgency = d.urgency as NonNullable<AlertIn["urgency"]>;
  if (d.certainty) payload.certainty = d.certainty as NonNullable<AlertIn["certainty"]>;
  if (d.expires_at.trim()) payload.expires_at = zonedInputToUtc(d.expires_at, ctx.tz);
  if (d.incident.trim()) payload.incident = d.incident.trim();
  if (ctx.agencies.length > 1) payload.agency = issuer;
  return payload;
}

/** A refusal of the issue form, with the hub's plain-text reasons put next to the field they are about. */
export function alertRefusal(error: OutboxError, d: AlertDraft): Refusal {
  const refusal = refusalOf(error, ALERT_FIELDS, ALERT_LIMITS);
  if (refusal.general === null || Object.keys(refusal.fields).length > 0) return refusal;
  if (error.code === "agency_not_deployed" || /targeted agency/i.test(error.detail)) {
    return { fields: { targets: refusal.general }, general: null };
  }
  if (d.incident.trim() && /\bincident\b/i.test(error.detail) && (error.status === 404 || error.status === 422)) {
    return { fields: { incident: refusal.general }, general: null };
  }
  return refusal;
}

// --- updating and cancelling ------------------------------------------------------

export interface UpdateForm {
  title: string;
  body: string;
  category: string;
  severity: string;
  urgency: string;
  certainty: string;
  /** As typed in the crossing point's zone; "" for no expiry. */
  expires_at: string;
}

/** The update form prefilled with the alert as it stands. */
export function updateFormOf(alert: AlertState, tz: string): UpdateForm {
  return {
    title: alert.title,
    body: alert.body,
    category: alert.category,
    severity: alert.severity,
    urgency: alert.urgency,
    certainty: alert.certainty,
    expires_at: alert.expiresAt ? utcToZonedInput(alert.expiresAt, tz) : "",
  };
}

/** Only what the officer changed against `base` (the form as prefilled): the PATCH body. */
export function alertChanges(base: UpdateForm, form: UpdateForm, tz: string): Omit<AlertPatch, "client_msg_id"> {
  const out: Record<string, unknown> = {};
  if (form.title.trim() !== base.title.trim()) out.title = form.title.trim();
  if (form.body.trim() !== base.body.trim()) out.body = form.body.trim();
  for (const name of ["category", "severity", "urgency", "certainty"] as const) {
    if (form[name] !== base[name]) out[name] = form[name];
  }
  if (form.expires_at.trim() !== base.expires_at.trim()) {
    out.expires_at = form.expires_at.trim() === "" ? null : zonedInputToUtc(form.expires_at, tz);
  }
  return out as Omit<AlertPatch, "client_msg_id">;
}

export function checkUpdate(form: UpdateForm, base: UpdateForm, tz: string, now: number): Record<string, string> {
  const out: Record<string, string> = {};
  const put = (field: string, reason: string | null) => {
    if (reason !== null) out[field] = reason;
  };
  put("title", checkText(form.title, ALERT_LIMITS.title, true));
  put("body", checkText(form.body, ALERT_LIMITS.body, false));
  if (!ALERT_CATEGORIES.includes(form.category)) put("category", t("report.check.choice"));
  if (!SEVERITIES.includes(form.severity)) put("severity", t("report.check.choice"));
  if (!URGENCIES.includes(form.urgency)) put("urgency", t("report.check.choice"));
  if (!CERTAINTIES.includes(form.certainty)) put("certainty", t("report.check.choice"));
  if (form.expires_at.trim() !== base.expires_at.trim()) put("expires_at", checkExpiry(form.expires_at, tz, now));
  return out;
}

export function checkCancel(reason: string): string | null {
  return checkText(reason, ALERT_LIMITS.reason, true);
}

/**
 * May this officer update or cancel the alert? The issuing officer (still
 * serving the point for the issuing agency), or a coordinator or senior
 * official of the issuing agency at the point.
 */
export function canChangeAlert(user: Me | null, alert: Pick<AlertState, "crossingPoint" | "issuingAgency" | "issuedBy">): boolean {
  const own = (user?.memberships ?? []).filter(
    (m) => READER_ROLES.includes(m.role) && m.agency === alert.issuingAgency && m.crossing_points.includes(alert.crossingPoint),
  );
  if (own.length === 0) return false;
  if (alert.issuedBy?.username && alert.issuedBy.username === user?.username) return true;
  return own.some((m) => m.role === "coordinator" || m.role === "senior_official");
}
