import "fake-indexeddb/auto";
import { IDBFactory } from "fake-indexeddb";
import { openDB } from "idb";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  backoffDelay,
  defaultRetryable,
  errorFrom,
  fetchSender,
  LOCK_RETRY_MS,
  Outbox,
  type ChannelLike,
  type LockLike,
  type OutboxError,
  type OutboxItem,
  type OutboxOptions,
  type SendResult,
  type Sender,
} from "./outbox";

// --- harness -------------------------------------------------------------------

const T0 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

/** An injected clock and timer queue: time only moves when a test says so. */
class Clock {
  t = T0;
  private seq = 0;
  readonly timers = new Map<number, { at: number; fn: () => void }>();
  now = (): number => this.t;
  setTimer = (fn: () => void, ms: number): unknown => {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  };
  clearTimer = (handle: unknown): void => {
    this.timers.delete(handle as number);
  };
  /** When the earliest timer is due, or null. */
  nextAt(): number | null {
    const ats = [...this.timers.values()].map((x) => x.at);
    return ats.length ? Math.min(...ats) : null;
  }
  /** Move time forward and fire what is due (in due order). */
  advance(ms: number): void {
    this.t += ms;
    const due = [...this.timers.entries()].filter(([, x]) => x.at <= this.t).sort((a, b) => a[1].at - b[1].at);
    for (const [id, x] of due) {
      this.timers.delete(id);
      x.fn();
    }
  }
}

/** In-memory BroadcastChannel: delivers to every other member, asynchronously, never to the sender. */
function channelHub() {
  const members = new Set<ChannelLike>();
  const posted: unknown[] = [];
  function create(): ChannelLike {
    const ch: ChannelLike = {
      onmessage: null,
      postMessage(m: unknown) {
        posted.push(m);
        const copy = structuredClone(m);
        for (const other of members) {
          if (other !== ch) {
            queueMicrotask(() => other.onmessage?.({ data: copy }));
          }
        }
      },
      close() {
        members.delete(ch);
      },
    };
    members.add(ch);
    return ch;
  }
  return { create, posted };
}

/** Web Locks with real ifAvailable semantics, shared by the "tabs" of one test. */
function fakeLocks() {
  const held = new Set<string>();
  const requests: { name: string; options: { ifAvailable: boolean } }[] = [];
  const locks: LockLike = {
    async request(name, options, cb) {
      requests.push({ name, options });
      if (held.has(name)) {
        await cb(null);
        return;
      }
      held.add(name);
      try {
        await cb({ name });
      } finally {
        held.delete(name);
      }
    },
  };
  return { locks, held, requests };
}

interface Gate {
  item: OutboxItem;
  resolve: (r: SendResult) => void;
}
let openGates: Gate[] = [];

/** A sender whose every call waits until the test answers it. */
function gatedSender() {
  const waiting: Gate[] = [];
  const calls: OutboxItem[] = [];
  const send: Sender = (item) =>
    new Promise<SendResult>((resolve) => {
      calls.push(structuredClone(item));
      const gate = { item, resolve };
      waiting.push(gate);
      openGates.push(gate);
    });
  return { send, calls, waiting };
}

/** A sender that answers by a rule, and remembers what it was given. */
function scripted(answer: (item: OutboxItem, n: number) => SendResult | Promise<SendResult> = () => ok()) {
  const calls: OutboxItem[] = [];
  const send: Sender = async (item) => {
    calls.push(structuredClone(item));
    return answer(item, calls.length);
  };
  return { send, calls };
}

function ok(data: unknown = { seq: 1 }, status = 201): SendResult {
  return { kind: "ok", status, data };
}
function refused(status: number, code = "invalid_request", detail = "no", extra: Partial<OutboxError> = {}): SendResult {
  return { kind: "refused", status, error: { status, code, detail, ...extra } };
}
const network: SendResult = { kind: "network" };

let opened: Outbox[] = [];
let clock: Clock;

function open(options: Partial<OutboxOptions> = {}): Promise<Outbox> {
  return Outbox.open({
    user: "amina",
    send: scripted().send,
    now: clock.now,
    random: () => 0,
    setTimer: clock.setTimer,
    clearTimer: clock.clearTimer,
    locks: null,
    channel: null,
    ...options,
  }).then((o) => {
    opened.push(o);
    return o;
  });
}

function message(text: string, extra: { id?: string; scope?: string; meta?: Record<string, unknown> } = {}) {
  return {
    kind: "message" as const,
    method: "POST" as const,
    path: "/incidents/WDH-2026-0001/messages",
    body: { body: text },
    scope: extra.scope ?? "incident:WDH-2026-0001",
    label: text,
    ...(extra.id !== undefined ? { id: extra.id } : {}),
    ...(extra.meta !== undefined ? { meta: extra.meta } : {}),
  };
}

/** What IndexedDB holds, read through a connection of its own. */
async function stored(dbName = "hub-outbox"): Promise<OutboxItem[]> {
  const db = await openDB(dbName);
  try {
    const all = (await db.getAll("items")) as OutboxItem[];
    return all.sort((a, b) => a.createdAt - b.createdAt);
  } finally {
    db.close();
  }
}

async function storedItem(id: string): Promise<OutboxItem | undefined> {
  return (await stored()).find((i) => i.id === id);
}

/** Write an item straight into IndexedDB (as another tab or an older session would have). */
async function putRaw(item: OutboxItem): Promise<void> {
  const db = await openDB("hub-outbox", 1, {
    upgrade(d) {
      d.createObjectStore("items", { keyPath: "id" }).createIndex("byUser", ["user", "createdAt"]);
    },
  });
  await db.put("items", item);
  db.close();
}

