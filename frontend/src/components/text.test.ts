import { describe, expect, it } from "vitest";
import { safeHref, tokenize } from "./text";

describe("tokenize", () => {
  it("makes http(s) links, leaving trailing punctuation outside", () => {
    expect(tokenize("See https://example.org/a?b=1. Thanks")).toEqual([
      { kind: "text", text: "See " },
      { kind: "link", text: "https://example.org/a?b=1", href: "https://example.org/a?b=1" },
      { kind: "text", text: ". Thanks" },
    ]);
  });

  it("never links other schemes", () => {
    for (const text of ["javascript:alert(1)", "data:text/html,<script>", "file:///etc/passwd", "<a href=x>y</a>"]) {
      expect(tokenize(text).every((t) => t.kind === "text")).toBe(true);
    }
    expect(safeHref("javascript:alert(1)")).toBeNull();
    expect(safeHref("http://ok.example/")).toBe("http://ok.example/");
  });

  it("finds mentions but not e-mail addresses", () => {
    expect(tokenize("@NA-POL and @na-imm.duty, mail a@b.org").filter((t) => t.kind === "mention").map((t) => t.text)).toEqual([
      "@NA-POL",
      "@na-imm.duty",
    ]);
  });

  it("keeps all the text", () => {
    const text = "a <b>bold</b> https://x.example @Z-1 end";
    expect(tokenize(text).map((t) => t.text).join("")).toBe(text);
  });
});
