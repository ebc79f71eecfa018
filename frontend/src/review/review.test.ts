import { describe, expect, it } from "vitest";
import { NO_FILTER, activeFilters, filterFromSearch, filterToQuery, filterToSearch } from "./filter";
import type { ReviewFilter } from "./filter";
import { milestoneStrip } from "./milestones";
import { appendRows, reviewRows } from "./rows";
import { filterProblems } from "./store";

const WINDHOEK = "Africa/Windhoek"; // UTC+2, no daylight saving

describe("the review's filters and its URL", () => {
  const filter: ReviewFilter = { groups: ["edits", "messages"], agency: "NA-CUS", actor: "na-cus.duty", from: "2026-12-03T14:05", to: "2026-12-03T18:00", q: " passport P1234567 ", automatic: false };

  it("round-trips through the page's query string, groups in the hub's order", () => {
    const search = filterToSearch(filter);
    expect(search).toBe("?group=messages%2Cedits&agency=NA-CUS&actor=na-cus.duty&from=2026-12-03T14%3A05&to=2026-12-03T18%3A00&q=passport+P1234567&automatic=0");
    expect(filterFromSearch(search)).toEqual({ ...filter, groups: ["messages", "edits"], q: "passport P1234567" });
    expect(filterToSearch(NO_FILTER)).toBe("");
    expect(filterFromSearch("?group=messages,bogus&automatic=1")).toEqual({ ...NO_FILTER, groups: ["messages"] });
  });

  it("counts the active filters (a time range counts once)", () => {
    expect(activeFilters(NO_FILTER)).toBe(0);
    expect(activeFilters(filter)).toBe(6);
    expect(activeFilters({ ...NO_FILTER, from: "2026-12-03T14:05" })).toBe(1);
    expect(activeFilters({ ...NO_FILTER, q: "   " })).toBe(0);
  });

  it("sends times typed in the crossing point's zone as UTC", () => {
    const query = filterToQuery(filter, WINDHOEK);
    expect(query).toBeInstanceOf(URLSearchParams);
    const params = query as URLSearchParams;
    expect(params.get("from")).toBe("2026-12-03T12:05:00.000Z");
    expect(params.get("to")).toBe("2026-12-03T16:00:00.000Z");
    expect(params.get("group")).toBe("messages,edits");
    expect(params.get("automatic")).toBe("false");
    expect(params.get("q")).toBe("passport P1234567");
  });

  it("names the time field that is wrong", () => {
    expect(filterToQuery({ ...NO_FILTER, from: "2026-12-03" }, WINDHOEK)).toEqual({ field: "from", reason: "invalid" });
    expect(filterToQuery({ ...NO_FILTER, from: "2026-12-03T14:05", to: "2026-12-03T14:05" }, WINDHOEK)).toEqual({ field: "to", reason: "order" });
  });

  it("puts a refused filter's reason next to its field", () => {
    expect(filterProblems({ errors: [{ loc: ["query", "from"], msg: "Input should be a valid datetime", type: "datetime_parsing" }], detail: "Invalid request." })).toEqual({ from: "Input should be a valid datetime" });
    expect(filterProblems({ errors: [], detail: "group: unknown bogus; one or more of messages." })).toEqual({ group: "unknown bogus; one or more of messages." });
    expect(filterProblems({ errors: [], detail: "Something else." })).toEqual({ "": "Something else." });
  });
});

describe("the review's rows", () => {
  const ev = (seq: number, at: string) => ({ seq, kind: "message.posted", at, actor: null, payload: {} });
  const reported = "2026-12-03T10:00:00Z";

  it("show the time since the report and the gap since the row above", () => {
    const rows = reviewRows([ev(7, "2026-12-03T10:30:00Z"), ev(2, "2026-12-03T10:05:00Z")], reported);
    expect(rows.map((r) => [r.seq, r.sinceStartMs / 60_000, r.gapMs === null ? null : r.gapMs / 60_000])).toEqual([
      [2, 5, null],
      [7, 30, 25],
    ]);
  });

  it("carry the gap across pages and keep each event once", () => {
    const first = reviewRows([ev(2, "2026-12-03T10:05:00Z")], reported);
    const more = appendRows(first, [ev(2, "2026-12-03T10:05:00Z"), ev(9, "2026-12-03T11:05:00Z")], reported);
    expect(more.map((r) => [r.seq, r.gapMs])).toEqual([
      [2, null],
      [9, 3_600_000],
    ]);
  });
});

describe("the milestone strip", () => {
  it("lists the six steps in order, reached or not, with their time since the report", () => {
    const strip = milestoneStrip({
      reported_at: "2026-12-03T10:00:00Z",
      milestones: [
        { key: "active", at: "2026-12-03T10:45:00Z", seq: 6, after_seconds: 2700 },
        { key: "triaged", at: "2026-12-03T10:05:00Z", seq: 3, after_seconds: 300 },
      ],
    });
    expect(strip.map((m) => [m.key, m.afterSeconds])).toEqual([
      ["reported", 0],
      ["triaged", 300],
      ["lead_set", null],
      ["active", 2700],
      ["resolved", null],
      ["closed", null],
    ]);
  });
});