function rawItem(overrides: Partial<OutboxItem>): OutboxItem {
  return {
    id: "00000000-0000-4000-8000-000000000001",
    user: "amina",
    kind: "message",
    method: "POST",
    path: "/incidents/WDH-2026-0001/messages",
    body: { body: "left behind", client_msg_id: "00000000-0000-4000-8000-000000000001" },
    scope: "incident:WDH-2026-0001",
    label: "left behind",
    createdAt: T0 - 60_000,
    status: "pending",
    attempts: 0,
    nextAttemptAt: T0 - 60_000,
    ...overrides,
  };
}

/** Let IndexedDB and channel deliveries run (event-loop turns, no wall-clock waiting). */
async function until(condition: () => boolean | Promise<boolean>, turns = 500): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (await condition()) {
      return;
    }
    await new Promise<void>((r) => setImmediate(r));
  }
  throw new Error("condition never held");
}

async function settle(turns = 50): Promise<void> {
  for (let i = 0; i < turns; i++) {
    await new Promise<void>((r) => setImmediate(r));
  }
}

beforeEach(() => {
  vi.stubGlobal("indexedDB", new IDBFactory()); // a fresh, empty browser profile per test
  clock = new Clock();
  openGates = [];
  opened = [];
});

afterEach(async () => {
  for (const gate of openGates) {
    gate.resolve(network); // let no pass hang on to its lock
  }
  for (const o of opened) {
    o.close();
  }
  await Promise.all(opened.map((o) => o.flush()));
  vi.unstubAllGlobals();
});

// --- enqueue -----------------------------------------------------------------------

