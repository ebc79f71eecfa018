// The web app's live connection: one WebSocket per officer (see docs/protocol.md).
//
// Like the Python reference client (hub/realtime/client.py) it keeps the last
// seq of every stream, reconnects with jittered exponential backoff, subscribes
// again with `after`, drops duplicates by seq, and resends unacknowledged
// writes with the same client_msg_id.

import type {
  Ack,
  ClientFrame,
  ErrorFrame,
  EventFrame,
  PendingAlerts,
  Presence,
  ServerFrame,
  TypingOut,
} from "./protocol";

export type SocketFactory = (url: string) => WebSocket;

export interface StreamHandlers {
  event?: (event: EventFrame) => void;
  caughtUp?: (seq: number) => void;
  presence?: (presence: Presence) => void;
  typing?: (typing: TypingOut) => void;
  resync?: (head: number) => void;
  revoked?: () => void;
}

export interface HubSocketOptions {
  url: string;
  factory?: SocketFactory;
  backoffBase?: number;
  backoffMax?: number;
  random?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  onStatus?: (status: ConnectionStatus, retryAt: number | null) => void;
  onPendingAlerts?: (frame: PendingAlerts) => void;
  onError?: (frame: ErrorFrame) => void;
  /** Frames this class does not handle itself (notices, read receipts, newer types). */
  onFrame?: (frame: { type: string; [field: string]: unknown }) => void;
  now?: () => number;
}

export type ConnectionStatus = "connecting" | "live" | "offline" | "signed-out";

interface PendingWrite {
  frame: ClientFrame;
  resolve: (ack: Ack) => void;
  reject: (error: ErrorFrame) => void;
}

export { newClientMsgId } from "./ids";
import { newClientMsgId } from "./ids";

export class HubSocket {
  readonly lastSeq = new Map<string, number>();
  private readonly handlers = new Map<string, StreamHandlers>();
  private readonly outbox = new Map<string, PendingWrite>();
  private socket: WebSocket | null = null;
  private attempt = 0;
  private stopped = false;
  private retryTimer: unknown = null;
  private readonly opts: Required<Omit<HubSocketOptions, "onPendingAlerts" | "onError" | "onStatus" | "onFrame">> &
    HubSocketOptions;

  constructor(options: HubSocketOptions) {
    this.opts = {
      factory: (url) => new WebSocket(url),
      backoffBase: 200,
      backoffMax: 10_000,
      random: Math.random,
      setTimer: (fn, ms) => setTimeout(fn, ms),
      now: () => Date.now(),
      ...options,
    };
  }

  get connected(): boolean {
    return this.socket !== null && this.socket.readyState === 1;
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.socket?.close(1000);
    this.socket = null;
  }

  subscribe(stream: string, handlers: StreamHandlers, after?: number): void {
    this.handlers.set(stream, handlers);
    if (after !== undefined) {
      this.lastSeq.set(stream, Math.max(this.lastSeq.get(stream) ?? 0, after));
    }
    if (!this.lastSeq.has(stream)) {
      this.lastSeq.set(stream, 0);
    }
    this.send({ type: "subscribe", stream, after: this.lastSeq.get(stream) ?? 0 });
  }

  /**
   * Start a subscription again from exactly `after` (e.g. the head of a fresh
   * REST snapshot after `resync_required`), even if that is below the last seq.
   */
  resume(stream: string, after: number): void {
    if (!this.handlers.has(stream)) {
      return;
    }
    this.lastSeq.set(stream, after);
    this.send({ type: "subscribe", stream, after });
  }

  /** Stop a stream; a later subscribe starts from scratch (the view was discarded). */
  unsubscribe(stream: string): void {
    this.handlers.delete(stream);
    this.lastSeq.delete(stream);
    this.send({ type: "unsubscribe", stream });
  }

  typing(stream: string): void {
    this.send({ type: "typing", stream });
  }

  /** Tell the hub how far the officer has read a stream ("seen by"). */
  read(stream: string, seq: number): void {
    this.send({ type: "read", stream, seq } as unknown as ClientFrame);
  }

  /** Skip the back-off wait (the officer asked to retry now). */
  reconnectNow(): void {
    if (this.stopped || this.socket !== null) {
      return;
    }
    this.retryTimer = null;
    this.connect();
  }

  sendMessage(stream: string, body: string, clientMsgId: string = newClientMsgId()): Promise<Ack> {
    return this.write({ type: "message.send", stream, body, client_msg_id: clientMsgId });
  }

