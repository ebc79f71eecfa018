// What the write forms (report an incident, issue / update / cancel an alert)
// share: text limits counted as the hub counts them, drafts kept in
// localStorage per officer, where an outbox item stands, and a refusal turned
// into reasons next to the fields. Pure apart from the draft storage, so it is
// unit-tested.

import { fieldErrors } from "../api/client";
import type { FieldError } from "../api/client";
import { errorText, t } from "../i18n";
import type { OutboxError, OutboxItem } from "../realtime/outbox";

/** Length as the hub (Python) counts it: code points, not UTF-16 units. */
export function textLength(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** "Required" when empty after trimming, "too long" past `max` code points; null when fine. */
export function checkText(value: string, max: number, required: boolean): string | null {
  if (required && value.trim() === "") {
    return t("report.check.required");
  }
  const count = textLength(value.trim());
  if (count > max) {
    return t("report.check.tooLong", { max, count });
  }
  return null;
}

/** A whole number in [min, max] typed as text; the number or null. */
export function parseWhole(text: string, min: number, max: number): number | null {
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed)) {
    return null;
  }
  const n = Number(trimmed);
  return Number.isSafeInteger(n) && n >= min && n <= max ? n : null;
}

// --- drafts ------------------------------------------------------------------

function store(): Storage | null {
  try {
    return typeof localStorage === "undefined" ? null : localStorage;
  } catch {
    return null;
  }
}

/** The saved draft under `key`, merged over `fallback` (so fields added later get their default). */
export function loadDraft<T extends object>(key: string, fallback: T): T {
  try {
    const raw = store()?.getItem(key);
    if (!raw) return fallback;
    const parsed = JSON.parse(raw) as unknown;
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return fallback;
    const out = { ...fallback } as Record<string, unknown>;
    for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
      const expected = (fallback as Record<string, unknown>)[name];
      if (name in out && (expected === undefined || typeof value === typeof expected || (Array.isArray(expected) && Array.isArray(value)))) {
        out[name] = value;
      }
    }
    return out as T;
  } catch {
    return fallback;
  }
}

export function saveDraft(key: string, draft: object): void {
  try {
    store()?.setItem(key, JSON.stringify(draft));
  } catch {
    // Private mode or a full store: the draft lives as long as the page.
  }
}

export function clearDraft(key: string): void {
  try {
    store()?.removeItem(key);
  } catch {
    // nothing to clear
  }
}

// --- the outbox item behind a form --------------------------------------------

export type Phase = "idle" | "sending" | "sent" | "failed";

export function phaseOf(item: OutboxItem | undefined): Phase {
  if (item === undefined) return "idle";
  if (item.status === "sent") return "sent";
  if (item.status === "failed") return "failed";
  return "sending";
}

/** Why a pending item has not gone yet (the last retryable failure), or null. */
export function retryReason(item: OutboxItem | undefined): string | null {
  if (item === undefined || item.status === "sent" || item.status === "failed" || !item.error) return null;
  return errorText(item.error.code, item.error.detail);
}

// --- refusals ------------------------------------------------------------------

export interface Refusal {
  /** Reasons by form field. */
  fields: Record<string, string>;
  /** A reason that belongs to no field of the form (shown above the button), or null. */
  general: string | null;
}

/** One field error of a 422 in the officer's language (the hub's own text when the kind is unknown). */
export function translateFieldError(field: string, error: FieldError, limits: Readonly<Record<string, number>> = {}): string {
  const max = limits[field];
  switch (error.type) {
    case "missing":
    case "string_too_short":
      return t("report.check.required");
    case "string_too_long":
      return max !== undefined ? t("report.check.tooLongServer", { max }) : error.msg;
    case "int_type":
    case "int_parsing":
    case "int_from_float":
    case "greater_than_equal":
    case "less_than_equal":
      return t("report.check.number", { min: 0, max: max ?? 100_000 });
    case "datetime_type":
    case "datetime_parsing":
    case "datetime_from_date_parsing":
    case "timezone_aware":
      return t("report.check.dateTime");
    case "enum":
    case "literal_error":
      return t("report.check.choice");
    default:
      return error.msg || t("report.check.invalid");
  }
}

/**
 * A final refusal as the form shows it. A 422 with a field list puts each
 * reason next to its field (`fieldErrors` groups them by the field's name;
 * `aliases` renames a wire name to the form's, e.g. `targets` → `targets`);
 * a 422 without one whose text names a field of the form ("expires_at must be
 * in the future.") goes next to that field; anything else is one translated
 * reason above the button.
 */
export function refusalOf(
  error: OutboxError,
  formFields: readonly string[],
  limits: Readonly<Record<string, number>> = {},
  aliases: Readonly<Record<string, string>> = {},
): Refusal {
  const general = errorText(error.code, error.detail);
  if (error.status !== 422) {
    return { fields: {}, general };
  }
  const rename = (name: string) => aliases[name] ?? name;
  if (error.errors && error.errors.length > 0) {
    const translated = error.errors.map((e) => {
      const parts = e.loc.filter((p) => p !== "body" && p !== "payload");
      const field = rename(parts.length ? String(parts[0]) : "");
      return { ...e, loc: [field], msg: translateFieldError(field, e, limits) };
    });
    const grouped = fieldErrors({ errors: translated, detail: error.detail });
    const fields: Record<string, string> = {};
    const rest: string[] = [];
    for (const [name, text] of Object.entries(grouped)) {
      if (name !== "" && formFields.includes(name)) fields[name] = text;
      else rest.push(name ? `${name}: ${text}` : text);
    }
    return { fields, general: rest.length ? t("report.refusedFields", { detail: rest.join("; ") }) : null };
  }
  const named = /^([a-z_]+)\b/.exec(error.detail)?.[1];
  if (named !== undefined && formFields.includes(rename(named))) {
    return { fields: { [rename(named)]: general }, general: null };
  }
  return { fields: {}, general };
}

/** The first control marked invalid inside `root` (document order), focused; else `fallback`. */
export function focusFirstInvalid(root: HTMLElement | null, fallback?: HTMLElement | null): void {
  const target = root?.querySelector<HTMLElement>('[aria-invalid="true"]') ?? fallback ?? null;
  target?.focus();
}