describe("enqueue", () => {
  it("stores the item (pending, attempts 0, body with client_msg_id) before anything is sent", async () => {
    const seenAtSend: (OutboxItem | undefined)[] = [];
    const sender = scripted(async (item) => {
      seenAtSend.push(await storedItem(item.id));
      return ok();
    });
    const outbox = await open({ send: sender.send });
    outbox.setOnline(false);
    const item = await outbox.enqueue(message("Queue at lane 3", { meta: { draft: 1 } }));

    expect(item.status).toBe("pending");
    expect(item.attempts).toBe(0);
    expect(item.user).toBe("amina");
    expect(item.createdAt).toBe(T0);
    expect(item.nextAttemptAt).toBe(T0);
    expect(item.body).toEqual({ body: "Queue at lane 3", client_msg_id: item.id });
    expect(item.meta).toEqual({ draft: 1 });
    expect(item.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(await stored()).toEqual([item]);
    expect(outbox.items.value).toEqual([item]);
    expect(sender.calls).toHaveLength(0);

    outbox.setOnline(true);
    await outbox.flush();
    expect(sender.calls).toHaveLength(1);
    expect(seenAtSend[0]?.body.client_msg_id).toBe(item.id); // it was in IndexedDB when the request left
  });

  it("triggers a flush by itself", async () => {
    const sender = scripted();
    const outbox = await open({ send: sender.send });
    const item = await outbox.enqueue(message("hello"));
    await until(async () => (await storedItem(item.id))?.status === "sent");
    expect(sender.calls.map((c) => c.id)).toEqual([item.id]);
  });

  it("an id that already exists returns the stored item unchanged, with no duplicate", async () => {
    const sender = scripted();
    const outbox = await open({ send: sender.send });
    outbox.setOnline(false);
    const first = await outbox.enqueue(message("first", { id: "11111111-1111-4111-8111-111111111111" }));
    clock.advance(5_000);
    const again = await outbox.enqueue({ ...message("a different text", { id: first.id }), kind: "edit" });
    expect(again).toEqual(first);
    expect(await stored()).toEqual([first]);
    outbox.setOnline(true);
    await outbox.flush();
    const sent = await outbox.enqueue(message("first", { id: first.id }));
    expect(sent.status).toBe("sent");
    await outbox.flush();
    expect(sender.calls).toHaveLength(1);
    expect(outbox.items.value).toHaveLength(1);
  });

  it("takes the id from body.client_msg_id when no id is given, and refuses two different ids", async () => {
    const outbox = await open();
    outbox.setOnline(false);
    const id = "22222222-2222-4222-8222-222222222222";
    const item = await outbox.enqueue({ ...message("x"), body: { body: "x", client_msg_id: id } });
    expect(item.id).toBe(id);
    await expect(
      outbox.enqueue({ ...message("y", { id: "33333333-3333-4333-8333-333333333333" }), body: { client_msg_id: id } }),
    ).rejects.toThrow(/differs/);
  });

  it("gives items enqueued in the same millisecond a strictly increasing createdAt", async () => {
    const outbox = await open();
    outbox.setOnline(false);
    const a = await outbox.enqueue(message("a"));
    const b = await outbox.enqueue(message("b"));
    const c = await outbox.enqueue(message("c"));
    expect([a.createdAt, b.createdAt, c.createdAt]).toEqual([T0, T0 + 1, T0 + 2]);
    expect(outbox.items.value.map((i) => i.label)).toEqual(["a", "b", "c"]);
  });
});

// --- flushing ----------------------------------------------------------------------

describe("flush", () => {
  it("sends this user's due pending items one at a time, in createdAt order", async () => {
    const gated = gatedSender();
    const outbox = await open({ send: gated.send });
    outbox.setOnline(false);
    const items = [];
    for (const text of ["one", "two", "three"]) {
      items.push(await outbox.enqueue(message(text)));
    }
    outbox.setOnline(true);
    const done = outbox.flush();
    for (let i = 0; i < 3; i++) {
      await until(() => gated.waiting.length === i + 1);
      expect(gated.waiting).toHaveLength(i + 1); // never two requests in flight
      gated.waiting[i]?.resolve(ok({ n: i }));
    }
    await done;
    expect(gated.calls.map((c) => c.label)).toEqual(["one", "two", "three"]);
    expect(gated.calls.map((c) => c.id)).toEqual(items.map((i) => i.id));
  });

  it("sends only while online; going online flushes at once", async () => {
    const sender = scripted();
    const outbox = await open({ send: sender.send });
    outbox.setOnline(false);
    const item = await outbox.enqueue(message("offline"));
    await outbox.flush();
    await settle();
    expect(sender.calls).toHaveLength(0);
    expect((await storedItem(item.id))?.status).toBe("pending");
    outbox.setOnline(true); // no flush() call: going online is enough
    await until(async () => (await storedItem(item.id))?.status === "sent");
    expect(sender.calls).toHaveLength(1);
  });

  it("stops before the next item when the link drops mid-pass", async () => {
    const gated = gatedSender();
    const outbox = await open({ send: gated.send });
    outbox.setOnline(false);
    await outbox.enqueue(message("a"));
    await outbox.enqueue(message("b"));
    outbox.setOnline(true);
    await until(() => gated.waiting.length === 1);
    outbox.setOnline(false);
    gated.waiting[0]?.resolve(ok());
    await outbox.flush();
    expect(gated.calls.map((c) => c.label)).toEqual(["a"]);
    expect(outbox.items.value.map((i) => i.status)).toEqual(["sent", "pending"]);
  });

  it("two concurrent flush() calls never send an item twice", async () => {
    const gated = gatedSender();
    const outbox = await open({ send: gated.send });
    outbox.setOnline(false);
    await outbox.enqueue(message("a"));
    await outbox.enqueue(message("b"));
    outbox.setOnline(true);
    const p1 = outbox.flush();
    const p2 = outbox.flush();
    const p3 = outbox.flush();
    await until(() => gated.waiting.length === 1);
    gated.waiting[0]?.resolve(ok());
    await until(() => gated.waiting.length === 2);
    gated.waiting[1]?.resolve(ok());
    await Promise.all([p1, p2, p3]);
    await outbox.flush();
    expect(gated.calls.map((c) => c.label)).toEqual(["a", "b"]);
  });

  it("without Web Locks, two outboxes of one user in one page never send an item twice (in-process mutex)", async () => {
    const gated = gatedSender();
    const tabA = await open({ send: gated.send, locks: undefined }); // default: navigator.locks, absent in jsdom
    const tabB = await open({ send: gated.send, locks: null });
    tabA.setOnline(false);
    tabB.setOnline(false);
    await tabA.enqueue(message("a"));
    await tabB.enqueue(message("b"));
    tabA.setOnline(true);
    tabB.setOnline(true);
    const flushes = [tabA.flush(), tabB.flush(), tabA.flush(), tabB.flush()];
    await until(() => gated.waiting.length === 1);
    gated.waiting[0]?.resolve(ok());
    await until(() => gated.waiting.length === 2);
    gated.waiting[1]?.resolve(ok());
    await Promise.all(flushes);
    await Promise.all([tabA.flush(), tabB.flush()]);
    await settle();
    expect(gated.calls.map((c) => c.label)).toEqual(["a", "b"]);
    expect((await stored()).map((i) => i.status)).toEqual(["sent", "sent"]);
  });

  it("sends under the Web Lock hub-outbox:<user>, requested ifAvailable", async () => {
    const { locks, requests } = fakeLocks();
    const sender = scripted();
    const outbox = await open({ send: sender.send, locks, user: "bilal" });
    await outbox.enqueue(message("x"));
    await outbox.flush();
    expect(sender.calls).toHaveLength(1);
    expect(requests.length).toBeGreaterThan(0);
    for (const r of requests) {
      expect(r).toEqual({ name: "hub-outbox:bilal", options: { ifAvailable: true } });
    }
  });

  it("when another tab holds the lock, this tab does not send; it reflects that tab's changes", async () => {
    const { locks, held } = fakeLocks();
    const hub = channelHub();
    const gated = gatedSender();
    const sendA = gated.send;
    const sendB = scripted().send;
    const spyB = vi.fn(sendB);
    const tabA = await open({ send: sendA, locks, channel: hub.create() });
    const tabB = await open({ send: spyB, locks, channel: hub.create() });

    const a = await tabA.enqueue(message("from A"));
    await until(() => gated.waiting.length === 1); // A holds the lock while it sends
    expect(held.has("hub-outbox:amina")).toBe(true);

    const b = await tabB.enqueue(message("from B"));
    await tabB.flush();
    expect(spyB).not.toHaveBeenCalled();
    expect(clock.nextAt()).toBe(clock.t + LOCK_RETRY_MS); // B will look again later in case A goes away
    await until(() => tabB.items.value.length === 2);
    expect(tabB.items.value.map((i) => [i.id, i.status])).toEqual([
      [a.id, "sending"],
      [b.id, "pending"],
    ]);

    gated.waiting[0]?.resolve(ok());
    await until(() => gated.waiting.length === 2); // A sends B's item too, in order
    gated.waiting[1]?.resolve(ok());
    await tabA.flush();
    await until(() => tabB.items.value.every((i) => i.status === "sent"));
    expect(spyB).not.toHaveBeenCalled();
    expect(gated.calls.map((c) => c.id)).toEqual([a.id, b.id]);
    expect(tabB.items.value).toEqual(tabA.items.value);
    expect(tabB.unsent.value).toBe(0);
  });

  it("a tab takes over when the lock holder has gone", async () => {
    const { locks, held } = fakeLocks();
    const sender = scripted();
    held.add("hub-outbox:amina"); // another tab
    const outbox = await open({ send: sender.send, locks });
    const item = await outbox.enqueue(message("x"));
    await outbox.flush();
    expect(sender.calls).toHaveLength(0);
    held.delete("hub-outbox:amina"); // that tab closed
    clock.advance(LOCK_RETRY_MS);
    await outbox.flush();
    expect(sender.calls.map((c) => c.id)).toEqual([item.id]);
  });
});

// --- answers -------------------------------------------------------------------------

describe("answers", () => {
  it("ok: sent, result stored, sentAt set, then onSent (already stored)", async () => {
    const seen: { item: OutboxItem; storedThen: OutboxItem | undefined }[] = [];
    const onSent = vi.fn();
    const sender = scripted(() => ok({ seq: 42, stream: "incident:WDH-2026-0001" }, 201));
    const outbox = await open({
      send: sender.send,
      onSent: (item) => {
        onSent(item);
        void storedItem(item.id).then((s) => seen.push({ item, storedThen: s }));
      },
    });
    outbox.setOnline(false);
    const item = await outbox.enqueue(message("hello"));
    clock.advance(1234);
    outbox.setOnline(true);
    await outbox.flush();
    await until(() => seen.length === 1);
    const sent = (await storedItem(item.id))!;
    expect(sent).toMatchObject({ status: "sent", result: { seq: 42, stream: "incident:WDH-2026-0001" }, sentAt: T0 + 1234, attempts: 1 });
    expect(sent.error).toBeUndefined();
    expect(onSent).toHaveBeenCalledTimes(1);
    expect(seen[0]?.item).toEqual(sent);
    expect(seen[0]?.storedThen).toEqual(sent);
    expect(outbox.items.value).toEqual([sent]);
  });

  it.each([400, 403, 404, 409, 413, 422])("refused %i is final: failed with the error, onFailed, later items still go", async (status) => {
    const onFailed = vi.fn();
    const error = { status, code: "invalid_request", detail: "body: too long", errors: [{ loc: ["body", "body"], msg: "too long", type: "string_too_long" }] };
    const sender = scripted((item) => (item.label === "bad" ? { kind: "refused", status, error } : ok()));
    const outbox = await open({ send: sender.send, onFailed });
    outbox.setOnline(false);
    const bad = await outbox.enqueue(message("bad"));
    const good = await outbox.enqueue(message("good"));
    outbox.setOnline(true);
    await outbox.flush();
    const failed = (await storedItem(bad.id))!;
    expect(failed).toMatchObject({ status: "failed", error, attempts: 1, label: "bad", body: bad.body });
    expect(onFailed).toHaveBeenCalledTimes(1);
    expect(onFailed).toHaveBeenCalledWith(failed);
    expect((await storedItem(good.id))?.status).toBe("sent");
    expect(sender.calls.map((c) => c.label)).toEqual(["bad", "good"]);
    expect(outbox.unsent.value).toBe(0);
    await outbox.flush();
    expect(sender.calls).toHaveLength(2); // a failed item is not sent again by itself
  });

  it("401: the pass stops, items stay pending, onUnauthorized once, nothing more until resume()", async () => {
    const onUnauthorized = vi.fn();
    let signedIn = false;
    const sender = scripted(() => (signedIn ? ok() : refused(401, "unauthenticated", "Sign in")));
    const outbox = await open({ send: sender.send, onUnauthorized });
    outbox.setOnline(false);
    const a = await outbox.enqueue(message("a"));
    await outbox.enqueue(message("b"));
    outbox.setOnline(true);
    await outbox.flush();
    expect(sender.calls.map((c) => c.label)).toEqual(["a"]);
    expect(outbox.items.value.map((i) => i.status)).toEqual(["pending", "pending"]);
    expect((await storedItem(a.id))?.attempts).toBe(0);
    expect(onUnauthorized).toHaveBeenCalledTimes(1);

    await outbox.enqueue(message("c"));
    await outbox.flush();
    outbox.setOnline(false);
    outbox.setOnline(true);
    await outbox.retry(a.id);
    await outbox.flush();
    clock.advance(60_000);
    await outbox.flush();
    expect(sender.calls).toHaveLength(1);
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
    expect(outbox.unsent.value).toBe(3);

    signedIn = true;
    outbox.resume();
    await outbox.flush();
    expect(sender.calls.map((c) => c.label)).toEqual(["a", "a", "b", "c"]);
    expect(outbox.items.value.map((i) => i.status)).toEqual(["sent", "sent", "sent"]);
  });

  it("a 401 after resume() calls onUnauthorized again", async () => {
    const onUnauthorized = vi.fn();
    const outbox = await open({ send: scripted(() => refused(401)).send, onUnauthorized });
    await outbox.enqueue(message("a"));
    await outbox.flush();
    outbox.resume();
    await outbox.flush();
    expect(onUnauthorized).toHaveBeenCalledTimes(2);
  });

  it.each([
    ["network", network],
    ["500", refused(500, "error", "boom")],
    ["502", refused(502, "error", "Bad Gateway")],
    ["503", refused(503, "unavailable", "The database is unavailable")],
    ["408", refused(408, "error", "Request Timeout")],
    ["429", refused(429, "rate_limited", "Too many requests")],
  ])("%s is retryable: attempts+1, backoff, error kept, the pass stops there, a timer brings the next pass", async (_name, answer) => {
    let fail = true;
    const sender = scripted(() => (fail ? answer : ok()));
    const outbox = await open({ send: sender.send });
    outbox.setOnline(false);
    const a = await outbox.enqueue(message("a"));
    const b = await outbox.enqueue(message("b"));
    outbox.setOnline(true);
    await outbox.flush();

    expect(sender.calls.map((c) => c.label)).toEqual(["a"]); // b must not overtake a
    const waiting = (await storedItem(a.id))!;
    expect(waiting.status).toBe("pending");
    expect(waiting.attempts).toBe(1);
    expect(waiting.nextAttemptAt).toBe(T0 + 1000);
    expect(waiting.error).toEqual(
      answer.kind === "network"
        ? { status: 0, code: "network", detail: "No answer from the hub." }
        : (answer as Extract<SendResult, { kind: "refused" }>).error,
    );
    expect((await storedItem(b.id))?.attempts).toBe(0);
    expect(clock.nextAt()).toBe(T0 + 1000);

    const c = await outbox.enqueue(message("c")); // a new item does not jump the queue either
    await outbox.flush();
    expect(sender.calls).toHaveLength(1);

    fail = false;
    clock.advance(999);
    await outbox.flush();
    expect(sender.calls).toHaveLength(1);
    clock.advance(1);
    await outbox.flush();
    expect(sender.calls.map((x) => x.id)).toEqual([a.id, a.id, b.id, c.id]);
    expect(outbox.items.value.map((i) => i.status)).toEqual(["sent", "sent", "sent"]);
    expect((await storedItem(a.id))?.error).toBeUndefined();
  });

  it("backs off 1 s doubling to a 30 s cap", async () => {
    const sender = scripted(() => network);
    const outbox = await open({ send: sender.send });
    const a = await outbox.enqueue(message("a"));
    await outbox.flush();
    const delays: number[] = [];
    for (let i = 0; i < 8; i++) {
      const item = (await storedItem(a.id))!;
      delays.push(item.nextAttemptAt - clock.t);
      expect(clock.nextAt()).toBe(item.nextAttemptAt);
      clock.advance(item.nextAttemptAt - clock.t);
      await outbox.flush();
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    expect((await storedItem(a.id))?.attempts).toBe(9);
    expect(sender.calls).toHaveLength(9);
  });

  it("jitters the backoff with random (up to 20 % shorter, never over the cap)", async () => {
    expect([1, 2, 3, 6, 7, 50].map((n) => backoffDelay(n, () => 0))).toEqual([1000, 2000, 4000, 30000, 30000, 30000]);
    expect(backoffDelay(1, () => 1)).toBe(800);
    expect(backoffDelay(1, () => 0.5)).toBe(900);
    expect(backoffDelay(6, () => 0.999)).toBeLessThanOrEqual(30000);
    expect(backoffDelay(6, () => 0.999)).toBeGreaterThanOrEqual(24000);

    const outbox = await open({ send: scripted(() => network).send, random: () => 0.5 });
    const a = await outbox.enqueue(message("a"));
    await outbox.flush();
    expect((await storedItem(a.id))?.nextAttemptAt).toBe(T0 + 900);
  });

  it("a Retry-After longer than the backoff is respected (up to the cap)", async () => {
    const answer: SendResult = { ...(refused(503, "unavailable", "later") as Extract<SendResult, { kind: "refused" }>), retryAfterMs: 5000 };
    const outbox = await open({ send: scripted(() => answer).send });
    const a = await outbox.enqueue(message("a"));
    await outbox.flush();
    expect((await storedItem(a.id))?.nextAttemptAt).toBe(T0 + 5000);
  });

  it("a sender that throws counts as no answer", async () => {
    const outbox = await open({
      send: () => Promise.reject(new TypeError("Failed to fetch")),
    });
    const a = await outbox.enqueue(message("a"));
    await outbox.flush();
    expect(await storedItem(a.id)).toMatchObject({ status: "pending", attempts: 1, error: { code: "network" } });
  });
});

// --- reload, users, channel, counts ------------------------------------------------------

describe("persistence and sharing", () => {
  it("a new Outbox.open on the same database sees the same items (reload, browser restart)", async () => {
    const first = await open();
    first.setOnline(false);
    await first.enqueue(message("one", { scope: "incident:WDH-2026-0001" }));
    await first.enqueue({ ...message("report"), kind: "report", path: "/incidents", scope: "report" });
    const before = first.items.value;
    first.close();

    const sender = scripted();
    const second = await open({ send: sender.send });
    expect(second.items.value).toEqual(before);
    expect(second.unsent.value).toBe(2);
    await second.flush();
    expect(sender.calls.map((c) => c.label)).toEqual(["one", "report"]);
  });

  it("an item a crashed tab left in sending is back to pending at open", async () => {
    await putRaw(rawItem({ status: "sending", attempts: 2 }));
    const outbox = await open();
    outbox.setOnline(false);
    expect(outbox.items.value.map((i) => [i.status, i.attempts])).toEqual([["pending", 2]]);
    expect((await stored())[0]?.status).toBe("pending");
  });

  it("an item in sending is left alone while a live tab holds the lock, and recovered when it goes", async () => {
    await putRaw(rawItem({ status: "sending" }));
    const { locks, held } = fakeLocks();
    held.add("hub-outbox:amina");
    const sender = scripted();
    const outbox = await open({ send: sender.send, locks });
    expect(outbox.items.value[0]?.status).toBe("sending");
    await outbox.flush();
    expect(sender.calls).toHaveLength(0);
    held.delete("hub-outbox:amina");
    await outbox.flush();
    expect(sender.calls).toHaveLength(1);
    expect(outbox.items.value[0]?.status).toBe("sent");
  });

  it("items of another user are neither listed nor sent", async () => {
    await putRaw(rawItem({ user: "bilal", label: "bilal's", id: "b0000000-0000-4000-8000-000000000001" }));
    await putRaw(rawItem({ user: "bilal", status: "sending", id: "b0000000-0000-4000-8000-000000000002" }));
    const sender = scripted();
    const outbox = await open({ send: sender.send });
    const mine = await outbox.enqueue(message("amina's"));
    await outbox.flush();
    expect(sender.calls.map((c) => c.id)).toEqual([mine.id]);
    expect(outbox.items.value.map((i) => i.id)).toEqual([mine.id]);
    expect(outbox.forScope("incident:WDH-2026-0001").map((i) => i.id)).toEqual([mine.id]);
    expect(outbox.unsent.value).toBe(0);
    const theirs = (await stored()).filter((i) => i.user === "bilal");
    expect(theirs.map((i) => i.status).sort()).toEqual(["pending", "sending"]); // not even recovered by amina
    await outbox.retry("b0000000-0000-4000-8000-000000000001");
    await outbox.discard("b0000000-0000-4000-8000-000000000001");
    expect((await stored()).filter((i) => i.user === "bilal")).toHaveLength(2);
  });

  it("every state change is written to IndexedDB and announced; the other outbox re-reads", async () => {
    const hub = channelHub();
    const gated = gatedSender();
    const tabA = await open({ send: gated.send, channel: hub.create() });
    const tabB = await open({ channel: hub.create() });
    tabB.setOnline(false);

    const item = await tabA.enqueue(message("hello"));
    expect(hub.posted).toHaveLength(1);
    await until(() => tabB.items.value[0]?.status === "pending");

    await until(() => gated.waiting.length === 1);
    expect(hub.posted).toHaveLength(2);
    expect((await storedItem(item.id))?.status).toBe("sending");
    await until(() => tabB.items.value[0]?.status === "sending");
    expect(tabB.unsent.value).toBe(1);

    gated.waiting[0]?.resolve(ok({ seq: 7 }));
    await tabA.flush();
    expect(hub.posted).toHaveLength(3);
    expect((await storedItem(item.id))?.status).toBe("sent");
    await until(() => tabB.items.value[0]?.status === "sent");
    expect(tabB.items.value).toEqual(await stored());
    expect(hub.posted.every((m) => JSON.stringify(m) === JSON.stringify({ type: "outbox.changed", db: "hub-outbox", user: "amina" }))).toBe(true);
  });

  it("ignores channel notices of other users and other databases", async () => {
    const hub = channelHub();
    const outbox = await open({ channel: hub.create() });
    outbox.setOnline(false);
    const other = hub.create();
    const reload = vi.spyOn(outbox, "reload");
    other.postMessage({ type: "outbox.changed", db: "hub-outbox", user: "bilal" });
    other.postMessage({ type: "outbox.changed", db: "elsewhere", user: "amina" });
    other.postMessage("garbage");
    await settle(5);
    expect(reload).not.toHaveBeenCalled();
    other.postMessage({ type: "outbox.changed", db: "hub-outbox", user: "amina" });
    await until(() => reload.mock.calls.length === 1);
  });

  it("unsent counts pending + sending", async () => {
    const gated = gatedSender();
    const outbox = await open({ send: gated.send });
    outbox.setOnline(false);
    expect(outbox.unsent.value).toBe(0);
    await outbox.enqueue(message("a"));
    await outbox.enqueue(message("b"));
    await outbox.enqueue(message("c"));
    expect(outbox.unsent.value).toBe(3);
    outbox.setOnline(true);
    await until(() => gated.waiting.length === 1);
    expect(outbox.items.value.map((i) => i.status)).toEqual(["sending", "pending", "pending"]);
    expect(outbox.unsent.value).toBe(3);
    gated.waiting[0]?.resolve(refused(422));
    await until(() => gated.waiting.length === 2);
    expect(outbox.unsent.value).toBe(2); // failed is not unsent
    gated.waiting[1]?.resolve(ok());
    await until(() => gated.waiting.length === 3);
    expect(outbox.unsent.value).toBe(1);
    gated.waiting[2]?.resolve(ok());
    await outbox.flush();
    expect(outbox.unsent.value).toBe(0);
    expect(outbox.items.value.map((i) => i.status)).toEqual(["failed", "sent", "sent"]);
  });
});

// --- officer actions -----------------------------------------------------------------------

describe("retry, discard, prune, forScope, close", () => {
  it("retry: a failed item goes back to pending, due now, and is sent", async () => {
    let n = 0;
    const sender = scripted(() => (++n === 1 ? refused(409, "conflict", "Not now") : ok({ again: true })));
    const outbox = await open({ send: sender.send });
    const a = await outbox.enqueue(message("a"));
    await outbox.flush();
    expect((await storedItem(a.id))?.status).toBe("failed");
    clock.advance(10_000);
    await outbox.retry(a.id);
    await outbox.flush();
    expect(await storedItem(a.id)).toMatchObject({ status: "sent", attempts: 2, result: { again: true }, sentAt: T0 + 10_000 });
    expect(sender.calls.map((c) => c.id)).toEqual([a.id, a.id]);
  });

  it("retry: a pending item waiting on backoff is tried now", async () => {
    let n = 0;
    const sender = scripted(() => (++n === 1 ? network : ok()));
    const outbox = await open({ send: sender.send });
    const a = await outbox.enqueue(message("a"));
    await outbox.flush();
    expect((await storedItem(a.id))?.nextAttemptAt).toBe(T0 + 1000);
    await outbox.retry(a.id);
    expect((await storedItem(a.id))?.nextAttemptAt).toBeLessThanOrEqual(T0);
    await outbox.flush();
    expect((await storedItem(a.id))?.status).toBe("sent");
  });

  it("discard removes a failed item and leaves unsent ones alone", async () => {
    const sender = scripted((item) => (item.label === "bad" ? refused(422) : network));
    const outbox = await open({ send: sender.send });
    const bad = await outbox.enqueue(message("bad"));
    const waiting = await outbox.enqueue(message("waiting"));
    await outbox.flush();
    expect(outbox.items.value.map((i) => i.status)).toEqual(["failed", "pending"]);
    await outbox.discard(bad.id);
    await outbox.discard(waiting.id);
    expect(outbox.items.value.map((i) => i.id)).toEqual([waiting.id]);
    expect((await stored()).map((i) => i.id)).toEqual([waiting.id]);
  });

  it("prune deletes sent items older than the given age, nothing else", async () => {
    const sender = scripted((item) => (item.label === "bad" ? refused(422) : ok()));
    const outbox = await open({ send: sender.send });
    const old = await outbox.enqueue(message("old"));
    await outbox.flush();
    clock.advance(60 * 60_000);
    const recent = await outbox.enqueue(message("recent"));
    await outbox.flush();
    const bad = await outbox.enqueue(message("bad"));
    await outbox.flush();
    outbox.setOnline(false);
    const pending = await outbox.enqueue(message("pending"));
    clock.advance(60_000);
    await outbox.prune(30 * 60_000);
    expect(outbox.items.value.map((i) => i.id)).toEqual([recent.id, bad.id, pending.id]);
    expect((await stored()).map((i) => i.id)).not.toContain(old.id);
  });

  it("forScope lists this user's items of one screen in send order", async () => {
    const outbox = await open();
    outbox.setOnline(false);
    const a = await outbox.enqueue(message("a", { scope: "incident:WDH-2026-0001" }));
    await outbox.enqueue({ ...message("ack"), kind: "ack", path: "/alerts/12/acknowledge", scope: "alert:12" });
    const c = await outbox.enqueue(message("c", { scope: "incident:WDH-2026-0001" }));
    expect(outbox.forScope("incident:WDH-2026-0001").map((i) => i.id)).toEqual([a.id, c.id]);
    expect(outbox.forScope("alert:12").map((i) => i.label)).toEqual(["ack"]);
    expect(outbox.forScope("crossing:WDH")).toEqual([]);
  });

  it("close stops its timers and refuses new items; what was stored stays", async () => {
    const outbox = await open({ send: scripted(() => network).send });
    const a = await outbox.enqueue(message("a"));
    await outbox.flush();
    expect(clock.timers.size).toBe(1);
    outbox.close();
    expect(clock.timers.size).toBe(0);
    await expect(outbox.enqueue(message("b"))).rejects.toThrow(/closed/);
    expect((await stored()).map((i) => i.id)).toEqual([a.id]);
  });

  it("a send in flight when the outbox closes still records its answer", async () => {
    const gated = gatedSender();
    const outbox = await open({ send: gated.send });
    const a = await outbox.enqueue(message("a"));
    await until(() => gated.waiting.length === 1);
    outbox.close();
    gated.waiting[0]?.resolve(ok());
    await outbox.flush();
    expect((await storedItem(a.id))?.status).toBe("sent");
  });

  it("asks for persistent storage at open, ignoring a refusal", async () => {
    const persist = vi.fn(() => Promise.reject(new Error("not allowed")));
    Object.defineProperty(navigator, "storage", { value: { persist }, configurable: true });
    try {
      const outbox = await open();
      expect(persist).toHaveBeenCalledTimes(1);
      expect(outbox.items.value).toEqual([]);
      Object.defineProperty(navigator, "storage", {
        value: {
          persist: () => {
            throw new Error("sync failure");
          },
        },
        configurable: true,
      });
      await open({ user: "bilal" });
    } finally {
      delete (navigator as unknown as Record<string, unknown>).storage;
    }
  });
});

// --- defaultRetryable, fetchSender ---------------------------------------------------------

describe("defaultRetryable", () => {
  it("retries 408, 429 and 5xx; not other 4xx", () => {
    for (const s of [408, 429, 500, 502, 503, 504, 599]) {
      expect(defaultRetryable(s)).toBe(true);
    }
    for (const s of [400, 401, 403, 404, 409, 413, 422]) {
      expect(defaultRetryable(s)).toBe(false);
    }
  });
});

describe("fetchSender", () => {
  const item: OutboxItem = rawItem({
    method: "POST",
    path: "/incidents/WDH-2026-0001/messages",
    body: { body: "hello", client_msg_id: "00000000-0000-4000-8000-000000000001" },
  });

  function json(status: number, data: unknown, init: ResponseInit = {}): Response {
    return new Response(JSON.stringify(data), { status, headers: { "Content-Type": "application/json" }, ...init });
  }

  it("sends the item as a JSON request under /api/v1 with the CSRF token", async () => {
    const fetch = vi.fn(async (..._args: Parameters<typeof globalThis.fetch>) => json(201, { id: 5, seq: 9 }));
    const send = fetchSender({ csrf: () => "tok123", fetch });
    expect(await send(item)).toEqual({ kind: "ok", status: 201, data: { id: 5, seq: 9 } });
    expect(fetch).toHaveBeenCalledTimes(1);
    const [url, init] = fetch.mock.calls[0]!;
    expect(url).toBe("/api/v1/incidents/WDH-2026-0001/messages");
    expect(init).toMatchObject({
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": "tok123" },
      credentials: "same-origin",
    });
    expect(JSON.parse(String(init?.body))).toEqual(item.body);
  });

  it("uses the given base and method; an empty 2xx body is null", async () => {
    const fetch = vi.fn(async (..._args: Parameters<typeof globalThis.fetch>) => new Response(null, { status: 204 }));
    const send = fetchSender({ base: "https://hub.example/api/v1", csrf: () => "t", fetch });
    expect(await send({ ...item, method: "PATCH", path: "/alerts/12" })).toEqual({ kind: "ok", status: 204, data: null });
    expect(fetch.mock.calls[0]?.[0]).toBe("https://hub.example/api/v1/alerts/12");
    expect(fetch.mock.calls[0]?.[1]?.method).toBe("PATCH");
  });

  it("parses the hub's error shape", async () => {
    const errors = [{ loc: ["body", "body"], msg: "String should have at most 10000 characters", type: "string_too_long" }];
    const fetch = vi.fn(async () => json(422, { code: "invalid_request", detail: "body: too long", errors }));
    const send = fetchSender({ csrf: () => "t", fetch });
    expect(await send(item)).toEqual({
      kind: "refused",
      status: 422,
      error: { status: 422, code: "invalid_request", detail: "body: too long", errors },
    });
  });

  it("falls back to the status text when the answer is not the hub's shape", async () => {
    const fetch = vi.fn(async () => new Response("<html>bad gateway</html>", { status: 502, statusText: "Bad Gateway" }));
    const send = fetchSender({ csrf: () => "t", fetch });
    expect(await send(item)).toEqual({ kind: "refused", status: 502, error: { status: 502, code: "error", detail: "Bad Gateway" } });
    expect(errorFrom(500, "", null)).toEqual({ status: 500, code: "error", detail: "HTTP 500" });
  });

  it("reads Retry-After", async () => {
    const fetch = vi.fn(async () => json(503, { code: "unavailable", detail: "later" }, { headers: { "Retry-After": "5" } }));
    const result = await fetchSender({ csrf: () => "t", fetch })(item);
    expect(result).toMatchObject({ kind: "refused", status: 503, retryAfterMs: 5000 });
  });

  it("a thrown fetch, or a body cut off mid-way, is a network failure", async () => {
    const thrown = fetchSender({ csrf: () => "t", fetch: vi.fn(() => Promise.reject(new TypeError("Failed to fetch"))) });
    expect(await thrown(item)).toEqual({ kind: "network" });
    const cut = {
      ok: true,
      status: 201,
      statusText: "Created",
      headers: new Headers(),
      text: () => Promise.reject(new TypeError("network error")),
    } as unknown as Response;
    const cutOff = fetchSender({ csrf: () => "t", fetch: vi.fn(async () => cut) });
    expect(await cutOff(item)).toEqual({ kind: "network" });
  });

  it("no answer within the timeout is a network failure (and the request is aborted)", async () => {
    vi.useFakeTimers();
    try {
      let signal: AbortSignal | undefined;
      const fetch = vi.fn((_url: RequestInfo | URL, init?: RequestInit) => {
        signal = init?.signal ?? undefined;
        return new Promise<Response>(() => undefined); // never answers, ignores the abort
      });
      const result = fetchSender({ csrf: () => "t", fetch, timeoutMs: 10_000 })(item);
      await vi.advanceTimersByTimeAsync(10_000);
      expect(await result).toEqual({ kind: "network" });
      expect(signal?.aborted).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it("on 403 csrf_failed refreshes the token and tries once more", async () => {
    let token = "stale";
    const refreshCsrf = vi.fn(async () => {
      token = "fresh";
    });
    const fetch = vi.fn(async (_url: RequestInfo | URL, init?: RequestInit) =>
      (init?.headers as Record<string, string>)["X-CSRFToken"] === "fresh"
        ? json(201, { ok: true })
        : json(403, { code: "csrf_failed", detail: "CSRF check failed: send the X-CSRFToken header." }),
    );
    const send = fetchSender({ csrf: () => token, refreshCsrf, fetch });
    expect(await send(item)).toEqual({ kind: "ok", status: 201, data: { ok: true } });
    expect(refreshCsrf).toHaveBeenCalledTimes(1);
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  it("retries a CSRF failure only once, and not other 403s", async () => {
    const csrf = vi.fn(async () => json(403, { code: "csrf_failed", detail: "CSRF check failed" }));
    const refreshCsrf = vi.fn(async () => undefined);
    expect(await fetchSender({ csrf: () => "t", refreshCsrf, fetch: csrf })(item)).toMatchObject({
      kind: "refused",
      status: 403,
      error: { code: "csrf_failed" },
    });
    expect(csrf).toHaveBeenCalledTimes(2);
    expect(refreshCsrf).toHaveBeenCalledTimes(1);

    const forbidden = vi.fn(async () => json(403, { code: "forbidden", detail: "Not a member" }));
    refreshCsrf.mockClear();
    await fetchSender({ csrf: () => "t", refreshCsrf, fetch: forbidden })(item);
    expect(forbidden).toHaveBeenCalledTimes(1);
    expect(refreshCsrf).not.toHaveBeenCalled();
  });

  it("a CSRF refresh that fails (no network) is a network failure", async () => {
    const fetch = vi.fn(async () => json(403, { code: "csrf_failed", detail: "CSRF check failed" }));
    const send = fetchSender({ csrf: () => "t", refreshCsrf: () => Promise.reject(new TypeError("offline")), fetch });
    expect(await send(item)).toEqual({ kind: "network" });
  });

  it("drives the outbox end to end: 422 final, 503 retried, 201 sent", async () => {
    const answers = [
      json(422, { code: "invalid_request", detail: "body: required" }),
      json(503, { code: "unavailable", detail: "The database is unavailable" }, { headers: { "Retry-After": "5" } }),
      json(201, { seq: 3 }),
    ];
    const fetch = vi.fn(async () => answers.shift()!);
    const outbox = await open({ send: fetchSender({ csrf: () => "t", fetch }) });
    outbox.setOnline(false);
    const bad = await outbox.enqueue(message("bad"));
    const good = await outbox.enqueue(message("good"));
    outbox.setOnline(true);
    await outbox.flush();
    expect((await storedItem(bad.id))?.error).toEqual({ status: 422, code: "invalid_request", detail: "body: required" });
    expect((await storedItem(good.id))?.nextAttemptAt).toBe(T0 + 5000);
    clock.advance(5000);
    await outbox.flush();
    expect(await storedItem(good.id)).toMatchObject({ status: "sent", result: { seq: 3 } });
  });
});
