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

/** Where a hit leads: an alert to its page, anything else to its row in the incident room. */
export function hitPath(hit: {
  kind?: string;
  incident: string | null;
  seq: number | null;
  alert_id?: number | null;
}): string {
  if (hit.kind === "alert" && typeof hit.alert_id === "number") return `/alerts/${hit.alert_id}`;
  if (!hit.incident) return "/search";
  const row = typeof hit.seq === "number" ? `#seq-${hit.seq}` : "";
  return `/incidents/${encodeURIComponent(hit.incident)}${row}`;
}

/** The incident room of an alert's linked incident (its first row), if any. */
export function incidentPath(ref: string): string {
  return `/incidents/${encodeURIComponent(ref)}`;
}
