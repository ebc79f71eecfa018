// The persisted outbox: everything an officer types, until the hub has recorded it once.
//
// Owns: the IndexedDB database "hub-outbox" (store `items`, keyed by
// `client_msg_id`, index `byUser` on [user, createdAt]); sending its items as
// plain REST writes under /api/v1; the pending / sending / sent / failed state
// each screen shows; and telling the other tabs of the same browser about
// every change (BroadcastChannel "hub-outbox").
//
// Invariants:
// - Stored first. `enqueue` writes the item to IndexedDB before any network
//   attempt, so a reload, a crash or a browser restart loses nothing. An id
//   that is already stored is never stored twice (the stored item is returned).
// - Sent once, in order. The hub is idempotent on `client_msg_id` (a repeat
//   answers 200 with the original), so a resend after a lost answer is safe;
//   the outbox itself never sends an item twice on purpose: one flush pass at a
//   time per user (the Web Lock `hub-outbox:<user>`, requested `ifAvailable`, or
//   an in-process mutex without Web Locks), one in-process pass at a time per
//   Outbox, and each item is claimed (pending -> sending) in a read-write
//   transaction that re-checks its state. A pass sends this user's due pending
//   items one at a time in createdAt order and stops at the first retryable
//   failure, so a later item never overtakes an earlier one. Final failures
//   (4xx) do not block later items: they stay, with their body and label, for
//   the officer to copy, retry or discard.
// - Only the officer who typed an item sends it: items carry `user`, and an
//   Outbox lists and sends only its own user's items.
// - `sending` only lives while a pass holds the lock. An item left in `sending`
//   by a tab that died goes back to `pending` as soon as a tab of that user
//   takes the lock (at open, and at the start of every pass).
// - A 401 pauses all sending until `resume()` (after a new sign-in): nothing is
//   marked failed because a session expired.
// - Every state change is written to IndexedDB first, then announced on the
//   channel; an Outbox that hears of a change re-reads its items. The `items`
//   signal always mirrors what IndexedDB holds for this user.
//
// - Files travel with their item. An item may carry evidence files (`files`,
//   their bytes stored with the item). Sending it first uploads each file not
//   yet uploaded (each under its own client_msg_id, so a retry stores one
//   file), records the attachment on the item at once (a later attempt does not
//   upload it again), then sends the write with the attachment ids. The bytes
//   are dropped from IndexedDB once the item is sent. `progress` shows how much
//   of the running item's files has gone.
//
// Time, randomness, timers, locks and the channel are injectable (tests use
// fake clocks, fake-indexeddb and in-memory channels).

import { computed, signal, type ReadonlySignal } from "@preact/signals";
import { openDB, type DBSchema, type IDBPDatabase } from "idb";
import { newClientMsgId } from "./ids";

export type OutboxKind =
  | "message"
  | "edit"
  | "redact"
  | "ack"
  | "report"
  | "transition"
  | "invite"
  | "lead"
  | "alert.issue"
  | "alert.update"
  | "alert.cancel"
  | "task"
  | "sitrep"
  | "file.withdraw";
/** An evidence file travelling with an outbox item (hub.attachments). */
export interface OutboxFile {
  id: string; // the upload's own client_msg_id
  name: string;
  type: string; // decided from the bytes in the browser; the hub decides again
  size: number;
  data?: ArrayBuffer; // the bytes, until the item is sent
  attachment?: { id: number; sha256: string; content_type: string; size: number; filename: string };
}
export type OutboxStatus = "pending" | "sending" | "sent" | "failed";
export interface OutboxError {
  status: number;
  code: string;
  detail: string;
  errors?: { loc: string[]; msg: string; type: string }[];
  /** The id of the file the hub refused (an upload's own error). */
  file?: string;
}
export interface OutboxItem {
  id: string; // the client_msg_id (IndexedDB key)
  user: string; // username of the officer who typed it; only their session sends it
  kind: OutboxKind;
  method: "POST" | "PATCH" | "PUT";
  path: string; // under /api/v1, e.g. "/incidents/WDH-2026-0001/messages"
  body: Record<string, unknown>;
  scope: string; // which screen shows it, e.g. "incident:WDH-2026-0001", "crossing:WDH", "report", "alert:12"
  label: string; // the text to show and to copy (e.g. the message body)
  meta?: Record<string, unknown>; // screen-specific extras (e.g. { messageId: 5 })
  files?: OutboxFile[]; // evidence files to upload first (see the header)
  uploadPath?: string; // where they go, e.g. "/incidents/WDH-2026-0001/attachments"
  createdAt: number; // ms since epoch; the send order
  status: OutboxStatus;
  attempts: number;
  nextAttemptAt: number; // ms; when a retryable failure may be tried again
  error?: OutboxError; // why it failed (final) or why the last attempt failed (retryable)
  result?: unknown; // the server's JSON answer on success
  sentAt?: number;
}
export type SendResult =
  | { kind: "ok"; status: number; data: unknown }
  // An HTTP error answer. `retryAfterMs` (from a Retry-After header) is a floor
  // for the backoff of a retryable answer (503, 429).
  | { kind: "refused"; status: number; error: OutboxError; retryAfterMs?: number }
  | { kind: "network" }; // no answer at all (fetch threw, timeout)
