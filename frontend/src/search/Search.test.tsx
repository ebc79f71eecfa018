// The search screen in a DOM with a fake REST hub: what the officer types before
// the screen's first effects run is kept, and a search puts the query in the URL.

import { render } from "preact";
import { LocationProvider } from "preact-iso";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { loadReviewMessages } from "../i18n";
import { tick, typeInto, until } from "../incidents/dom-harness";
import { Search } from "./Search";

await loadReviewMessages();

let container: HTMLElement;
let reads: string[];

beforeEach(() => {
  reads = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string) => {
      reads.push(url);
      return {
        ok: true,
        status: 200,
        statusText: "",
        json: async () => ({ items: [], next_cursor: null }),
      };
    }),
  );
  container = document.createElement("div");
  document.body.append(container);
});

afterEach(() => {
  render(null, container);
  container.remove();
  vi.unstubAllGlobals();
});

function box(): HTMLInputElement {
  const el = container.querySelector<HTMLInputElement>("#search-q");
  if (el === null) throw new Error("no search box");
  return el;
}

describe("Search", () => {
  it("keeps what was typed before the first effects ran, and searches it", async () => {
    history.replaceState(null, "", "/search");
    render(
      <LocationProvider>
        <Search />
      </LocationProvider>,
      container,
    );
    typeInto(box(), "P7731904"); // at once: the mount effect has not run yet
    await tick();
    expect(box().value).toBe("P7731904");
    container.querySelector("form")!.dispatchEvent(new Event("submit", { bubbles: true, cancelable: true }));
    await until(() => reads.length === 1, "the search request");
    expect(location.pathname + location.search).toBe("/search?q=P7731904");
    expect(new URL(reads[0]!, "http://hub").searchParams.get("q")).toBe("P7731904");
    expect(box().value).toBe("P7731904");
  });

  it("opens with the query of the URL in the box", async () => {
    history.replaceState(null, "", "/search?q=MV%20Ocean");
    render(
      <LocationProvider>
        <Search />
      </LocationProvider>,
      container,
    );
    await until(() => reads.length === 1, "the search request");
    expect(box().value).toBe("MV Ocean");
  });
});
