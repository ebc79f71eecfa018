// Splitting message text into plain runs, http(s) links and @mentions (pure).

export type Token =
  | { kind: "text"; text: string }
  | { kind: "link"; text: string; href: string }
  | { kind: "mention"; text: string; key: string };

const PATTERN = /(https?:\/\/[^\s<>"']+)|(@[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])/g;
const TRAILING = /[.,;:!?)\]]+$/;

export function safeHref(candidate: string): string | null {
  try {
    const url = new URL(candidate);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let last = 0;
  for (const match of text.matchAll(PATTERN)) {
    const start = match.index ?? 0;
    let raw = match[0];
    if (match[1] !== undefined) {
      const trail = TRAILING.exec(raw)?.[0] ?? "";
      raw = raw.slice(0, raw.length - trail.length);
      const href = safeHref(raw);
      if (href === null) continue;
      if (start > last) tokens.push({ kind: "text", text: text.slice(last, start) });
      tokens.push({ kind: "link", text: raw, href });
      last = start + raw.length;
    } else {
      if (start > 0 && /[\w@]/.test(text[start - 1] ?? "")) continue; // an e-mail address, not a mention
      if (start > last) tokens.push({ kind: "text", text: text.slice(last, start) });
      tokens.push({ kind: "mention", text: raw, key: raw.slice(1) });
      last = start + raw.length;
    }
  }
  if (last < text.length) tokens.push({ kind: "text", text: text.slice(last) });
  return tokens;
}
