import { describe, expect, it } from "vitest";
import { hitPath, searchPath, splitSnippet } from "./highlight";

describe("splitSnippet", () => {
  it("splits around the match", () => {
    expect(splitSnippet("Holder of passport P7731904 refused.", [19, 27])).toEqual({
      before: "Holder of passport ",
      match: "P7731904",
      after: " refused.",
    });
  });

  it("handles a match at the start and at the end", () => {
    expect(splitSnippet("Passport", [0, 8])).toEqual({ before: "", match: "Passport", after: "" });
    expect(splitSnippet("ab cd", [3, 5])).toEqual({ before: "ab ", match: "cd", after: "" });
  });

  it("counts code points like the server (Python), not UTF-16 units", () => {
    // "🚢" is one code point but two UTF-16 units.
    expect(splitSnippet("🚢 MV Newname", [5, 12])).toEqual({ before: "🚢 MV ", match: "Newname", after: "" });
    expect(splitSnippet("پاسپورٹ P77", [8, 11])).toEqual({ before: "پاسپورٹ ", match: "P77", after: "" });
  });

  it("gives the whole snippet when the offsets make no sense", () => {
    for (const match of [null, undefined, [], [0, 0], [5, 2], [-1, 2], [0, 99], [1.5, 3]]) {
      expect(splitSnippet("some text", match)).toEqual({ before: "some text", match: "", after: "" });
    }
  });
});

describe("paths", () => {
  it("keeps q in the URL, trimmed", () => {
    expect(searchPath("  MV Newname ")).toBe("/search?q=MV+Newname");
    expect(searchPath("   ")).toBe("/search");
  });

  it("links the row in the incident room", () => {
    expect(hitPath({ incident: "WDH-2026-0007", seq: 12 })).toBe("/incidents/WDH-2026-0007#seq-12");
    expect(hitPath({ kind: "message", incident: "WDH-2026-0007", seq: 3, alert_id: null })).toBe(
      "/incidents/WDH-2026-0007#seq-3",
    );
  });

  it("links an alert to its page, even when it has an incident", () => {
    expect(hitPath({ kind: "alert", incident: null, seq: null, alert_id: 42 })).toBe("/alerts/42");
    expect(hitPath({ kind: "alert", incident: "WDH-2026-0007", seq: null, alert_id: 7 })).toBe("/alerts/7");
  });
});