  ackAlert(alertId: number, clientMsgId: string = newClientMsgId()): Promise<Ack> {
    return this.write({ type: "alert.ack", alert_id: alertId, client_msg_id: clientMsgId });
  }

  /** Writes waiting for their ack (they are resent after a reconnect). */
  get unacknowledged(): number {
    return this.outbox.size;
  }

  private write(frame: ClientFrame & { client_msg_id: string }): Promise<Ack> {
    return new Promise<Ack>((resolve, reject) => {
      this.outbox.set(frame.client_msg_id, { frame, resolve, reject });
      this.send(frame);
    });
  }

  private send(frame: ClientFrame): void {
    if (this.socket !== null && this.socket.readyState === 1) {
      this.socket.send(JSON.stringify(frame));
    }
  }

  private connect(): void {
    this.opts.onStatus?.("connecting", null);
    const socket = this.opts.factory(this.opts.url);
    this.socket = socket;
    socket.onmessage = (message: MessageEvent) => this.receive(String(message.data));
    socket.onclose = (close: CloseEvent) => {
      if (this.socket !== socket) {
        return;
      }
      this.socket = null;
      if (close.code === 4401) {
        this.stopped = true;
        this.opts.onStatus?.("signed-out", null);
        return;
      }
      if (this.stopped) {
        this.opts.onStatus?.("offline", null);
        return;
      }
      this.attempt += 1;
      const ceiling = Math.min(this.opts.backoffMax, this.opts.backoffBase * 2 ** Math.min(this.attempt, 10));
      const wait = this.opts.random() * ceiling;
      this.opts.onStatus?.("offline", this.opts.now() + wait);
      const timer: unknown = this.opts.setTimer(() => {
        if (!this.stopped && this.retryTimer === timer && this.socket === null) {
          this.retryTimer = null;
          this.connect();
        }
      }, wait);
      this.retryTimer = timer;
    };
  }

  private receive(text: string): void {
    let frame: ServerFrame;
    try {
      frame = JSON.parse(text) as ServerFrame;
    } catch {
      return;
    }
    switch (frame.type) {
      case "welcome":
        this.opts.onStatus?.("live", null);
        for (const stream of this.handlers.keys()) {
          this.send({ type: "subscribe", stream, after: this.lastSeq.get(stream) ?? 0 });
        }
        for (const pending of this.outbox.values()) {
          this.send(pending.frame);
        }
        break;
      case "event": {
        if (!this.handlers.has(frame.stream)) {
          return; // in flight before our unsubscribe: nobody shows it
        }
        const last = this.lastSeq.get(frame.stream) ?? 0;
        if (frame.seq <= last) {
          return; // a duplicate: already shown
        }
        if (frame.seq !== last + 1) {
          // Never show out of order: let the server replay from our last seq.
          this.send({ type: "subscribe", stream: frame.stream, after: last });
          return;
        }
        this.lastSeq.set(frame.stream, frame.seq);
        this.handlers.get(frame.stream)?.event?.(frame);
        break;
      }
      case "caught_up":
        this.attempt = 0;
        this.handlers.get(frame.stream)?.caughtUp?.(frame.seq);
        break;
      case "ack": {
        const pending = this.outbox.get(frame.client_msg_id);
        this.outbox.delete(frame.client_msg_id);
        pending?.resolve(frame);
        break;
      }
      case "error": {
        const pending = frame.ref ? this.outbox.get(frame.ref) : undefined;
        if (pending && frame.code !== "internal_error") {
          this.outbox.delete(frame.ref as string);
          pending.reject(frame);
        } else {
          this.opts.onError?.(frame);
        }
        break;
      }
      case "presence":
        this.handlers.get(frame.stream)?.presence?.(frame);
        break;
      case "typing":
        this.handlers.get(frame.stream)?.typing?.(frame);
        break;
      case "resync_required":
        this.handlers.get(frame.stream)?.resync?.(frame.head);
        break;
      case "unsubscribed":
        if (frame.reason === "access_revoked") {
          this.handlers.get(frame.stream)?.revoked?.();
          this.handlers.delete(frame.stream);
        }
        break;
      case "pending_alerts":
        this.opts.onPendingAlerts?.(frame);
        break;
      case "pong":
        break;
      default:
        this.opts.onFrame?.(frame as unknown as { type: string; [field: string]: unknown });
    }
  }
}

export function socketUrl(location: Location = window.location): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws/`;
}
