// The operation page's live state: the REST snapshot, then `operation:<REF>`
// from the seq it reflects (feeds.ts), re-read on a resync or a gap.

import { signal } from "@preact/signals";
import { ApiError, api } from "../api/client";
import { streamEventsThrough } from "../api/endpoints";
import type { FeedListener } from "../realtime/feeds";
import { liveFeeds } from "../realtime/live";
import { applyOperationEvent, fromSnapshot, withRecord } from "./store";
import type { OperationSnapshot, OperationState } from "./store";

export type OperationStatus = "loading" | "ready" | "not-found" | "failed" | "revoked";

export const getOperation = (ref: string) => api<OperationSnapshot>("GET", `/operations/${encodeURIComponent(ref)}`);

export class OperationStore {
  readonly status = signal<OperationStatus>("loading");
  readonly operation = signal<OperationState | null>(null);
  private stop: (() => void) | null = null;
  private stopped = false;

  constructor(readonly ref: string) {}

  async start(): Promise<void> {
    try {
      const snapshot = await getOperation(this.ref);
      if (this.stopped) return;
      this.operation.value = fromSnapshot(snapshot);
      this.status.value = "ready";
      this.follow(snapshot.stream, snapshot.seq);
      void this.loadRecord(snapshot.stream, snapshot.seq);
    } catch (error) {
      if (this.stopped) return;
      this.status.value = error instanceof ApiError && (error.status === 404 || error.status === 422) ? "not-found" : "failed";
    }
  }

  private follow(stream: string, after: number): void {
    const listener: FeedListener = {
      after,
      event: (event) => {
        const current = this.operation.value;
        if (current === null) return;
        const next = applyOperationEvent(current, event);
        if (next !== current) this.operation.value = next;
      },
      gap: () => void this.reload(),
      resync: () => void this.reload(),
      revoked: () => {
        this.status.value = "revoked";
      },
    };
    this.stop = liveFeeds().follow(stream, listener);
  }

  /** Who did what before this page opened, and the names behind "done by" and "co-signed by". */
  private async loadRecord(stream: string, through: number): Promise<void> {
    const events = await streamEventsThrough(stream, through).catch(() => null);
    const current = this.operation.value;
    if (events === null || current === null || this.stopped) return;
    const next = withRecord(current, events);
    if (next !== current) this.operation.value = next;
  }

  /** A fresh snapshot (after a resync or a gap); events already applied stay monotonic. */
  async reload(): Promise<void> {
    try {
      const snapshot = await getOperation(this.ref);
      const current = this.operation.value;
      if (current === null || snapshot.seq >= current.seq) {
        const fresh = fromSnapshot(snapshot);
        // Keep the who-did-what this page has seen.
        if (current !== null) {
          fresh.tasks = fresh.tasks.map((t) => ({ ...t, history: current.tasks.find((c) => c.id === t.id)?.history ?? [] }));
        }
        this.operation.value = fresh;
        liveFeeds().resume(snapshot.stream, snapshot.seq);
        void this.loadRecord(snapshot.stream, snapshot.seq);
      }
    } catch {
      setTimeout(() => void this.reload(), 5000);
    }
  }

  close(): void {
    this.stopped = true;
    this.stop?.();
    this.stop = null;
  }
}
