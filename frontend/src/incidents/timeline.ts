// An incident room's timeline: the events of `incident:<REF>` the room has
// loaded (the newest page on open, older pages on scroll, live ones after),
// kept by seq, so adding an event twice, or pages in any order, gives the same
// result. `entries()` folds them into what the room shows: one row per message
// (with its versions, its redaction and its mentions) and one per other event.

import type { EventFrame } from "../realtime/protocol";

export interface Mention {
  kind: "agency" | "officer";
  key: string;
  name: string;
}

export interface Author {
  name: string;
  username: string | null;
  agency: string | null;
}

export interface Version {
  body: string;
  at: string;
  seq: number;
}

export interface ChatMessage {
  id: number;
  seq: number;
  at: string;
  author: Author;
  body: string;
  redacted: boolean;
  redaction: { by: Author; reason: string; at: string; seq: number } | null;
  /** Every version, oldest first (the first is the original). */
  versions: Version[];
  mentions: Mention[];
  editedAt: string | null;
  /** Ids of the evidence files the message refers to (hub.attachments). */
  attachments: number[];
}

export type Entry =
  | { type: "message"; seq: number; message: ChatMessage }
  | { type: "event"; seq: number; event: EventFrame };

type Payload = Record<string, unknown>;

function author(event: EventFrame): Author {
  return { name: event.actor?.name ?? "", username: event.actor?.username ?? null, agency: event.actor?.agency ?? null };
}

function mentionsOf(payload: Payload): Mention[] {
  const raw = payload.mentions;
  if (!Array.isArray(raw)) return [];
  return raw.filter((m): m is Mention => typeof m === "object" && m !== null && typeof (m as Mention).key === "string");
}

export class Timeline {
  private readonly events = new Map<number, EventFrame>();
  private cache: Entry[] | null = null;

  constructor(readonly stream: string) {}

  /** Add events (any order, repeats ignored). Returns true when something new arrived. */
  add(events: readonly EventFrame[]): boolean {
    let added = false;
    for (const event of events) {
      if (event.stream === this.stream && !this.events.has(event.seq)) {
        this.events.set(event.seq, event);
        added = true;
      }
    }
    if (added) this.cache = null;
    return added;
  }

  get size(): number {
    return this.events.size;
  }

  /** The lowest seq held (0 when empty). */
  get lowest(): number {
    let low = 0;
    for (const seq of this.events.keys()) if (low === 0 || seq < low) low = seq;
    return low;
  }

  get highest(): number {
    let high = 0;
    for (const seq of this.events.keys()) if (seq > high) high = seq;
    return high;
  }

  /** True when the start of the stream (seq 1) is loaded. */
  get complete(): boolean {
    return this.events.has(1) || this.events.size === 0;
  }

  entries(): Entry[] {
    if (this.cache !== null) return this.cache;
    const ordered = [...this.events.values()].sort((a, b) => a.seq - b.seq);
    const messages = new Map<number, ChatMessage>();
    const out: Entry[] = [];
    for (const event of ordered) {
      const p = event.payload as Payload;
      const id = typeof p.message_id === "number" ? p.message_id : null;
      if (event.kind === "message.posted" && id !== null) {
        const message: ChatMessage = {
          id,
          seq: event.seq,
          at: event.at,
          author: author(event),
          body: p.redacted ? "" : String(p.body ?? ""),
          redacted: Boolean(p.redacted),
          redaction: null,
          versions: [{ body: p.redacted ? "" : String(p.body ?? ""), at: event.at, seq: event.seq }],
          mentions: mentionsOf(p),
          editedAt: null,
          attachments: Array.isArray(p.attachments) ? p.attachments.filter((a): a is number => typeof a === "number") : [],
        };
        messages.set(id, message);
        out.push({ type: "message", seq: event.seq, message });
        continue;
      }
      const known = id === null ? undefined : messages.get(id);
      if (event.kind === "message.edited" && known !== undefined) {
        const body = p.redacted ? "" : String(p.body ?? "");
        known.versions.push({ body, at: event.at, seq: event.seq });
        known.body = body;
        known.editedAt = event.at;
        known.mentions = mentionsOf(p);
        known.redacted = known.redacted || Boolean(p.redacted);
        continue;
      }
      if (event.kind === "message.redacted" && known !== undefined) {
        known.redacted = true;
        known.body = "";
        known.versions = known.versions.map((v) => ({ ...v, body: "" }));
        known.redaction = { by: author(event), reason: String(p.reason ?? ""), at: event.at, seq: event.seq };
        continue;
      }
      out.push({ type: "event", seq: event.seq, event });
    }
    this.cache = out;
    return out;
  }

  /** The message with this id, if its posting is loaded. */
  message(id: number): ChatMessage | undefined {
    for (const entry of this.entries()) {
      if (entry.type === "message" && entry.message.id === id) return entry.message;
    }
    return undefined;
  }

  /** Serialisable form for the offline cache. */
  dump(): EventFrame[] {
    return [...this.events.values()].sort((a, b) => a.seq - b.seq);
  }
}
