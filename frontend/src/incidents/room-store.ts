// An incident room's live state: the incident (snapshot moved forward by its
// events), its timeline (newest page on open, older pages on request, live
// events after), presence, typing and read markers ("seen by").

import { batch, signal } from "@preact/signals";
import { ApiError } from "../api/client";
import { MAX_EVENT_PAGE, eventFrame as frameOf, getIncident, streamEvents } from "../api/endpoints";
import { IncidentFiles } from "../attachments/store";
import { loadCached, saveCached } from "../realtime/cache";
import { liveFeeds, liveSocket } from "../realtime/live";
import type { EventFrame, Presence } from "../realtime/protocol";
import { applyIncidentEvent } from "./state";
import type { IncidentState } from "./state";
import { Timeline } from "./timeline";

export const PAGE = 100;
const TYPING_SHOWN_MS = 4000;
const READ_EVERY_MS = 2000;

export interface Reader {
  user: string;
  name: string;
  agency: string | null;
  seq: number;
}

export interface Typist {
  user: string;
  name: string;
  agency: string | null;
  until: number;
}

interface RoomSnapshot {
  incident: IncidentState;
  events: EventFrame[];
}

export type RoomStatus = "loading" | "ready" | "not-found" | "failed" | "revoked";

export class RoomStore {
  readonly status = signal<RoomStatus>("loading");
  readonly incident = signal<IncidentState | null>(null);
  readonly version = signal(0);
  readonly presence = signal<Presence["online"]>({});
  readonly typing = signal<Typist[]>([]);
  readonly readers = signal<Map<string, Reader>>(new Map());
  readonly loadingOlder = signal(false);
  readonly staleSince = signal<number | null>(null);
  /** Joint operations started on this incident (their checklists show in a panel). */
  readonly operations = signal<string[]>([]);
  readonly timeline: Timeline;
  /** The incident's evidence files (metadata; pictures are fetched by the views). */
  readonly files: IncidentFiles;
  /** A live event arrived (not replay): for announcements and mention highlights. */
  onLiveEvent: ((event: EventFrame) => void) | null = null;

  private stopFeed: (() => void) | null = null;
  private stopped = false;
  private caughtUp = false;
  private lastReadSent = 0;
  private readTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(readonly ref: string) {
    this.timeline = new Timeline(`incident:${ref}`);
    this.files = new IncidentFiles(ref);
  }

  get stream(): string {
    return `incident:${this.ref}`;
  }

  async start(): Promise<void> {
    let incident: IncidentState;
    try {
      incident = (await getIncident(this.ref)) as IncidentState;
    } catch (error) {
      if (this.stopped) return;
      if (error instanceof ApiError && (error.status === 404 || error.status === 422)) {
        this.status.value = "not-found";
      } else if (error instanceof ApiError && error.network && (await this.startOffline())) {
        return;
      } else {
        this.status.value = "failed";
      }
      return;
    }
    let head = incident.seq;
    try {
      const page = await streamEvents(this.stream, { before: incident.seq + 1, limit: PAGE });
      const events = page.events.map(frameOf);
      this.timeline.add(events);
      this.files.apply(events);
      head = Math.max(head, page.events.at(-1)?.seq ?? 0);
    } catch {
      // The chat stays empty; live events still arrive and older ones can be loaded.
    }
    if (this.stopped) return;
    batch(() => {
      this.incident.value = incident;
      this.version.value += 1;
      this.status.value = "ready";
    });
    this.follow(head);
    this.save();
    void this.loadOperations();
    void this.files.load();
  }

  private async loadOperations(): Promise<void> {
    try {
      // An operation shows on its incident's stream through operation.progress
      // (and operation.started / operation.closed): the first page names them all.
      const page = await streamEvents(this.stream, { after: 0, limit: 200, kind: "operation." });
      this.operations.value = [...new Set(page.events.map((e) => String((e.payload as Record<string, unknown>).ref ?? "")).filter(Boolean))];
    } catch {
      // The panel is a convenience; the operation page has the checklist.
    }
  }

  async startOffline(): Promise<boolean> {
    const cached = await loadCached<RoomSnapshot>(`room:${this.ref}`);
    if (cached === null) return false;
    this.timeline.add(cached.value.events);
    this.files.apply(cached.value.events);
    batch(() => {
      this.incident.value = cached.value.incident;
      this.staleSince.value = cached.savedAt;
      this.version.value += 1;
      this.status.value = "ready";
    });
    return true;
  }

  stop(): void {
    this.stopped = true;
    this.stopFeed?.();
    this.stopFeed = null;
    if (this.readTimer !== null) clearTimeout(this.readTimer);
  }

  private follow(after: number): void {
    this.stopFeed = liveFeeds().follow(this.stream, {
      after,
      event: (event) => this.apply([event], this.caughtUp),
      caughtUp: () => {
        this.caughtUp = true;
      },
      gap: (from, to) => void this.backfill(from, to),
      resync: () => void this.reload(),
      revoked: () => {
        this.status.value = "revoked";
      },
      presence: (frame) => {
        this.presence.value = frame.online;
      },
      typing: (frame) => {
        const until = Date.now() + TYPING_SHOWN_MS;
        const user = frame.user as unknown as { user: string; name: string; agency?: string | null };
        const others = this.typing.value.filter((x) => x.user !== user.user && x.until > Date.now());
        this.typing.value = [...others, { user: user.user, name: user.name, agency: user.agency ?? null, until }];
        setTimeout(() => {
          this.typing.value = this.typing.value.filter((x) => x.until > Date.now());
        }, TYPING_SHOWN_MS + 50);
      },
      frame: (frame) => this.readFrame(frame),
    });
  }

