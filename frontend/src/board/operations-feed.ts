// The active operations at a crossing point, kept live through their
// `operation:<REF>` streams (for the coordinator's board). `refresh` picks up
// operations started since; those already followed stay as they are.

import { signal } from "@preact/signals";
import { api } from "../api/client";
import { liveFeeds } from "../realtime/live";
import { applyOperationEvent, fromSnapshot } from "../operations/store";
import type { OperationSnapshot, OperationState } from "../operations/store";

export class OperationsFeed {
  readonly operations = signal<OperationState[]>([]);
  private readonly stops = new Map<string, () => void>();
  private stopped = false;

  constructor(readonly code: string) {}

  start(): Promise<void> {
    return this.refresh();
  }

  async refresh(): Promise<void> {
    let list: OperationSnapshot[];
    try {
      list = await api<OperationSnapshot[]>("GET", `/operations?crossing_point=${encodeURIComponent(this.code)}&status=active&limit=200`);
    } catch {
      return; // the next refresh tries again
    }
    for (const op of list) {
      if (this.stopped || this.stops.has(op.ref)) continue;
      this.operations.value = [...this.operations.value, fromSnapshot(op)];
      this.stops.set(
        op.ref,
        liveFeeds().follow(op.stream, {
          after: op.seq,
          event: (event) => {
            this.operations.value = this.operations.value.map((s) => (s.ref === op.ref ? applyOperationEvent(s, event) : s));
          },
        }),
      );
    }
  }

  stop(): void {
    this.stopped = true;
    for (const stop of this.stops.values()) stop();
    this.stops.clear();
  }
}
