// `@` completion in the composer (pure): which agencies and officers of the
// incident match what follows the `@` being typed, and how the text reads once
// one is picked. The hub itself decides what counts as a mention.

export interface MentionCandidate {
  kind: "agency" | "officer";
  /** What is inserted after `@`: an agency code or a username. */
  key: string;
  /** What the list shows next to it: the agency's or officer's name. */
  name: string;
}

/** The `@word` being typed at `caret`, or null. */
export function activeMention(text: string, caret: number): { start: number; query: string } | null {
  const before = text.slice(0, caret);
  const match = /(^|[\s(])@([A-Za-z0-9._-]{0,40})$/.exec(before);
  if (match === null) return null;
  const query = match[2] ?? "";
  return { start: caret - query.length - 1, query };
}

/** Candidates matching `query` (code/username prefix first, then name words), at most `limit`. */
export function completeMentions(query: string, candidates: readonly MentionCandidate[], limit = 8): MentionCandidate[] {
  const q = query.toLowerCase();
  const seen = new Set<string>();
  const unique = candidates.filter((c) => {
    const id = `${c.kind}:${c.key.toLowerCase()}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
  const score = (c: MentionCandidate): number => {
    const key = c.key.toLowerCase();
    if (q === "") return 1;
    if (key.startsWith(q)) return 3;
    if (c.name.toLowerCase().split(/\s+/).some((w) => w.startsWith(q))) return 2;
    if (key.includes(q)) return 1;
    return 0;
  };
  return unique
    .map((c) => ({ c, s: score(c) }))
    .filter((x) => x.s > 0)
    .sort((a, b) => b.s - a.s || (a.c.kind === b.c.kind ? a.c.key.localeCompare(b.c.key) : a.c.kind === "agency" ? -1 : 1))
    .slice(0, limit)
    .map((x) => x.c);
}

/** The text with the `@query` at `start` replaced by `@key `, and where the caret goes. */
export function insertMention(text: string, start: number, caret: number, key: string): { text: string; caret: number } {
  const inserted = `@${key} `;
  const next = text.slice(0, start) + inserted + text.slice(caret).replace(/^\s/, "");
  return { text: next, caret: start + inserted.length };
}