/** What a sender may do while it sends one item. */
export interface SendContext {
  /** How much of the item's files has been uploaded (0..1). */
  progress(fraction: number): void;
  /** Store the item's files now (an upload finished: it is not sent again). */
  saveFiles(files: OutboxFile[]): Promise<void>;
}
export type Sender = (item: OutboxItem, context?: SendContext) => Promise<SendResult>;

export interface LockLike {
  request: (name: string, options: { ifAvailable: boolean }, cb: (lock: unknown) => Promise<void>) => Promise<void>;
}
export interface ChannelLike {
  postMessage(m: unknown): void;
  onmessage: ((e: { data: unknown }) => void) | null;
  close(): void;
}
export interface OutboxOptions {
  /** Whether to start online (default: navigator.onLine). The app starts offline until its socket is live. */
  online?: boolean;
  user: string;
  send: Sender;
  dbName?: string; // default "hub-outbox"
  now?: () => number;
  random?: () => number; // jitter
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
  locks?: LockLike | null; // default navigator.locks; null = in-process mutex only
  channel?: ChannelLike | null; // default new BroadcastChannel("hub-outbox") when available
  onUnauthorized?: () => void; // a 401: the session expired; flushing pauses, items stay pending
  onSent?: (item: OutboxItem) => void; // each success (after it is stored as sent)
  onFailed?: (item: OutboxItem) => void; // each final failure
}

export interface EnqueueInput {
  id?: string;
  kind: OutboxKind;
  method: OutboxItem["method"];
  path: string;
  body: Record<string, unknown>;
  scope: string;
  label: string;
  meta?: Record<string, unknown>;
  files?: OutboxFile[];
  uploadPath?: string;
}

/** First retry delay (ms); doubles per attempt. */
export const BACKOFF_BASE_MS = 1_000;
/** Longest retry delay (ms). */
export const BACKOFF_CAP_MS = 30_000;
/** When another tab holds the lock and items wait, try to take over this much later (ms). */
export const LOCK_RETRY_MS = 5_000;
/** Name of the channel (and default database) shared by the tabs. */
export const OUTBOX_CHANNEL = "hub-outbox";

const STORE = "items";
const BY_USER = "byUser";

interface OutboxDB extends DBSchema {
  items: {
    key: string;
    value: OutboxItem;
    indexes: { byUser: [string, number] };
  };
}

/** What goes over the channel: which database and user changed. */
interface ChangeNotice {
  type: "outbox.changed";
  db: string;
  user: string;
}

function isChangeNotice(data: unknown): data is ChangeNotice {
  if (typeof data !== "object" || data === null) {
    return false;
  }
  const d = data as Record<string, unknown>;
  return d.type === "outbox.changed" && typeof d.db === "string" && typeof d.user === "string";
}

/**
 * Statuses worth another try later: 408 (timeout), 429 (rate limited) and
 * every 5xx (the hub answers 503 when its database is unavailable; nothing was
 * written). 401 is handled on its own (pause until sign-in); any other 4xx is
 * final: the hub refused this write and will refuse it again.
 */
