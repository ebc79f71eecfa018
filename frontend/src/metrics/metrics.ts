// Response metrics, without the page: the filter kept in the URL (a filtered
// view is a link to share), the query GET /api/v1/metrics takes, durations and
// changes as an official reads them, and the CSV of each section with its
// columns named here (hub/metrics/api.py defines every figure).

import { api } from "../api/client";
import type { components } from "../api/schema";
import { label, t } from "../i18n";

type S = components["schemas"];
export type MetricsOut = S["MetricsOut"];
export type DurationRow = S["DurationRowOut"];
export type PunctualityRow = S["PunctualityRowOut"];
export type Durations = S["DurationsOut"];
export type Punctuality = S["PunctualityOut"];

/** The periods offered, in days; 28 unless the link says otherwise. */
export const PERIODS = [7, 28, 90] as const;
export type PeriodDays = (typeof PERIODS)[number];
export const DEFAULT_DAYS: PeriodDays = 28;

export const DURATION_SECTIONS = ["alert_ack", "first_response", "resolution"] as const;
export const PUNCTUALITY_SECTIONS = ["tasks", "sitreps"] as const;
export type DurationSection = (typeof DURATION_SECTIONS)[number];
export type PunctualitySection = (typeof PUNCTUALITY_SECTIONS)[number];
export type Section = DurationSection | PunctualitySection;

export interface MetricsFilter {
  /** One crossing point (its code), or null for every point the official may read. */
  point: string | null;
  days: PeriodDays;
}

const isPeriod = (value: number): value is PeriodDays => (PERIODS as readonly number[]).includes(value);
const CODE = /^[A-Z0-9]{2,6}$/;

/** The filter a page address names: the point from the path, the period from `?days=`. */
export function filterFromUrl(pathCode: string | null | undefined, search: string): MetricsFilter {
  const days = Number(new URLSearchParams(search).get("days"));
  const point = pathCode && CODE.test(pathCode) ? pathCode : null;
  return { point, days: isPeriod(days) ? days : DEFAULT_DAYS };
}

/** The page's address for a filter (the default period is left out of the link). */
export function metricsPath(filter: MetricsFilter): string {
  const base = filter.point ? `/points/${filter.point}/metrics` : "/metrics";
  return filter.days === DEFAULT_DAYS ? base : `${base}?days=${filter.days}`;
}

/** The query string of GET /metrics for a filter (the period ends now). */
export function metricsQuery(filter: MetricsFilter): string {
  const params = new URLSearchParams();
  if (filter.point) params.set("crossing_point", filter.point);
  params.set("days", String(filter.days));
  return params.toString();
}

export function fetchMetrics(filter: MetricsFilter, signal?: AbortSignal): Promise<MetricsOut> {
  return api<MetricsOut>("GET", `/metrics?${metricsQuery(filter)}`, undefined, { signal });
}

/** A whole number as the locale writes it (the ICU messages format their own). */
function whole(n: number): number {
  return Math.floor(n);
}

/**
 * Seconds as an official reads a response time: "45 s", "5 min 30 s", "12 min",
 * "3 h 5 min", "2 d 4 h"; "—" when there is no figure. Precision falls as the
 * figure grows (seconds only under ten minutes, minutes only under a day).
 */
export function formatSeconds(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return t("metrics.none");
  const s = Math.max(0, Math.round(Math.abs(seconds)));
  if (s < 60) return t("metrics.dur.s", { s });
  if (s < 600) {
    const m = whole(s / 60);
    const rest = s % 60;
    return rest === 0 ? t("metrics.dur.m", { m }) : t("metrics.dur.ms", { m, s: rest });
  }
  if (s < 3600) return t("metrics.dur.m", { m: whole(s / 60) });
  if (s < 86_400) {
    const h = whole(s / 3600);
    const m = whole((s % 3600) / 60);
    return m === 0 ? t("metrics.dur.h", { h }) : t("metrics.dur.hm", { h, m });
  }
  const d = whole(s / 86_400);
  const h = whole((s % 86_400) / 3600);
  return h === 0 ? t("metrics.dur.d", { d }) : t("metrics.dur.dh", { d, h });
}

