// The alert page's live state: head, then snapshot, then the stream from that
// head; events move the alert, repeats change nothing, other alerts are
// ignored; a resync reloads; 404 is "not found"; offline, a cached board.

import { describe, expect, it } from "vitest";
import { ApiError } from "../api/client";
import type { AlertOut } from "../api/types";
import type { FeedListener } from "../realtime/feeds";
import type { EventFrame } from "../realtime/protocol";
import { AlertPageStore } from "./alert-page-store";
import type { AlertPageDeps } from "./alert-page-store";
import { fromSnapshot } from "./store";

function snapshot(overrides: Partial<AlertOut> = {}): AlertOut {
  return {
    id: 12,
    crossing_point: "WDH",
    category: "document_fraud",
    severity: "high",
    urgency: "Immediate",
    certainty: "Likely",
    title: "Counterfeit visas",
    body: "Check every visa.",
    exercise: false,
    ack_required: true,
    status: "active",
    version: 1,
    incident: null,
    issuing_agency: "NA-IMM",
    issued_by: { id: 3, username: "na-imm.duty", name: "Ndapewa Amutenya" },
    created_at: "2026-11-22T07:00:00Z",
    updated_at: "2026-11-22T07:00:00Z",
    expires_at: null,
    cancel_reason: "",
    targets: [
      { agency: "NA-CUS", due_at: "2026-11-22T07:15:00Z", acknowledged: false, acknowledged_at: null, acknowledged_by: null, overdue: false, escalated_at: null },
    ],
    pending: ["NA-CUS"],
    stream: "crossing:WDH",
    ...overrides,
  };
}

function event(seq: number, kind: string, payload: Record<string, unknown>): EventFrame {
  return {
    type: "event",
    stream: "crossing:WDH",
    seq,
    kind,
    at: "2026-11-22T07:05:00Z",
    actor: { id: 7, username: "na-cus.duty", name: "Helvi Nghipandulwa", agency: "NA-CUS" },
    payload,
  } as EventFrame;
}

function harness(overrides: Partial<AlertPageDeps> = {}) {
  const calls: string[] = [];
  const listeners: { stream: string; listener: FeedListener }[] = [];
  const resumed: [string, number][] = [];
  let snap = snapshot();
  const deps: AlertPageDeps = {
    getAlert: async (id) => {
      calls.push(`get ${id}`);
      return snap;
    },
    streamHead: async (stream) => {
      calls.push(`head ${stream}`);
      return 40;
    },
    follow: (stream, listener) => {
      calls.push(`follow ${stream} after ${listener.after}`);
      listeners.push({ stream, listener });
      return () => calls.push(`stop ${stream}`);
    },
    resume: (stream, after) => {
      resumed.push([stream, after]);
    },
    cachedBoards: async () => [],
    retryMs: 1,
    ...overrides,
  };
  return {
    deps,
    calls,
    listeners,
    resumed,
    setSnapshot: (s: AlertOut) => {
      snap = s;
    },
  };
}

