import { render } from "preact";
import { describe, expect, it } from "vitest";
import { SafeText } from "./SafeText";

describe("SafeText", () => {
  it("shows pasted HTML and script as text, and links only http(s)", () => {
    const root = document.createElement("div");
    render(<SafeText text={`<img src=x onerror=alert(1)><script>alert(2)</script> javascript:alert(3) https://example.org`} />, root);
    expect(root.querySelector("img")).toBeNull();
    expect(root.querySelector("script")).toBeNull();
    expect(root.textContent).toContain("<script>alert(2)</script>");
    const links = [...root.querySelectorAll("a")];
    expect(links.map((a) => a.getAttribute("href"))).toEqual(["https://example.org/"]);
    expect(links[0]?.getAttribute("rel")).toBe("noopener noreferrer");
  });

  it("highlights mentions of the viewer only", () => {
    const root = document.createElement("div");
    render(<SafeText text="@NA-POL and @na-imm.duty" mentionKeys={["na-imm.duty"]} />, root);
    expect([...root.querySelectorAll(".mention-me")].map((e) => e.textContent)).toEqual(["@na-imm.duty"]);
    expect(root.querySelectorAll(".mention")).toHaveLength(2);
  });
});