/** A rate (0 to 1) as a whole percentage; "—" when nothing was done. */
export function formatRate(rate: number | null | undefined, lang?: string): string {
  if (rate === null || rate === undefined) return t("metrics.none");
  return new Intl.NumberFormat(lang, { style: "percent", maximumFractionDigits: 0 }).format(rate);
}

export type Tone = "better" | "worse" | "same" | "unknown";

export interface Change {
  tone: Tone;
  /** Shown beside the text, hidden from screen readers (the text says it). */
  arrow: "↓" | "↑" | "=" | "";
  text: string;
}

/** A duration's change against the previous period: less time is faster (better). */
export function durationChange(changeSeconds: number | null | undefined): Change {
  if (changeSeconds === null || changeSeconds === undefined) {
    return { tone: "unknown", arrow: "", text: t("metrics.change.unknown") };
  }
  if (changeSeconds === 0) return { tone: "same", arrow: "=", text: t("metrics.change.same") };
  const by = formatSeconds(Math.abs(changeSeconds));
  return changeSeconds < 0
    ? { tone: "better", arrow: "↓", text: t("metrics.change.faster", { by }) }
    : { tone: "worse", arrow: "↑", text: t("metrics.change.slower", { by }) };
}

/** An on-time rate's change, in percentage points: a higher rate is better. */
export function rateChange(current: number | null | undefined, previous: number | null | undefined): Change {
  if (current === null || current === undefined || previous === null || previous === undefined) {
    return { tone: "unknown", arrow: "", text: t("metrics.change.unknown") };
  }
  const points = Math.round((current - previous) * 100);
  if (points === 0) return { tone: "same", arrow: "=", text: t("metrics.change.same") };
  return points > 0
    ? { tone: "better", arrow: "↑", text: t("metrics.change.higher", { points }) }
    : { tone: "worse", arrow: "↓", text: t("metrics.change.lower", { points: -points }) };
}

/** What a row is about, translated: an agency code as is, "" as unassigned, `<category>/<severity>` as both labels. */
export function rowLabel(section: Section, key: string): string {
  if (section === "resolution") {
    const [category = "", severity = ""] = key.split("/", 2);
    return t("metrics.categorySeverity", { category: label("category", category), severity: label("severity", severity) });
  }
  return key === "" ? t("metrics.unassigned") : key;
}

// --- chart ---------------------------------------------------------------------

/** A horizontal line across a chart (an acknowledgement window). */
export interface ChartTarget {
  label: string;
  value: number;
}

/** Targets worth a line: those within the data's reach, and the first one above it. */
export function visibleTargets(targets: readonly ChartTarget[], dataMax: number): ChartTarget[] {
  const sorted = [...targets].sort((a, b) => a.value - b.value);
  const within = sorted.filter((tg) => tg.value <= dataMax * 1.2);
  const above = sorted.find((tg) => tg.value > dataMax * 1.2);
  return above ? [...within, above] : within;
}

// --- CSV ---------------------------------------------------------------------

type Cell = string | number | null | undefined;

/**
 * One CSV field: numbers as they are, text quoted when it holds a comma, quote
 * or line break, and text a spreadsheet would run as a formula (= + - @, tab,
 * carriage return at the start) led by an apostrophe.
 */
export function csvField(value: Cell): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "";
  let text = value;
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export interface CsvColumn<R> {
  /** The header (stable, English, snake_case: the file is read by programs as well as people). */
  name: string;
  value: (row: R) => Cell;
}

