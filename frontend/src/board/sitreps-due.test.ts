import { describe, expect, it } from "vitest";
import { sitrepsDue } from "./sitreps-due";
import type { SitrepDue } from "./sitreps-due";

const NOW = Date.parse("2026-12-04T12:00:00Z");
const state = (due: string | null, every: number | null = 60, overdue = false) => ({ reports: 1, latest: null, every_minutes: every, due_at: due, overdue, reminded_at: null });

describe("situation reports due on the coordinator's board", () => {
  const polled: SitrepDue[] = [
    { kind: "operation", ref: "OP-WDH-2026-0001", title: "Screening", due_at: "2026-12-04T11:50:00Z", overdue: true, every_minutes: 60 },
    { kind: "incident", ref: "WDH-2026-0001", title: "Minor", due_at: "2026-12-04T12:30:00Z", overdue: false, every_minutes: 60 },
  ];

  it("takes a report posted on an operation from its live stream, not the minute-old list", () => {
    const ops = [{ ref: "OP-WDH-2026-0001", title: "Screening", closed: false, sitrep: state("2026-12-04T13:00:00Z") }];
    const due = sitrepsDue(polled, [], ops, NOW);
    expect(due.map((s) => [s.ref, s.overdue])).toEqual([
      ["WDH-2026-0001", false],
      ["OP-WDH-2026-0001", false],
    ]);
  });

  it("adds a cadence set since the list was read, and marks it late once its time passes", () => {
    const ops = [{ ref: "OP-WDH-2026-0002", title: "Vessel", closed: false, sitrep: state("2026-12-04T11:59:00Z") }];
    const due = sitrepsDue([], [], ops, NOW);
    expect(due).toEqual([{ kind: "operation", ref: "OP-WDH-2026-0002", title: "Vessel", due_at: "2026-12-04T11:59:00Z", every_minutes: 60, overdue: true }]);
  });

  it("drops what was closed or had its cadence cleared; keeps what the live side does not carry", () => {
    const ops = [{ ref: "OP-WDH-2026-0001", title: "Screening", closed: true, sitrep: state("2026-12-04T11:50:00Z") }];
    const incidents = [{ ref: "WDH-2026-0001", title: "Minor", closed: false, sitrep: state(null, null) }];
    expect(sitrepsDue(polled, incidents, ops, NOW)).toEqual([]);
    const unknown = [{ ref: "OP-WDH-2026-0001", title: "Screening", closed: false, sitrep: null }];
    expect(sitrepsDue(polled, [{ ref: "WDH-2026-0001", title: "Minor", closed: false }], unknown, NOW)).toEqual(polled);
  });
});