  private apply(events: EventFrame[], live: boolean): void {
    const incident = this.incident.value;
    let next = incident;
    for (const event of events) {
      if (next !== null) next = applyIncidentEvent(next, event);
    }
    const added = this.timeline.add(events);
    this.files.apply(events);
    batch(() => {
      if (next !== incident) this.incident.value = next;
      if (added) this.version.value += 1;
      // A message ends its author's typing indicator.
      for (const event of events) {
        if (event.kind === "message.posted" && event.actor?.username) {
          this.typing.value = this.typing.value.filter((x) => x.user !== event.actor?.username);
        }
      }
    });
    if (added) {
      const started = events.filter((e) => e.kind.startsWith("operation.")).map((e) => String((e.payload as Record<string, unknown>).ref ?? ""));
      if (started.some((r) => r && !this.operations.value.includes(r))) this.operations.value = [...new Set([...this.operations.value, ...started.filter(Boolean)])];
      this.save();
      if (live) events.forEach((e) => this.onLiveEvent?.(e));
    }
  }

  private async backfill(from: number, to: number): Promise<void> {
    let after = from;
    while (after < to && !this.stopped) {
      const page = await streamEvents(this.stream, { after, limit: MAX_EVENT_PAGE }).catch(() => null);
      if (page === null || page.events.length === 0) return;
      this.apply(page.events.map(frameOf), false);
      after = page.events.at(-1)?.seq ?? to;
    }
  }

  /** After resync_required: a fresh snapshot and page, then resume from its head. */
  private async reload(): Promise<void> {
    try {
      const incident = (await getIncident(this.ref)) as IncidentState;
      const page = await streamEvents(this.stream, { before: incident.seq + 1, limit: PAGE });
      this.incident.value = incident;
      this.apply(page.events.map(frameOf), false);
      liveFeeds().resume(this.stream, Math.max(incident.seq, page.events.at(-1)?.seq ?? 0));
    } catch {
      setTimeout(() => void this.reload(), 5000);
    }
  }

  /** The page before the oldest loaded event (scrolling up). */
  async loadOlder(): Promise<void> {
    if (this.loadingOlder.value || this.timeline.complete) return;
    this.loadingOlder.value = true;
    try {
      const page = await streamEvents(this.stream, { before: this.timeline.lowest, limit: PAGE });
      this.apply(page.events.map(frameOf), false);
    } finally {
      this.loadingOlder.value = false;
    }
  }

  private readFrame(frame: { type: string; [field: string]: unknown }): void {
    const put = (map: Map<string, Reader>, r: Record<string, unknown>, seq: unknown) => {
      const user = (r.user ?? {}) as Record<string, unknown>;
      const key = String(user.user ?? r.user ?? "");
      if (!key) return;
      const prev = map.get(key);
      const value = Number(seq ?? 0);
      if (prev === undefined || value > prev.seq) {
        map.set(key, { user: key, name: String(user.name ?? r.name ?? key), agency: (user.agency ?? r.agency ?? null) as string | null, seq: value });
      }
    };
    if (frame.type === "seen_state" && Array.isArray(frame.readers)) {
      const map = new Map<string, Reader>();
      for (const r of frame.readers as Record<string, unknown>[]) {
        map.set(String(r.user), { user: String(r.user), name: String(r.name ?? r.user), agency: (r.agency ?? null) as string | null, seq: Number(r.seq ?? 0) });
      }
      this.readers.value = map;
    } else if (frame.type === "seen") {
      const map = new Map(this.readers.value);
      put(map, frame, frame.seq);
      this.readers.value = map;
    }
  }

  /** Report that the officer has read up to the newest event (throttled). */
  markRead(): void {
    const seq = this.timeline.highest;
    if (seq <= this.lastReadSent || this.stopped) return;
    const wait = this.lastReadAt + READ_EVERY_MS - Date.now();
    if (wait > 0) {
      if (this.readTimer === null) {
        this.readTimer = setTimeout(() => {
          this.readTimer = null;
          this.markRead();
        }, wait);
      }
      return;
    }
    this.lastReadAt = Date.now();
    this.lastReadSent = seq;
    liveSocket()?.read(this.stream, seq);
  }
  private lastReadAt = 0;

  sendTyping(): void {
    const nowMs = Date.now();
    if (nowMs - this.lastTyping < 2000) return;
    this.lastTyping = nowMs;
    liveSocket()?.typing(this.stream);
  }
  private lastTyping = 0;

  private save(): void {
    const incident = this.incident.value;
    if (incident === null || this.staleSince.value !== null) return;
    const events = this.timeline.dump();
    void saveCached(`room:${this.ref}`, { incident, events: events.slice(-300) } satisfies RoomSnapshot, false);
  }
}