/** The columns of the duration sections; acknowledgement adds on-time counts, resolution the open ones. */
export function durationColumns(section: DurationSection): CsvColumn<DurationRow>[] {
  const key: CsvColumn<DurationRow>[] =
    section === "resolution"
      ? [
          { name: "category", value: (r) => r.key.split("/", 2)[0] ?? "" },
          { name: "severity", value: (r) => r.key.split("/", 2)[1] ?? "" },
        ]
      : [{ name: "agency", value: (r) => r.key }];
  const figures: CsvColumn<DurationRow>[] = [
    { name: "count", value: (r) => r.current.count },
    { name: "median_seconds", value: (r) => r.current.median_seconds },
    { name: "p90_seconds", value: (r) => r.current.p90_seconds },
    { name: "previous_count", value: (r) => r.previous.count },
    { name: "previous_median_seconds", value: (r) => r.previous.median_seconds },
    { name: "previous_p90_seconds", value: (r) => r.previous.p90_seconds },
    { name: "median_change_seconds", value: (r) => r.median_change_seconds },
    { name: "p90_change_seconds", value: (r) => r.p90_change_seconds },
  ];
  const extra: CsvColumn<DurationRow>[] =
    section === "alert_ack"
      ? [
          { name: "on_time", value: (r) => r.on_time?.on_time },
          { name: "late", value: (r) => r.on_time?.late },
          { name: "missed", value: (r) => r.on_time?.missed },
          { name: "on_time_rate", value: (r) => r.on_time?.on_time_rate },
          { name: "previous_on_time_rate", value: (r) => r.previous_on_time?.on_time_rate },
        ]
      : section === "resolution"
        ? [
            { name: "open", value: (r) => r.open },
            { name: "previous_open", value: (r) => r.previous_open },
          ]
        : [];
  return [...key, ...figures, ...extra];
}

export const PUNCTUALITY_COLUMNS: CsvColumn<PunctualityRow>[] = [
  { name: "agency", value: (r) => r.key },
  { name: "on_time", value: (r) => r.current.on_time },
  { name: "late", value: (r) => r.current.late },
  { name: "missed", value: (r) => r.current.missed },
  { name: "on_time_rate", value: (r) => r.current.on_time_rate },
  { name: "previous_on_time", value: (r) => r.previous.on_time },
  { name: "previous_late", value: (r) => r.previous.late },
  { name: "previous_missed", value: (r) => r.previous.missed },
  { name: "previous_on_time_rate", value: (r) => r.previous.on_time_rate },
];

/** The period every row covers, as the file's first columns (UTC instants, as the API gives them). */
export interface CsvContext {
  points: string[];
  start: string;
  end: string;
}

/** A CSV (CRLF lines; the download adds a BOM for spreadsheets) of rows under the given columns, each led by the points and the period. */
export function buildCsv<R>(columns: CsvColumn<R>[], rows: readonly R[], context: CsvContext): string {
  const lead: CsvColumn<R>[] = [
    { name: "crossing_points", value: () => context.points.join(" ") },
    { name: "period_start", value: () => context.start },
    { name: "period_end", value: () => context.end },
  ];
  const all = [...lead, ...columns];
  const lines = [all.map((c) => csvField(c.name)).join(",")];
  for (const row of rows) lines.push(all.map((c) => csvField(c.value(row))).join(","));
  return `${lines.join("\r\n")}\r\n`;
}

export function sectionCsv(data: MetricsOut, section: Section): string {
  const context: CsvContext = {
    points: data.crossing_points.map((p) => p.code),
    start: data.period.start,
    end: data.period.end,
  };
  if (section === "tasks" || section === "sitreps") return buildCsv(PUNCTUALITY_COLUMNS, data[section], context);
  return buildCsv(durationColumns(section), data[section], context);
}

/** "metrics-WDH-28d-alert_ack.csv"; "all" for every point. */
export function csvFilename(filter: MetricsFilter, section: Section): string {
  return `metrics-${filter.point ?? "all"}-${filter.days}d-${section}.csv`;
}
