// How the template screens say things: due offsets, field names, values in a
// diff, and the zone times are shown in (templates belong to no crossing point:
// the officer's own zone, with UTC on hover).

import type { MessageKey } from "../i18n";
import { label, locale, t } from "../i18n";

/** The browser's zone (templates are not tied to a crossing point). */
export function viewerZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

/** "1 d 2 h 30 min" in the officer's language; "at the start" for 0. */
export function formatMinutes(minutes: number, lang = locale.value): string {
  if (!Number.isFinite(minutes)) return "";
  if (minutes === 0) return t("tpl.due.atStart");
  const abs = Math.abs(Math.trunc(minutes));
  const unit = (n: number, u: "day" | "hour" | "minute") => new Intl.NumberFormat(lang, { style: "unit", unit: u, unitDisplay: "narrow" }).format(n);
  const d = Math.floor(abs / 1440);
  const h = Math.floor((abs % 1440) / 60);
  const m = abs % 60;
  const parts: string[] = [];
  if (d) parts.push(unit(d, "day"));
  if (h) parts.push(unit(h, "hour"));
  if (m) parts.push(unit(m, "minute"));
  return (minutes < 0 ? "−" : "") + parts.join(" ");
}

/** "Due 1 h 30 min after the start". */
export function dueText(minutes: number): string {
  return minutes === 0 ? t("tpl.due.atStartLong") : t("tpl.due.after", { time: formatMinutes(minutes) });
}

const FIELD_LABELS: Record<string, MessageKey> = {
  title: "tpl.field.title",
  description: "tpl.field.description",
  position: "tpl.field.position",
  guidance: "tpl.field.guidance",
  agency_kind: "tpl.field.agencyKind",
  due_offset_minutes: "tpl.field.due",
  requires_note: "tpl.field.requiresNote",
  requires_cosign: "tpl.field.requiresCosign",
};

/** A template or item field's name, as the diff lists it. */
export function fieldLabel(name: string): string {
  const key = FIELD_LABELS[name];
  return key ? t(key) : name.replace(/_/g, " ");
}

/** A value of `field` as the diff shows it. */
export function valueText(field: string, value: string | number | boolean | null): string {
  if (value === null || value === "") return t("tpl.diff.empty");
  if (typeof value === "boolean") return value ? t("tpl.yes") : t("tpl.no");
  if (field === "agency_kind") return label("agencyKind", String(value));
  if (field === "due_offset_minutes" && typeof value === "number") return formatMinutes(value);
  if (typeof value === "number") return new Intl.NumberFormat(locale.value).format(value);
  return value;
}

/** Where a version came from: the browser (an administrator) or code (load_sops). */
export function sourceText(source: string): string {
  return source === "browser" ? t("tpl.source.browser") : t("tpl.source.code");
}