export function defaultRetryable(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * Delay before the next try after `attempts` failed tries (1, 2, ...): 1 s
 * doubling to a 30 s cap, shortened by up to 20 % of jitter so that tabs and
 * devices that failed together do not retry together. `random() = 0` gives the
 * plain schedule 1, 2, 4, 8, 16, 30, 30 s.
 */
export function backoffDelay(attempts: number, random: () => number = Math.random): number {
  const exponent = Math.max(0, Math.min(attempts - 1, 30));
  const base = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** exponent);
  const r = Math.min(1, Math.max(0, random()));
  return Math.round(base * (1 - 0.2 * r));
}

function byCreatedAt(a: OutboxItem, b: OutboxItem): number {
  return a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function userRange(user: string): IDBKeyRange {
  return IDBKeyRange.bound([user, -Infinity], [user, Infinity]);
}

/** Locks held by in-process mutexes (when there is no Web Locks API), by lock name. */
const heldInProcess = new Set<string>();

function defaultLocks(): LockLike | null {
  const nav = (globalThis as { navigator?: { locks?: unknown } }).navigator;
  return (nav?.locks as LockLike | undefined) ?? null;
}

function defaultChannel(): ChannelLike | null {
  if (typeof BroadcastChannel === "undefined") {
    return null;
  }
  try {
    return new BroadcastChannel(OUTBOX_CHANNEL) as unknown as ChannelLike;
  } catch {
    return null;
  }
}

function requestPersistence(): void {
  try {
    const storage = (globalThis as { navigator?: { storage?: { persist?: () => Promise<boolean> } } }).navigator?.storage;
    const asked = storage?.persist?.();
    if (asked && typeof asked.catch === "function") {
      asked.catch(() => undefined);
    }
  } catch {
    // Persistence is a wish, not a requirement.
  }
}

export class Outbox {
  readonly user: string;
  readonly dbName: string;
  private readonly _items = signal<OutboxItem[]>([]);
  readonly items: ReadonlySignal<OutboxItem[]> = this._items;
  readonly unsent: ReadonlySignal<number> = computed(
    () => this._items.value.filter((i) => i.status === "pending" || i.status === "sending").length,
  );
  private readonly _progress = signal<Record<string, number>>({});
  /** Upload progress (0..1) of the items whose files are being sent, by id. */
  readonly progress: ReadonlySignal<Record<string, number>> = this._progress;

  private readonly send: Sender;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly clearTimer: (handle: unknown) => void;
  private readonly locks: LockLike | null;
  private readonly channel: ChannelLike | null;
  private readonly options: OutboxOptions;
  private readonly lockName: string;

  private online: boolean;
  private paused = false; // after a 401, until resume()
  private closed = false;
  private running: Promise<void> | null = null;
  private again = false;
  private timer: { handle: unknown; at: number } | null = null;
  private reloadSeq = 0;
  private reloadApplied = 0;

  private readonly db: IDBPDatabase<OutboxDB>;

  private constructor(db: IDBPDatabase<OutboxDB>, options: OutboxOptions) {
    this.db = db;
    this.options = options;
    this.user = options.user;
    this.dbName = options.dbName ?? OUTBOX_CHANNEL;
    this.send = options.send;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.setTimer = options.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.clearTimer = options.clearTimer ?? ((h) => clearTimeout(h as ReturnType<typeof setTimeout>));
    this.locks = options.locks === undefined ? defaultLocks() : options.locks;
    this.channel = options.channel === undefined ? defaultChannel() : options.channel;
    this.lockName = `hub-outbox:${options.user}`;
    const nav = (globalThis as { navigator?: { onLine?: boolean } }).navigator;
    this.online = options.online ?? (typeof nav?.onLine === "boolean" ? nav.onLine : true);
    if (this.channel) {
      this.channel.onmessage = (e) => this.onChannelMessage(e.data);
    }
  }

  /** Open (or create) the database, recover items a dead tab left in `sending`, load, and start flushing. */
  static async open(options: OutboxOptions): Promise<Outbox> {
    const db = await openDB<OutboxDB>(options.dbName ?? OUTBOX_CHANNEL, 1, {
      upgrade(database) {
        const store = database.createObjectStore(STORE, { keyPath: "id" });
        store.createIndex(BY_USER, ["user", "createdAt"]);
      },
    });
    requestPersistence();
    const outbox = new Outbox(db, options);
    await outbox.withLock(() => outbox.recoverSending());
    await outbox.reload();
    outbox.kick();
    return outbox;
  }

  /** Store a new item (pending) before anything is sent, then start a flush. An id already stored returns the stored item. */
  async enqueue(input: EnqueueInput): Promise<OutboxItem> {
    this.assertOpen();
    const bodyId = input.body.client_msg_id;
    if (input.id !== undefined && bodyId !== undefined && bodyId !== input.id) {
      throw new Error("enqueue: body.client_msg_id differs from id.");
    }
    const id = input.id ?? (typeof bodyId === "string" && bodyId !== "" ? bodyId : newClientMsgId());
    const tx = this.db.transaction(STORE, "readwrite");
    const existing = await tx.store.get(id);
    if (existing) {
      await tx.done;
      return existing;
    }
    // createdAt is the send order: strictly after this user's latest item, even within one millisecond.
    const last = await tx.store.index(BY_USER).openCursor(userRange(this.user), "prev");
    const now = this.now();
    const item: OutboxItem = {
      id,
      user: this.user,
      kind: input.kind,
      method: input.method,
      path: input.path,
      body: { ...input.body, client_msg_id: id },
      scope: input.scope,
      label: input.label,
      ...(input.meta !== undefined ? { meta: input.meta } : {}),
      ...(input.files !== undefined && input.files.length > 0 ? { files: input.files, uploadPath: input.uploadPath ?? "" } : {}),
      createdAt: last ? Math.max(now, last.value.createdAt + 1) : now,
      status: "pending",
      attempts: 0,
      nextAttemptAt: now,
    };
    await tx.store.add(item);
    await tx.done;
    await this.changed();
    this.kick();
    return item;
  }

  /** A failed item, or a pending one waiting on backoff: pending, due now, then flush. */
  async retry(id: string): Promise<void> {
    this.assertOpen();
    const updated = await this.update(id, (item) =>
      item.user === this.user && (item.status === "failed" || item.status === "pending")
        ? { ...item, status: "pending", nextAttemptAt: this.now() }
        : null,
    );
    if (updated) {
      await this.changed();
    }
    this.kick();
  }

  /** The officer gives up on a failed item: it is removed (a sent one may be removed too; pending and sending ones are kept). */
  async discard(id: string): Promise<void> {
    this.assertOpen();
    const tx = this.db.transaction(STORE, "readwrite");
    const item = await tx.store.get(id);
    let removed = false;
    if (item && item.user === this.user && (item.status === "failed" || item.status === "sent")) {
      await tx.store.delete(id);
      removed = true;
    }
    await tx.done;
    if (removed) {
      await this.changed();
    }
  }

  /** Only flushes while online; going online flushes at once. */
  setOnline(online: boolean): void {
    const was = this.online;
    this.online = online;
    if (online && !was) {
      this.kick();
    }
  }

  /** After a new sign-in following onUnauthorized: flush again. */
  resume(): void {
    this.paused = false;
    this.kick();
  }

  /**
   * One flush pass (scheduled automatically too). Concurrent calls share the
   * running pass and add one more pass after it; the returned promise settles
   * when the outbox has gone idle.
   */
  flush(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    const run = (async () => {
      try {
        do {
          this.again = false;
          await this.pass();
        } while (this.again && !this.closed);
      } finally {
        this.running = null;
        if (this.closed) {
          this.db.close();
        }
      }
    })();
    this.running = run;
    return run;
  }

  /** This user's items shown on one screen, in send order. */
  forScope(scope: string): OutboxItem[] {
    return this._items.value.filter((i) => i.scope === scope);
  }

  /** Delete this user's sent items sent more than `sentOlderThanMs` ago. */
  async prune(sentOlderThanMs: number): Promise<void> {
    this.assertOpen();
    const cutoff = this.now() - sentOlderThanMs;
    const tx = this.db.transaction(STORE, "readwrite");
    const mine = await tx.store.index(BY_USER).getAll(userRange(this.user));
    let removed = 0;
    for (const item of mine) {
      if (item.status === "sent" && (item.sentAt ?? item.createdAt) < cutoff) {
        await tx.store.delete(item.id);
        removed++;
      }
    }
    await tx.done;
    if (removed > 0) {
      await this.changed();
    }
  }

  /** Stop timers and the channel; the database closes once a running pass has recorded its last answer. */
  close(): void {
    if (this.closed) {
      return;
    }
    this.closed = true;
    this.cancelTimer();
    if (this.channel) {
      this.channel.onmessage = null;
      this.channel.close();
    }
    if (!this.running) {
      this.db.close();
    }
  }

  /** Re-read this user's items from IndexedDB into `items` (a later read always wins). */
  async reload(): Promise<void> {
    if (this.closed && !this.running) {
      return;
    }
    const seq = ++this.reloadSeq;
    const mine = await this.db.getAllFromIndex(STORE, BY_USER, userRange(this.user));
    if (seq > this.reloadApplied) {
      this.reloadApplied = seq;
      mine.sort(byCreatedAt);
      this._items.value = mine;
    }
  }

  // --- internals -------------------------------------------------------------

  private assertOpen(): void {
    if (this.closed) {
      throw new Error("The outbox is closed.");
    }
  }

  /** Start a flush without waiting for it; a pass that fails on storage tries again later. */
  private kick(): void {
    if (this.closed || !this.online || this.paused) {
      return;
    }
    this.flush().catch(() => {
      if (!this.closed) {
        this.scheduleAt(this.now() + LOCK_RETRY_MS);
      }
    });
  }

  /** Run `fn` holding the per-user lock; false (and `fn` not run) when another holder has it. */
  private async withLock(fn: () => Promise<void>): Promise<boolean> {
    if (this.locks) {
      let acquired = false;
      await this.locks.request(this.lockName, { ifAvailable: true }, async (lock) => {
        if (lock === null || lock === undefined) {
          return;
        }
        acquired = true;
        await fn();
      });
      return acquired;
    }
    if (heldInProcess.has(this.lockName)) {
      return false;
    }
    heldInProcess.add(this.lockName);
    try {
      await fn();
    } finally {
      heldInProcess.delete(this.lockName);
    }
    return true;
  }

  private async pass(): Promise<void> {
    if (this.closed || !this.online || this.paused) {
      return;
    }
    const acquired = await this.withLock(() => this.drain());
    if (!acquired) {
      // Another tab sends; it announces every change. Look again later in case it goes away.
      await this.reload();
      if (this.head()) {
        this.scheduleAt(this.now() + LOCK_RETRY_MS);
      }
    }
  }

  /** Under the lock: send due pending items in order until none is left, one fails retryably, or we must stop. */
  private async drain(): Promise<void> {
    await this.recoverSending();
    for (;;) {
      if (this.closed || !this.online || this.paused) {
        return;
      }
      const mine = await this.db.getAllFromIndex(STORE, BY_USER, userRange(this.user));
      mine.sort(byCreatedAt);
      const head = mine.find((i) => i.status === "pending");
      if (!head) {
        return;
      }
      if (head.nextAttemptAt > this.now()) {
        this.scheduleAt(head.nextAttemptAt);
        return;
      }
      const claimed = await this.update(head.id, (item) =>
        item.status === "pending" && item.nextAttemptAt <= this.now() ? { ...item, status: "sending" } : null,
      );
      if (!claimed) {
        continue; // changed under us (another tab, a retry): look again
      }
      await this.changed();
      const result = await this.sendSafely(claimed);
      if (!(await this.record(claimed, result))) {
        return;
      }
    }
  }

  /** Store one answer. True when the pass may go on to the next item. */
  private async record(claimed: OutboxItem, result: SendResult): Promise<boolean> {
    const now = this.now();
    if (result.kind === "ok") {
      const sent = await this.update(claimed.id, (item) => {
        const next: OutboxItem = { ...item, status: "sent", attempts: item.attempts + 1, result: result.data, sentAt: now };
        delete next.error;
        if (next.files) {
          // Recorded: the bytes need not stay in the browser.
          next.files = next.files.map(({ data: _bytes, ...kept }) => kept);
        }
        return next;
      });
      await this.changed();
      if (sent && !this.closed) {
        this.options.onSent?.(sent);
      }
      return true;
    }
    if (result.kind === "refused" && result.status === 401) {
      // The session expired: nothing is wrong with the item. Pause until resume().
      await this.update(claimed.id, (item) => ({ ...item, status: "pending", error: result.error }));
      await this.changed();
      if (!this.paused) {
        this.paused = true;
        if (!this.closed) {
          this.options.onUnauthorized?.();
        }
      }
      return false;
    }
    if (result.kind === "network" || defaultRetryable(result.status)) {
      const attempts = claimed.attempts + 1;
      const floor = result.kind === "refused" ? Math.min(result.retryAfterMs ?? 0, BACKOFF_CAP_MS) : 0;
      const nextAttemptAt = now + Math.max(backoffDelay(attempts, this.random), floor);
      const error: OutboxError =
        result.kind === "network"
          ? { status: 0, code: "network", detail: "No answer from the hub." }
          : result.error;
      await this.update(claimed.id, (item) => ({ ...item, status: "pending", attempts, nextAttemptAt, error }));
      await this.changed();
      if (!this.closed) {
        this.scheduleAt(nextAttemptAt);
      }
      return false; // later items must not overtake this one
    }
    // Refused for good: keep it (body and label) for the officer to copy, retry or discard.
    const failed = await this.update(claimed.id, (item) => ({
      ...item,
      status: "failed",
      attempts: item.attempts + 1,
      error: result.error,
    }));
    await this.changed();
    if (failed && !this.closed) {
      this.options.onFailed?.(failed);
    }
    return true;
  }

  private async sendSafely(item: OutboxItem): Promise<SendResult> {
    const context: SendContext = {
      progress: (fraction) => {
        this._progress.value = { ...this._progress.value, [item.id]: Math.max(0, Math.min(1, fraction)) };
      },
      saveFiles: async (files) => {
        await this.update(item.id, (stored) => ({ ...stored, files }));
        await this.changed();
      },
    };
    try {
      return await this.send(item, context);
    } catch {
      return { kind: "network" };
    } finally {
      if (item.id in this._progress.value) {
        const { [item.id]: _done, ...rest } = this._progress.value;
        this._progress.value = rest;
      }
    }
  }

  /** Under the lock: no other pass of this user runs, so any item in `sending` was left by a dead tab. */
  private async recoverSending(): Promise<void> {
    const tx = this.db.transaction(STORE, "readwrite");
    const mine = await tx.store.index(BY_USER).getAll(userRange(this.user));
    let recovered = 0;
    for (const item of mine) {
      if (item.status === "sending") {
        await tx.store.put({ ...item, status: "pending" });
        recovered++;
      }
    }
    await tx.done;
    if (recovered > 0) {
      await this.changed();
    }
  }

  /** Read-modify-write one item in one transaction; `change` returns null to leave it. Returns the stored result. */
  private async update(id: string, change: (item: OutboxItem) => OutboxItem | null): Promise<OutboxItem | null> {
    const tx = this.db.transaction(STORE, "readwrite");
    const item = await tx.store.get(id);
    const next = item ? change(item) : null;
    if (next) {
      await tx.store.put(next);
    }
    await tx.done;
    return next;
  }

  /** After a write: mirror IndexedDB and tell the other tabs. */
  private async changed(): Promise<void> {
    await this.reload();
    if (this.channel && !this.closed) {
      const notice: ChangeNotice = { type: "outbox.changed", db: this.dbName, user: this.user };
      try {
        this.channel.postMessage(notice);
      } catch {
        // A closed channel: the other tabs re-read on their own next change.
      }
    }
  }

  private onChannelMessage(data: unknown): void {
    if (this.closed || !isChangeNotice(data) || data.db !== this.dbName || data.user !== this.user) {
      return;
    }
    this.reload()
      .then(() => {
        // Another tab changed something (a new item, a retry, a failure with backoff):
        // be ready to send if it goes away.
        const head = this.head();
        if (!head || this.closed || !this.online || this.paused) {
          return;
        }
        if (head.nextAttemptAt <= this.now()) {
          this.kick();
        } else {
          this.scheduleAt(head.nextAttemptAt);
        }
      })
      .catch(() => undefined);
  }

  /** The first pending item in send order (what the next pass starts with). */
  private head(): OutboxItem | undefined {
    return this._items.value.find((i) => i.status === "pending");
  }

  /** Make sure a pass runs at `at` (keeps an earlier timer). */
  private scheduleAt(at: number): void {
    if (this.closed) {
      return;
    }
    if (this.timer && this.timer.at <= at) {
      return;
    }
    this.cancelTimer();
    const handle = this.setTimer(
      () => {
        this.timer = null;
        this.kick();
      },
      Math.max(0, at - this.now()),
    );
    this.timer = { handle, at };
  }

  private cancelTimer(): void {
    if (this.timer) {
      this.clearTimer(this.timer.handle);
      this.timer = null;
    }
  }
}

export interface FetchSenderOptions {
  base?: string; // default "/api/v1"
  csrf: () => string;
  refreshCsrf?: () => Promise<void>;
  fetch?: typeof fetch;
  timeoutMs?: number; // default 30 s; no answer by then counts as a network failure
}

/**
 * The real sender: one JSON request to the hub per item. A 2xx is `ok` with the
 * parsed JSON (null for an empty body); an HTTP error is `refused` with the hub's
 * `{code, detail, errors?}` (or the status text); a thrown fetch, a timeout or a
 * body cut off mid-way is `network`. A 403 `csrf_failed` refreshes the token
 * (`refreshCsrf`) and tries once more.
 */
export function fetchSender(options: FetchSenderOptions): Sender {
  const base = options.base ?? "/api/v1";
  const timeoutMs = options.timeoutMs ?? 30_000;
  const doFetch: typeof fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));

  async function request(item: OutboxItem, signal: AbortSignal | undefined): Promise<SendResult> {
    try {
      const response = await doFetch(base + item.path, {
        method: item.method,
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRFToken": options.csrf(),
        },
        credentials: "same-origin",
        body: JSON.stringify(item.body),
        ...(signal ? { signal } : {}),
      });
      const text = await response.text();
      if (response.ok) {
        return { kind: "ok", status: response.status, data: parseJson(text) ?? null };
      }
      const result: SendResult = {
        kind: "refused",
        status: response.status,
        error: errorFrom(response.status, response.statusText, parseJson(text)),
      };
      const retryAfter = retryAfterMs(response.headers.get("Retry-After"));
      if (retryAfter !== undefined) {
        result.retryAfterMs = retryAfter;
      }
      return result;
    } catch {
      return { kind: "network" };
    }
  }

  /** One request, given up (and aborted) after timeoutMs even if fetch ignores the abort. */
  async function attempt(item: OutboxItem): Promise<SendResult> {
    const controller = typeof AbortController === "function" ? new AbortController() : null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<SendResult>((resolve) => {
      timer = setTimeout(() => {
        controller?.abort();
        resolve({ kind: "network" });
      }, timeoutMs);
    });
    try {
      return await Promise.race([request(item, controller?.signal), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  return async (item) => {
    const first = await attempt(item);
    if (first.kind === "refused" && first.status === 403 && first.error.code === "csrf_failed" && options.refreshCsrf) {
      try {
        await options.refreshCsrf();
      } catch {
        return { kind: "network" };
      }
      return attempt(item);
    }
    return first;
  };
}

function parseJson(text: string): unknown {
  if (text.trim() === "") {
    return undefined;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** The hub's error shape `{code, detail, errors?}`, or the status text when the answer is not that. */
export function errorFrom(status: number, statusText: string, data: unknown): OutboxError {
  const fallback = statusText.trim() || `HTTP ${status}`;
  const d = typeof data === "object" && data !== null && !Array.isArray(data) ? (data as Record<string, unknown>) : {};
  const error: OutboxError = {
    status,
    code: typeof d.code === "string" && d.code !== "" ? d.code : "error",
    detail: typeof d.detail === "string" && d.detail !== "" ? d.detail : fallback,
  };
  if (Array.isArray(d.errors)) {
    error.errors = d.errors
      .filter((e): e is Record<string, unknown> => typeof e === "object" && e !== null)
      .map((e) => ({
        loc: Array.isArray(e.loc) ? e.loc.map((part) => String(part)) : [],
        msg: typeof e.msg === "string" ? e.msg : "",
        type: typeof e.type === "string" ? e.type : "",
      }));
  }
  return error;
}

/** Retry-After in ms (delta-seconds or an HTTP date), or undefined. */
function retryAfterMs(header: string | null): number | undefined {
  if (header === null || header.trim() === "") {
    return undefined;
  }
  const seconds = Number(header);
  if (Number.isFinite(seconds)) {
    return seconds >= 0 ? seconds * 1000 : undefined;
  }
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
