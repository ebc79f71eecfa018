// The officer's live connection, as signals the screens read: one HubSocket,
// its Feeds, the persisted Outbox, and the connection state (live,
// reconnecting in N s, offline since HH:MM, unsent items).
//
// The outbox flushes only while the socket is live: the socket is how the hub
// says "you are connected", and an officer sees one state, not two.

import { computed, signal } from "@preact/signals";
import { csrfToken, notifyUnauthorized, refreshCsrf } from "../api/client";
import { withUploads } from "../attachments/upload";
import { Feeds } from "./feeds";
import { fetchSender, Outbox } from "./outbox";
import type { OutboxItem } from "./outbox";
import type { PendingAlerts } from "./protocol";
import { HubSocket, socketUrl } from "./socket";
import type { ConnectionStatus } from "./socket";

export interface ConnectionState {
  status: ConnectionStatus | "idle";
  /** When the next reconnect attempt starts (ms), while offline. */
  retryAt: number | null;
  /** When the link was lost (ms), while not live. */
  offlineSince: number | null;
  /** When the socket was last live (ms). */
  lastLiveAt: number | null;
}

export const connection = signal<ConnectionState>({ status: "idle", retryAt: null, offlineSince: null, lastLiveAt: null });
export const isLive = computed(() => connection.value.status === "live");

/** The outbox of the signed-in officer (null before sign-in). */
export const outboxSignal = signal<Outbox | null>(null);
export const unsent = computed(() => outboxSignal.value?.unsent.value ?? 0);
export const outboxItems = computed<OutboxItem[]>(() => outboxSignal.value?.items.value ?? []);

type FrameListener = (frame: { type: string; [field: string]: unknown }) => void;

let socket: HubSocket | null = null;
let feeds: Feeds | null = null;
const frameListeners = new Set<FrameListener>();
const pendingAlertListeners = new Set<(frame: PendingAlerts) => void>();
const sentListeners = new Set<(item: OutboxItem) => void>();

export function liveFeeds(): Feeds {
  if (feeds === null) {
    throw new Error("the live connection has not started");
  }
  return feeds;
}

export function liveSocket(): HubSocket | null {
  return socket;
}

/** Frames not tied to a subscription (notice, pending alerts…). Returns the stop function. */
export function onFrame(listener: FrameListener): () => void {
  frameListeners.add(listener);
  return () => frameListeners.delete(listener);
}

export function onPendingAlerts(listener: (frame: PendingAlerts) => void): () => void {
  pendingAlertListeners.add(listener);
  return () => pendingAlertListeners.delete(listener);
}

/** Each outbox item the hub recorded (its `result` holds the server's answer). */
export function onSent(listener: (item: OutboxItem) => void): () => void {
  sentListeners.add(listener);
  return () => sentListeners.delete(listener);
}

function setStatus(status: ConnectionStatus, retryAt: number | null): void {
  const now = Date.now();
  const prev = connection.value;
  connection.value = {
    status,
    retryAt,
    offlineSince: status === "live" ? null : (prev.offlineSince ?? (prev.status === "live" ? now : prev.lastLiveAt === null ? null : now)),
    lastLiveAt: status === "live" ? now : prev.lastLiveAt,
  };
  outboxSignal.value?.setOnline(status === "live");
  if (status === "signed-out") {
    notifyUnauthorized();
  }
}

/** Start the socket and open the officer's outbox. Safe to call again after a new sign-in. */
export async function startLive(username: string): Promise<void> {
  stopLive();
  const hub = new HubSocket({
    url: socketUrl(),
    onStatus: setStatus,
    onPendingAlerts: (frame) => pendingAlertListeners.forEach((l) => l(frame)),
    onFrame: (frame) => {
      const stream = typeof frame.stream === "string" ? frame.stream : null;
      if (stream !== null && (frame.type === "seen" || frame.type === "seen_state")) {
        feeds?.dispatch(stream, frame);
      }
      frameListeners.forEach((l) => l(frame));
    },
  });
  socket = hub;
  feeds = new Feeds(hub);
  let outbox = outboxSignal.value;
  if (outbox === null || outbox.user !== username) {
    outbox?.close();
    outbox = await Outbox.open({
      user: username,
      // Nothing is sent before the socket says the hub is reachable (setStatus).
      online: false,
      // Items with evidence files upload them first (attachments/upload.ts).
      send: withUploads(fetchSender({ base: "/api/v1", csrf: () => csrfToken(), refreshCsrf }), { csrf: () => csrfToken(), refreshCsrf }),
      onUnauthorized: () => notifyUnauthorized(),
      onSent: (item) => sentListeners.forEach((l) => l(item)),
    });
    outboxSignal.value = outbox;
  } else {
    outbox.setOnline(false);
    outbox.resume();
  }
  hub.start();
  // Recorded and shown items need not stay forever.
  void outbox.prune(60 * 60 * 1000);
}

export function stopLive(): void {
  // The socket forgets itself before its close event: say offline here.
  outboxSignal.value?.setOnline(false);
  socket?.stop();
  socket = null;
  feeds = null;
  connection.value = { ...connection.value, status: "idle", retryAt: null };
}

export function reconnectNow(): void {
  socket?.reconnectNow();
}

/** For tests and the sign-out path: forget the outbox handle (the data stays in IndexedDB). */
export function closeOutbox(): void {
  outboxSignal.value?.close();
  outboxSignal.value = null;
}
