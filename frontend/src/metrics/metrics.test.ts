// The metrics page without a browser: the URL state, durations and changes as
// read, and the CSV of each section (its columns, in order, and its escaping).

import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { registerMessages, setLocale } from "../i18n";
import en from "../i18n/locales/metrics.en.json";
import ur from "../i18n/locales/metrics.ur.json";
import {
  buildCsv,
  csvField,
  csvFilename,
  durationChange,
  durationColumns,
  filterFromUrl,
  formatRate,
  formatSeconds,
  type MetricsOut,
  metricsPath,
  metricsQuery,
  PUNCTUALITY_COLUMNS,
  rateChange,
  rowLabel,
  sectionCsv,
  visibleTargets,
} from "./metrics";

beforeAll(() => {
  registerMessages("en", { ...en });
});

afterEach(async () => {
  await setLocale("en", false);
});

const durations = (count: number, median: number | null, p90: number | null) => ({ count, median_seconds: median, p90_seconds: p90 });

const SAMPLE: MetricsOut = {
  crossing_points: [{ code: "WDH", name: "Hosea Kutako International Airport", timezone: "Africa/Windhoek" }],
  days: 28,
  period: { start: "2026-11-06T12:00:00Z", end: "2026-12-04T12:00:00Z" },
  previous_period: { start: "2026-10-09T12:00:00Z", end: "2026-11-06T12:00:00Z" },
  generated_at: "2026-12-04T12:00:00Z",
  alert_ack_targets: { critical: 300, high: 900, medium: 3600, low: 14400 },
  alert_ack: [
    {
      key: "NA-POL",
      current: durations(3, 600, 1800),
      previous: durations(1, 900, 900),
      median_change_seconds: -300,
      p90_change_seconds: 900,
      on_time: { on_time: 2, late: 1, missed: 1, on_time_rate: 2 / 3 },
      previous_on_time: { on_time: 1, late: 0, missed: 0, on_time_rate: 1 },
      open: null,
      previous_open: null,
    },
  ],
  first_response: [],
  resolution: [
    {
      key: "document_fraud/medium",
      current: durations(2, 10800, 14400),
      previous: durations(0, null, null),
      median_change_seconds: null,
      p90_change_seconds: null,
      on_time: null,
      previous_on_time: null,
      open: 1,
      previous_open: 0,
    },
  ],
  tasks: [
    { key: "", current: { on_time: 1, late: 0, missed: 2, on_time_rate: 1 }, previous: { on_time: 0, late: 0, missed: 0, on_time_rate: null } },
  ],
  sitreps: [],
};

describe("URL state", () => {
  it("round-trips the point and the period through the page's address", () => {
    for (const filter of [
      { point: "WDH", days: 7 as const },
      { point: "WDH", days: 28 as const },
      { point: null, days: 90 as const },
      { point: null, days: 28 as const },
    ]) {
      const path = metricsPath(filter);
      const [pathname = "", search = ""] = path.split("?");
      const code = /^\/points\/([A-Z0-9]+)\/metrics$/.exec(pathname)?.[1] ?? null;
      expect(filterFromUrl(code, search)).toEqual(filter);
    }
  });

  it("leaves the default period out of the link and refuses periods it does not offer", () => {
    expect(metricsPath({ point: "WDH", days: 28 })).toBe("/points/WDH/metrics");
    expect(metricsPath({ point: null, days: 7 })).toBe("/metrics?days=7");
    expect(filterFromUrl("WDH", "?days=13")).toEqual({ point: "WDH", days: 28 });
    expect(filterFromUrl("WDH", "days=abc")).toEqual({ point: "WDH", days: 28 });
    expect(filterFromUrl("wdh<script>", "")).toEqual({ point: null, days: 28 });
  });

  it("asks the API for the point and the period", () => {
    expect(metricsQuery({ point: "WDH", days: 7 })).toBe("crossing_point=WDH&days=7");
    expect(metricsQuery({ point: null, days: 90 })).toBe("days=90");
  });
});

describe("durations", () => {
  it("reads as an official would say it", () => {
    expect(formatSeconds(45)).toBe("45 s");
    expect(formatSeconds(0)).toBe("0 s");
    expect(formatSeconds(300)).toBe("5 min");
    expect(formatSeconds(330)).toBe("5 min 30 s");
    expect(formatSeconds(725)).toBe("12 min");
    expect(formatSeconds(3600)).toBe("1 h");
    expect(formatSeconds(11_100)).toBe("3 h 5 min");
    expect(formatSeconds(86_400)).toBe("1 d");
    expect(formatSeconds(90_061)).toBe("1 d 1 h");
    expect(formatSeconds(null)).toBe("—");
  });

  it("speaks Urdu when the page does", async () => {
    registerMessages("ur", { ...ur });
    await setLocale("ur", false);
    expect(formatSeconds(11_100)).toBe("3 گھنٹے 5 منٹ");
    expect(durationChange(-300).text).toBe("5 منٹ تیز");
  });
});

