import { describe, expect, it } from "vitest";
import { activeMention, completeMentions, insertMention } from "./mentions";

const candidates = [
  { kind: "agency" as const, key: "NA-POL", name: "NA-POL" },
  { kind: "agency" as const, key: "NA-IMM", name: "NA-IMM" },
  { kind: "officer" as const, key: "na-pol.duty", name: "Loide Nakale" },
  { kind: "officer" as const, key: "na-imm.coord", name: "Tjiuee Kandjii" },
  { kind: "officer" as const, key: "na-pol.duty", name: "Loide Nakale" },
];

describe("mention completion", () => {
  it("finds the @word being typed at the caret", () => {
    expect(activeMention("Hello @na-p", 11)).toEqual({ start: 6, query: "na-p" });
    expect(activeMention("@", 1)).toEqual({ start: 0, query: "" });
    expect(activeMention("mail me@host", 12)).toBeNull();
    expect(activeMention("done @x then", 12)).toBeNull();
  });

  it("ranks code/username prefixes first, then names, without duplicates", () => {
    expect(completeMentions("na-p", candidates).map((c) => c.key)).toEqual(["NA-POL", "na-pol.duty"]);
    expect(completeMentions("loi", candidates).map((c) => c.key)).toEqual(["na-pol.duty"]);
    expect(completeMentions("", candidates)).toHaveLength(4);
    expect(completeMentions("zzz", candidates)).toEqual([]);
  });

  it("inserts the pick and puts the caret after it", () => {
    expect(insertMention("Hello @na-p please", 6, 11, "na-pol.duty")).toEqual({ text: "Hello @na-pol.duty please", caret: 19 });
  });
});
