// One alert's live state for its page (/alerts/<ID>): the REST snapshot, kept
// current by the events of its crossing point's stream. As on the board
// (board/store.ts): the stream's head first, then a snapshot (which reflects
// at least that head), then the stream from that head; the AlertBoard makes a
// repeated or already-reflected event change nothing. Offline, the last board
// of a point the officer serves that held the alert is shown, marked stale.

import { signal } from "@preact/signals";
import { ApiError } from "../api/client";
import { getAlert, streamHead } from "../api/endpoints";
import type { AlertOut } from "../api/types";
import type { BoardSnapshot } from "../board/store";
import { loadCached } from "../realtime/cache";
import type { FeedListener } from "../realtime/feeds";
import type { EventFrame } from "../realtime/protocol";
import { AlertBoard, restoreInto } from "./store";
import type { AlertState } from "./store";

export type AlertPageStatus = "loading" | "ready" | "not-found" | "failed";

export interface AlertPageDeps {
  getAlert: (id: number) => Promise<AlertOut>;
  streamHead: (stream: string) => Promise<number>;
  /** Follow a stream; throws when the live connection has not started (an offline start). */
  follow: (stream: string, listener: FeedListener) => () => void;
  resume: (stream: string, after: number) => void;
  /** Last-known boards to look in when the hub cannot be reached. */
  cachedBoards: () => Promise<{ value: BoardSnapshot; savedAt: number }[]>;
  retryMs?: number;
}

export function cachedBoardsOf(codes: readonly string[]): () => Promise<{ value: BoardSnapshot; savedAt: number }[]> {
  return async () => {
    const found = await Promise.all(codes.map((code) => loadCached<BoardSnapshot>(`board:${code}`)));
    return found.filter((c): c is NonNullable<typeof c> => c !== null);
  };
}

export class AlertPageStore {
  readonly status = signal<AlertPageStatus>("loading");
  /** Bumped on every change of the alert (read it to re-render). */
  readonly version = signal(0);
  /** When the shown state was last live (ms); null while live. */
  readonly staleSince = signal<number | null>(null);
  readonly board = new AlertBoard();
  private stopFeed: (() => void) | null = null;
  private stopped = false;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    readonly id: number,
    private readonly deps: AlertPageDeps,
  ) {}

  get alert(): AlertState | undefined {
    return this.board.get(this.id);
  }

  async start(): Promise<void> {
    let first: AlertOut;
    try {
      first = await this.deps.getAlert(this.id);
    } catch (error) {
      if (this.stopped) return;
      if (error instanceof ApiError && (error.status === 404 || error.status === 422)) {
        this.status.value = "not-found";
      } else if (!(await this.startOffline())) {
        this.status.value = "failed";
      }
      return;
    }
    if (this.stopped) return;
    this.merge(first);
    this.status.value = "ready";
    await this.follow(first.stream, false);
  }

  /** The alert as a cached board held it; false when none did. */
  async startOffline(): Promise<boolean> {
    let boards: { value: BoardSnapshot; savedAt: number }[] = [];
    try {
      boards = await this.deps.cachedBoards();
    } catch {
      return false;
    }
    const hit = boards
      .filter((b) => b.value.alerts.some((a) => a.id === this.id))
      .sort((a, b) => b.savedAt - a.savedAt)[0];
    const state = hit?.value.alerts.find((a) => a.id === this.id);
    if (this.stopped || hit === undefined || state === undefined) return false;
    restoreInto(this.board, [state]);
    this.staleSince.value = hit.savedAt;
    this.version.value += 1;
    this.status.value = "ready";
    return true;
  }

  stop(): void {
    this.stopped = true;
    this.stopFeed?.();
    this.stopFeed = null;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /** An answer of the hub about this alert (a snapshot, or the result of an update or cancel). */
  merge(snapshot: AlertOut): void {
    if (snapshot?.id === this.id && this.board.merge(snapshot)) this.version.value += 1;
  }

  /** One event of the crossing stream (only this alert's matter). */
  apply(event: EventFrame): void {
    const applied = this.board.apply(event);
    if (applied !== null && applied.alertId === this.id && applied.changed) this.version.value += 1;
  }

  private later(fn: () => void): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      fn();
    }, this.deps.retryMs ?? 5000);
  }

  private async follow(stream: string, resync: boolean): Promise<void> {
    let head: number | null = null;
    try {
      head = await this.deps.streamHead(stream);
      this.merge(await this.deps.getAlert(this.id));
    } catch (error) {
      if (this.stopped) return;
      if (error instanceof ApiError && error.status === 404) {
        this.status.value = "not-found";
        return;
      }
      head = null;
    }
    if (this.stopped) return;
    if (head === null) {
      this.later(() => void this.follow(stream, resync));
      return;
    }
    if (resync) {
      this.deps.resume(stream, head);
      return;
    }
    try {
      this.stopFeed = this.deps.follow(stream, {
        after: head,
        event: (event) => this.apply(event),
        resync: () => void this.follow(stream, true),
        revoked: () => {
          this.stopFeed = null;
          this.status.value = "not-found";
        },
      });
    } catch {
      // Not live (an offline start): the snapshot stays as it is.
    }
  }
}