describe("AlertPageStore", () => {
  it("loads, then takes the head, a snapshot, and follows the crossing stream from that head", async () => {
    const h = harness();
    const store = new AlertPageStore(12, h.deps);
    await store.start();
    expect(store.status.value).toBe("ready");
    expect(h.calls).toEqual(["get 12", "head crossing:WDH", "get 12", "follow crossing:WDH after 40"]);
    expect(store.alert?.title).toBe("Counterfeit visas");
    store.stop();
    expect(h.calls.at(-1)).toBe("stop crossing:WDH");
  });

  it("applies this alert's events once, and ignores other alerts'", async () => {
    const h = harness();
    const store = new AlertPageStore(12, h.deps);
    await store.start();
    const listener = h.listeners[0]?.listener;
    const before = store.version.value;
    const ack = event(41, "alert.acknowledged", { alert_id: 12, agency: "NA-CUS" });
    listener?.event?.(ack);
    expect(store.alert?.targets[0]?.acknowledgedAt).toBe("2026-11-22T07:05:00Z");
    expect(store.version.value).toBe(before + 1);
    listener?.event?.(ack);
    expect(store.version.value).toBe(before + 1);
    listener?.event?.(event(42, "alert.updated", { alert_id: 99, version: 2, changes: { title: { old: "a", new: "b" } } }));
    expect(store.version.value).toBe(before + 1);
    listener?.event?.(event(43, "alert.updated", { alert_id: 12, version: 2, changes: { title: { old: "Counterfeit visas", new: "Forged visas" } } }));
    expect(store.alert?.title).toBe("Forged visas");
    expect(store.alert?.version).toBe(2);
    listener?.event?.(event(44, "alert.cancelled", { alert_id: 12, version: 3, reason: "Issued in error" }));
    expect(store.alert?.status).toBe("cancelled");
    expect(store.alert?.cancelReason).toBe("Issued in error");
  });

  it("merges the hub's answer to an update at once, and not an older one", async () => {
    const h = harness();
    const store = new AlertPageStore(12, h.deps);
    await store.start();
    store.merge(snapshot({ version: 2, severity: "critical" }));
    expect(store.alert?.severity).toBe("critical");
    store.merge(snapshot({ version: 1, severity: "low" }));
    expect(store.alert?.severity).toBe("critical");
    store.merge(snapshot({ id: 13, version: 5 }));
    expect(store.board.get(13)).toBeUndefined();
  });

  it("on resync, reloads head and snapshot and resumes from the new head", async () => {
    const h = harness();
    const store = new AlertPageStore(12, h.deps);
    await store.start();
    h.setSnapshot(snapshot({ version: 3, title: "Restored" }));
    h.listeners[0]?.listener.resync?.(10);
    await new Promise((r) => setTimeout(r, 0));
    expect(h.resumed).toEqual([["crossing:WDH", 40]]);
    expect(store.alert?.title).toBe("Restored");
  });

  it("says not found for a 404 or 422, and after access is revoked", async () => {
    for (const status of [404, 422]) {
      const store = new AlertPageStore(
        12,
        harness({
          getAlert: async () => {
            throw new ApiError(status, "not_found", "Not found.");
          },
        }).deps,
      );
      await store.start();
      expect(store.status.value).toBe("not-found");
    }
    const h = harness();
    const store = new AlertPageStore(12, h.deps);
    await store.start();
    h.listeners[0]?.listener.revoked?.();
    expect(store.status.value).toBe("not-found");
  });

  it("fails on a network error with nothing cached, and shows a cached board's copy, stale, when there is one", async () => {
    const offline = async () => {
      throw new ApiError(0, "network", "The hub could not be reached.");
    };
    const none = new AlertPageStore(12, harness({ getAlert: offline }).deps);
    await none.start();
    expect(none.status.value).toBe("failed");

    const cached = new AlertPageStore(
      12,
      harness({
        getAlert: offline,
        cachedBoards: async () => [
          { value: { incidents: [], alerts: [fromSnapshot(snapshot({ title: "Old copy" }))] }, savedAt: 1000 },
          { value: { incidents: [], alerts: [fromSnapshot(snapshot({ title: "Newer copy" }))] }, savedAt: 2000 },
          { value: { incidents: [], alerts: [] }, savedAt: 3000 },
        ],
      }).deps,
    );
    await cached.start();
    expect(cached.status.value).toBe("ready");
    expect(cached.alert?.title).toBe("Newer copy");
    expect(cached.staleSince.value).toBe(2000);
  });

  it("keeps the snapshot when the live connection has not started", async () => {
    const store = new AlertPageStore(
      12,
      harness({
        follow: () => {
          throw new Error("the live connection has not started");
        },
      }).deps,
    );
    await store.start();
    expect(store.status.value).toBe("ready");
    expect(store.alert?.id).toBe(12);
  });

  it("retries the head when it cannot be read, and follows once it can", async () => {
    let fails = 1;
    const h = harness({
      streamHead: async () => {
        if (fails-- > 0) throw new ApiError(503, "unavailable", "busy");
        return 50;
      },
    });
    const store = new AlertPageStore(12, h.deps);
    await store.start();
    expect(h.listeners).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 20));
    expect(h.listeners[0]?.listener.after).toBe(50);
    store.stop();
  });
});
