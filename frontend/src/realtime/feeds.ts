// Several views on one stream: the board and an open room both follow
// `incident:<REF>`, but the socket holds one subscription per stream. A Feed
// multiplexes it: one socket subscription, many listeners, and a short buffer
// of recent events so a listener that joins later is brought up to its own
// `after` (or told which range to fetch over REST). Listeners must be
// idempotent by seq: the same event may reach a listener twice (buffer replay
// and REST backfill overlap), never out of the record's order within a pass.

import type { EventFrame, Presence, TypingOut } from "./protocol";

export interface FeedListener {
  /** The last seq this listener already holds. */
  after: number;
  event?: (event: EventFrame) => void;
  caughtUp?: (seq: number) => void;
  /** Events in (from, to] passed before this listener joined: fetch them over REST. */
  gap?: (from: number, to: number) => void;
  /** Replay from the listener's position is impossible: reload a snapshot. */
  resync?: (head: number) => void;
  revoked?: () => void;
  presence?: (frame: Presence) => void;
  typing?: (frame: TypingOut) => void;
  frame?: (frame: { type: string; [field: string]: unknown }) => void;
}

export interface FeedSocket {
  subscribe(stream: string, handlers: {
    event?: (event: EventFrame) => void;
    caughtUp?: (seq: number) => void;
    presence?: (frame: Presence) => void;
    typing?: (frame: TypingOut) => void;
    resync?: (head: number) => void;
    revoked?: () => void;
  }, after?: number): void;
  unsubscribe(stream: string): void;
  resume(stream: string, after: number): void;
  readonly lastSeq: Map<string, number>;
}

const BUFFER = 300;

class Feed {
  readonly listeners = new Set<FeedListener>();
  readonly buffer: EventFrame[] = [];
  caughtUp = false;
  lastPresence: Presence | null = null;

  constructor(readonly stream: string) {}

  push(event: EventFrame): void {
    this.buffer.push(event);
    if (this.buffer.length > BUFFER) {
      this.buffer.splice(0, this.buffer.length - BUFFER);
    }
  }
}

export class Feeds {
  private readonly feeds = new Map<string, Feed>();

  constructor(private readonly socket: FeedSocket) {}

  /** Start listening; returns the function that stops. */
  follow(stream: string, listener: FeedListener): () => void {
    let feed = this.feeds.get(stream);
    if (feed === undefined) {
      const created = new Feed(stream);
      feed = created;
      this.feeds.set(stream, created);
      created.listeners.add(listener);
      this.socket.subscribe(
        stream,
        {
          event: (event) => {
            created.push(event);
            for (const l of [...created.listeners]) l.event?.(event);
          },
          caughtUp: (seq) => {
            created.caughtUp = true;
            for (const l of [...created.listeners]) l.caughtUp?.(seq);
          },
          presence: (frame) => {
            created.lastPresence = frame;
            for (const l of [...created.listeners]) l.presence?.(frame);
          },
          typing: (frame) => {
            for (const l of [...created.listeners]) l.typing?.(frame);
          },
          resync: (head) => {
            created.buffer.length = 0;
            for (const l of [...created.listeners]) l.resync?.(head);
          },
          revoked: () => {
            for (const l of [...created.listeners]) l.revoked?.();
            this.feeds.delete(stream);
          },
        },
        listener.after,
      );
      return () => this.leave(stream, listener);
    }
    feed.listeners.add(listener);
    const held = this.socket.lastSeq.get(stream) ?? 0;
    if (held > listener.after) {
      const first = feed.buffer[0]?.seq ?? held + 1;
      if (first > listener.after + 1) {
        listener.gap?.(listener.after, Math.min(first - 1, held));
      }
      for (const event of feed.buffer) {
        if (event.seq > listener.after) listener.event?.(event);
      }
    }
    if (feed.caughtUp) listener.caughtUp?.(held);
    if (feed.lastPresence) listener.presence?.(feed.lastPresence);
    return () => this.leave(stream, listener);
  }

  /** Frames addressed to a stream that the socket itself does not route (seen, seen_state). */
  dispatch(stream: string, frame: { type: string; [field: string]: unknown }): void {
    for (const l of [...(this.feeds.get(stream)?.listeners ?? [])]) l.frame?.(frame);
  }

  /** Re-read a stream from `after` (after a resync: the listener reloaded a snapshot). */
  resume(stream: string, after: number): void {
    this.socket.resume(stream, after);
  }

  has(stream: string): boolean {
    return this.feeds.has(stream);
  }

  private leave(stream: string, listener: FeedListener): void {
    const feed = this.feeds.get(stream);
    if (feed === undefined || !feed.listeners.delete(listener)) {
      return;
    }
    if (feed.listeners.size === 0) {
      this.feeds.delete(stream);
      this.socket.unsubscribe(stream);
    }
  }
}