describe("changes against the previous period", () => {
  it("says faster for less time, slower for more", () => {
    expect(durationChange(-300)).toEqual({ tone: "better", arrow: "↓", text: "5 min faster" });
    expect(durationChange(3900)).toEqual({ tone: "worse", arrow: "↑", text: "1 h 5 min slower" });
    expect(durationChange(0)).toEqual({ tone: "same", arrow: "=", text: "No change" });
    expect(durationChange(null)).toEqual({ tone: "unknown", arrow: "", text: "No earlier figure" });
  });

  it("counts rate changes in percentage points", () => {
    expect(rateChange(0.75, 0.5)).toEqual({ tone: "better", arrow: "↑", text: "25 points higher" });
    expect(rateChange(0.5, 0.51)).toEqual({ tone: "worse", arrow: "↓", text: "1 point lower" });
    expect(rateChange(0.5, 0.5).tone).toBe("same");
    expect(rateChange(1, null).tone).toBe("unknown");
    expect(formatRate(2 / 3, "en")).toBe("67%");
    expect(formatRate(null, "en")).toBe("—");
  });
});

describe("row labels", () => {
  it("names agencies, the unassigned and category/severity pairs", () => {
    expect(rowLabel("alert_ack", "NA-POL")).toBe("NA-POL");
    expect(rowLabel("tasks", "")).toBe("No agency");
    expect(rowLabel("resolution", "document_fraud/medium")).toBe("Document fraud · Medium");
  });
});

describe("CSV", () => {
  it("escapes quotes, commas, line breaks and formulas", () => {
    expect(csvField("plain")).toBe("plain");
    expect(csvField('a "b", c')).toBe('"a ""b"", c"');
    expect(csvField("two\nlines")).toBe('"two\nlines"');
    expect(csvField("=HYPERLINK(1)")).toBe("'=HYPERLINK(1)");
    expect(csvField("-1+1")).toBe("'-1+1");
    expect(csvField(-300)).toBe("-300");
    expect(csvField(null)).toBe("");
    expect(csvField(Number.NaN)).toBe("");
  });

  it("maps each duration section to its columns", () => {
    const figures = [
      "count",
      "median_seconds",
      "p90_seconds",
      "previous_count",
      "previous_median_seconds",
      "previous_p90_seconds",
      "median_change_seconds",
      "p90_change_seconds",
    ];
    expect(durationColumns("first_response").map((c) => c.name)).toEqual(["agency", ...figures]);
    expect(durationColumns("alert_ack").map((c) => c.name)).toEqual([
      "agency",
      ...figures,
      "on_time",
      "late",
      "missed",
      "on_time_rate",
      "previous_on_time_rate",
    ]);
    expect(durationColumns("resolution").map((c) => c.name)).toEqual(["category", "severity", ...figures, "open", "previous_open"]);
    expect(PUNCTUALITY_COLUMNS.map((c) => c.name)).toEqual([
      "agency",
      "on_time",
      "late",
      "missed",
      "on_time_rate",
      "previous_on_time",
      "previous_late",
      "previous_missed",
      "previous_on_time_rate",
    ]);
  });

  it("writes the acknowledgement rows with the period first", () => {
    const lines = sectionCsv(SAMPLE, "alert_ack").split("\r\n");
    expect(lines[0]).toBe(
      "crossing_points,period_start,period_end,agency,count,median_seconds,p90_seconds,previous_count,previous_median_seconds,previous_p90_seconds,median_change_seconds,p90_change_seconds,on_time,late,missed,on_time_rate,previous_on_time_rate",
    );
    expect(lines[1]).toBe(`WDH,2026-11-06T12:00:00Z,2026-12-04T12:00:00Z,NA-POL,3,600,1800,1,900,900,-300,900,2,1,1,${2 / 3},1`);
    expect(lines[2]).toBe("");
    expect(lines).toHaveLength(3);
  });

  it("splits the resolution key and leaves missing figures empty", () => {
    const [, row] = sectionCsv(SAMPLE, "resolution").split("\r\n");
    expect(row).toBe("WDH,2026-11-06T12:00:00Z,2026-12-04T12:00:00Z,document_fraud,medium,2,10800,14400,0,,,,,1,0");
  });

  it("writes punctuality rows, and only the header for an empty section", () => {
    const [, row] = sectionCsv(SAMPLE, "tasks").split("\r\n");
    expect(row).toBe("WDH,2026-11-06T12:00:00Z,2026-12-04T12:00:00Z,,1,0,2,1,0,0,0,");
    expect(sectionCsv(SAMPLE, "sitreps").split("\r\n").filter(Boolean)).toHaveLength(1);
    expect(buildCsv([{ name: "x", value: (r: { x: string }) => r.x }], [{ x: "a,b" }], { points: ["WDH", "WVB"], start: "s", end: "e" })).toBe(
      'crossing_points,period_start,period_end,x\r\nWDH WVB,s,e,"a,b"\r\n',
    );
  });

  it("names the file after the point, the period and the section", () => {
    expect(csvFilename({ point: "WDH", days: 28 }, "alert_ack")).toBe("metrics-WDH-28d-alert_ack.csv");
    expect(csvFilename({ point: null, days: 7 }, "sitreps")).toBe("metrics-all-7d-sitreps.csv");
  });
});

describe("target lines", () => {
  it("keeps the windows within the data's reach and the first above it", () => {
    const targets = [
      { label: "low", value: 14400 },
      { label: "critical", value: 300 },
      { label: "medium", value: 3600 },
      { label: "high", value: 900 },
    ];
    expect(visibleTargets(targets, 1000).map((x) => x.label)).toEqual(["critical", "high", "medium"]);
    expect(visibleTargets(targets, 20000).map((x) => x.label)).toEqual(["critical", "high", "medium", "low"]);
  });
});
