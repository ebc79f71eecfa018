// The snippet of a search hit split around its match, so the match can be shown
// in <mark>: [before, match, after]. Offsets out of range (or an empty match)
// give the whole snippet as `before`, never a broken string.

export interface SnippetParts {
  before: string;
  match: string;
  after: string;
}

export function splitSnippet(snippet: string, match: readonly number[] | null | undefined): SnippetParts {
  const [start, end] = match ?? [];
  const chars = Array.from(snippet);
  if (
    typeof start !== "number" ||
    typeof end !== "number" ||
    !Number.isInteger(start) ||
    !Number.isInteger(end) ||
    start < 0 ||
    end <= start ||
    end > snippet.length
  ) {
    return { before: snippet, match: "", after: "" };
  }
  // Offsets count code points (Python's str indices), not UTF-16 units.
  if (end > chars.length) return { before: snippet, match: "", after: "" };
  return {
    before: chars.slice(0, start).join(""),
    match: chars.slice(start, end).join(""),
    after: chars.slice(end).join(""),
  };
}

/** The search's path for a query (the q kept in the URL). */
export function searchPath(q: string): string {
  const text = q.trim();
  return text ? `/search?${new URLSearchParams({ q: text }).toString()}` : "/search";
}

/** Where a hit leads: its row in the incident room. */
export function hitPath(hit: { incident: string; seq: number }): string {
  return `/incidents/${encodeURIComponent(hit.incident)}#seq-${hit.seq}`;
}
