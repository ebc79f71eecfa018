import { describe, expect, it } from "vitest";
import type { EventFrame } from "./protocol";
import { HubSocket } from "./socket";

class FakeSocket {
  readyState = 0;
  sent: unknown[] = [];
  onmessage: ((m: MessageEvent) => void) | null = null;
  onclose: ((c: CloseEvent) => void) | null = null;

  send(text: string): void {
    this.sent.push(JSON.parse(text));
  }

  close(): void {
    this.readyState = 3;
  }

  open(): void {
    this.readyState = 1;
    this.deliver({ type: "welcome" });
  }

  deliver(frame: unknown): void {
    this.onmessage?.({ data: JSON.stringify(frame) } as MessageEvent);
  }

  drop(code = 1006): void {
    this.readyState = 3;
    this.onclose?.({ code } as CloseEvent);
  }
}

function event(stream: string, seq: number): EventFrame {
  return {
    type: "event",
    stream,
    seq,
    kind: "message.posted",
    at: "2026-11-22T00:00:00Z",
    actor: null,
    payload: { message_id: seq, body: `m${seq}`, redacted: false },
  };
}

function harness() {
  const sockets: FakeSocket[] = [];
  const timers: Array<() => void> = [];
  const hub = new HubSocket({
    url: "ws://test/ws/",
    factory: () => {
      const s = new FakeSocket();
      sockets.push(s);
      return s as unknown as WebSocket;
    },
    random: () => 0.5,
    setTimer: (fn) => timers.push(fn),
  });
  return { hub, sockets, timers };
}

describe("HubSocket", () => {
  it("subscribes on welcome and resumes after a drop from the last seq", () => {
    const { hub, sockets, timers } = harness();
    const seen: number[] = [];
    hub.start();
    hub.subscribe("incident:A", { event: (e) => seen.push(e.seq) });
    sockets[0]!.open();
    expect(sockets[0]!.sent).toContainEqual({ type: "subscribe", stream: "incident:A", after: 0 });
    sockets[0]!.deliver(event("incident:A", 1));
    sockets[0]!.deliver(event("incident:A", 2));
    sockets[0]!.drop();
    expect(timers).toHaveLength(1);
    timers[0]!();
    sockets[1]!.open();
    expect(sockets[1]!.sent).toContainEqual({ type: "subscribe", stream: "incident:A", after: 2 });
    sockets[1]!.deliver(event("incident:A", 2)); // duplicate
    sockets[1]!.deliver(event("incident:A", 3));
    expect(seen).toEqual([1, 2, 3]);
  });

  it("never delivers out of order: a gap asks for a replay", () => {
    const { hub, sockets } = harness();
    const seen: number[] = [];
    hub.start();
    hub.subscribe("incident:A", { event: (e) => seen.push(e.seq) });
    sockets[0]!.open();
    sockets[0]!.deliver(event("incident:A", 1));
    sockets[0]!.deliver(event("incident:A", 3));
    expect(seen).toEqual([1]);
    expect(sockets[0]!.sent.at(-1)).toEqual({ type: "subscribe", stream: "incident:A", after: 1 });
  });

  it("resends unacknowledged writes with the same client_msg_id", async () => {
    const { hub, sockets, timers } = harness();
    hub.start();
    sockets[0]!.open();
    const sent = hub.sendMessage("incident:A", "hello", "cmid-1");
    expect(hub.unacknowledged).toBe(1);
    sockets[0]!.drop();
    timers[0]!();
    sockets[1]!.open();
    expect(sockets[1]!.sent).toContainEqual({
      type: "message.send",
      stream: "incident:A",
      body: "hello",
      client_msg_id: "cmid-1",
    });
    sockets[1]!.deliver({ type: "ack", client_msg_id: "cmid-1", stream: "incident:A", seq: 7 });
    await expect(sent).resolves.toMatchObject({ seq: 7 });
    expect(hub.unacknowledged).toBe(0);
  });

  it("rejects a refused write and stops on 4401", async () => {
    const statuses: string[] = [];
    const sockets: FakeSocket[] = [];
    const hub = new HubSocket({
      url: "ws://test/ws/",
      factory: () => {
        const s = new FakeSocket();
        sockets.push(s);
        return s as unknown as WebSocket;
      },
      onStatus: (s) => statuses.push(s),
      setTimer: () => {
        throw new Error("must not reconnect after 4401");
      },
    });
    hub.start();
    sockets[0]!.open();
    const refused = hub.ackAlert(5, "cmid-2");
    sockets[0]!.deliver({ type: "error", code: "forbidden", detail: "no", ref: "cmid-2" });
    await expect(refused).rejects.toMatchObject({ code: "forbidden" });
    sockets[0]!.drop(4401);
    expect(statuses).toEqual(["connecting", "live", "signed-out"]);
  });
});

describe("HubSocket subscriptions", () => {
  it("starts from scratch after unsubscribe, and ignores events of streams it left", () => {
    const { hub, sockets } = harness();
    const seen: number[] = [];
    hub.start();
    sockets[0]!.open();
    hub.subscribe("incident:A", { event: (e) => seen.push(e.seq) });
    sockets[0]!.deliver(event("incident:A", 1));
    sockets[0]!.deliver(event("incident:A", 2));
    hub.unsubscribe("incident:A");
    sockets[0]!.deliver(event("incident:A", 3)); // in flight before the unsubscribe
    expect(hub.lastSeq.has("incident:A")).toBe(false);
    hub.subscribe("incident:A", { event: (e) => seen.push(e.seq) });
    expect(sockets[0]!.sent.at(-1)).toEqual({ type: "subscribe", stream: "incident:A", after: 0 });
    sockets[0]!.deliver(event("incident:A", 1));
    expect(seen).toEqual([1, 2, 1]);
  });

  it("subscribes from a snapshot's head and resumes from a newer one on resync", () => {
    const { hub, sockets } = harness();
    const heads: number[] = [];
    hub.start();
    sockets[0]!.open();
    hub.subscribe("crossing:WDH", { resync: (head) => heads.push(head) }, 40);
    expect(sockets[0]!.sent.at(-1)).toEqual({ type: "subscribe", stream: "crossing:WDH", after: 40 });
    sockets[0]!.deliver({ type: "resync_required", stream: "crossing:WDH", head: 9000, reason: "too_far_behind" });
    expect(heads).toEqual([9000]);
    hub.resume("crossing:WDH", 9000);
    expect(sockets[0]!.sent.at(-1)).toEqual({ type: "subscribe", stream: "crossing:WDH", after: 9000 });
    expect(hub.lastSeq.get("crossing:WDH")).toBe(9000);
  });
});
