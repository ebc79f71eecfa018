// Times as officers read them: in the crossing point's time zone, with its UTC
// offset, in the officer's language; UTC on hover. A time typed into a form is
// read in the crossing point's zone too (`zonedInputToUtc`).

import { TZDate } from "@date-fns/tz";
import { locale } from "./index";

function formatter(tz: string, options: Intl.DateTimeFormatOptions, lang = locale.value): Intl.DateTimeFormat {
  const key = `${lang}|${tz}|${JSON.stringify(options)}`;
  let f = cache.get(key);
  if (f === undefined) {
    try {
      f = new Intl.DateTimeFormat(lang, { ...options, timeZone: tz });
    } catch {
      f = new Intl.DateTimeFormat(lang, { ...options, timeZone: "UTC" });
    }
    cache.set(key, f);
  }
  return f;
}
const cache = new Map<string, Intl.DateTimeFormat>();

function toDate(value: string | number | Date): Date {
  return value instanceof Date ? value : new Date(value);
}

/** "14:05 GMT+2" (same day) or "3 Dec, 14:05 GMT+2", in `tz`. */
export function formatTime(value: string | number | Date, tz: string, now: number = Date.now(), lang = locale.value): string {
  const date = toDate(value);
  if (Number.isNaN(date.getTime())) {
    return "";
  }
  const sameDay = dayKey(date, tz) === dayKey(new Date(now), tz);
  const options: Intl.DateTimeFormatOptions = sameDay
    ? { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "shortOffset" }
    : { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "shortOffset" };
  return formatter(tz, options, lang).format(date);
}

/** The full date and time in `tz` with its offset ("3 December 2026 at 14:05:09 GMT+2"). */
export function formatFull(value: string | number | Date, tz: string, lang = locale.value): string {
  const date = toDate(value);
  if (Number.isNaN(date.getTime())) {
    return "";
  }
  return formatter(tz, { dateStyle: "long", timeStyle: "long" }, lang).format(date);
}

/** The UTC time, for the hover title: "2026-12-03 12:05:09 UTC". */
export function formatUtc(value: string | number | Date): string {
  const date = toDate(value);
  if (Number.isNaN(date.getTime())) {
    return "";
  }
  return `${date.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

function dayKey(date: Date, tz: string): string {
  return formatter(tz, { year: "numeric", month: "2-digit", day: "2-digit" }, "en").format(date);
}

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["day", 86_400_000],
  ["hour", 3_600_000],
  ["minute", 60_000],
  ["second", 1000],
];

/** "3 min ago", "in 2 hours": relative to `now`, in the officer's language. */
export function formatRelative(value: string | number | Date, now: number = Date.now(), lang = locale.value): string {
  const ms = toDate(value).getTime() - now;
  if (Number.isNaN(ms)) {
    return "";
  }
  const rtf = new Intl.RelativeTimeFormat(lang, { numeric: "auto", style: "short" });
  // The shared clock ticks once a second: something that just happened may look a
  // moment ahead of it. Within a few seconds either way it is "now".
  if (Math.abs(ms) < 5000) {
    return rtf.format(0, "second");
  }
  for (const [unit, size] of UNITS) {
    if (Math.abs(ms) >= size || unit === "second") {
      return rtf.format(Math.round(ms / size), unit);
    }
  }
  return "";
}

/** A duration as "2 h 5 min" / "45 s" (for countdowns and gaps). */
export function formatDuration(ms: number, lang = locale.value): string {
  const abs = Math.abs(ms);
  const nf = new Intl.NumberFormat(lang);
  const h = Math.floor(abs / 3_600_000);
  const m = Math.floor((abs % 3_600_000) / 60_000);
  const s = Math.floor((abs % 60_000) / 1000);
  const parts: string[] = [];
  const unit = (n: number, u: "hour" | "minute" | "second") =>
    new Intl.NumberFormat(lang, { style: "unit", unit: u, unitDisplay: "narrow" }).format(n);
  if (h > 0) parts.push(unit(h, "hour"));
  if (m > 0 || h > 0) parts.push(unit(m, "minute"));
  if (h === 0 && m < 10) parts.push(unit(s, "second"));
  return parts.join(" ") || nf.format(0);
}

/**
 * A wall-clock time typed in the crossing point's zone ("2026-12-03T14:05",
 * the value of an `<input type="datetime-local">`) as an ISO instant in UTC.
 * Null when the text is not a complete date and time.
 */
export function zonedInputToUtc(local: string, tz: string): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(local);
  if (m === null) {
    return null;
  }
  const [, y, mo, d, h, mi, s] = m;
  const zoned = new TZDate(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? 0), tz);
  const time = zoned.getTime();
  return Number.isNaN(time) ? null : new Date(time).toISOString();
}

/** The value for a `datetime-local` input showing `value` in `tz` ("2026-12-03T14:05"). */
export function utcToZonedInput(value: string | number | Date, tz: string): string {
  const zoned = new TZDate(toDate(value).getTime(), tz);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${zoned.getFullYear()}-${pad(zoned.getMonth() + 1)}-${pad(zoned.getDate())}T${pad(zoned.getHours())}:${pad(zoned.getMinutes())}`;
}

/** The zone's current offset as "GMT+2" (shown next to time inputs). */
export function zoneOffsetLabel(tz: string, at: number = Date.now()): string {
  const parts = formatter(tz, { timeZoneName: "shortOffset" }, "en").formatToParts(new Date(at));
  return parts.find((p) => p.type === "timeZoneName")?.value ?? tz;
}
