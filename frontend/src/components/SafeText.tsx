// What officers write, shown as text: Preact escapes it, and only http(s)
// links become clickable (rel="noopener noreferrer", a new tab). Mentions of
// the viewer are highlighted. Nothing is ever inserted as HTML.

import type { ComponentChildren } from "preact";
import { tokenize } from "./text";

export function SafeText({ text, mentionKeys = [] }: { text: string; mentionKeys?: readonly string[] }) {
  const out: ComponentChildren[] = [];
  const lowered = mentionKeys.map((k) => k.toLowerCase());
  tokenize(text).forEach((token, i) => {
    if (token.kind === "link") {
      out.push(
        <a key={i} href={token.href} target="_blank" rel="noopener noreferrer">
          {token.text}
        </a>,
      );
    } else if (token.kind === "mention") {
      const me = lowered.includes(token.key.toLowerCase());
      out.push(
        <bdi key={i} class={`mention${me ? " mention-me" : ""}`}>
          {token.text}
        </bdi>,
      );
    } else {
      out.push(token.text);
    }
  });
  return <>{out}</>;
}
