import { describe, expect, it } from "vitest";
import { Feeds } from "./feeds";
import type { FeedSocket } from "./feeds";
import type { EventFrame } from "./protocol";

type Handlers = Parameters<FeedSocket["subscribe"]>[1];

class FakeSocket implements FeedSocket {
  readonly lastSeq = new Map<string, number>();
  readonly handlers = new Map<string, Handlers>();
  readonly log: string[] = [];
  subscribe(stream: string, handlers: Handlers, after?: number): void {
    this.handlers.set(stream, handlers);
    this.lastSeq.set(stream, after ?? 0);
    this.log.push(`subscribe ${stream} ${after}`);
  }
  unsubscribe(stream: string): void {
    this.handlers.delete(stream);
    this.log.push(`unsubscribe ${stream}`);
  }
  resume(stream: string, after: number): void {
    this.log.push(`resume ${stream} ${after}`);
  }
  deliver(stream: string, seq: number): void {
    this.lastSeq.set(stream, seq);
    this.handlers.get(stream)?.event?.({ type: "event", stream, seq, kind: "message.posted", at: "", actor: null, payload: {} } as EventFrame);
  }
}

describe("Feeds", () => {
  it("shares one subscription between listeners and ends it with the last", () => {
    const socket = new FakeSocket();
    const feeds = new Feeds(socket);
    const a: number[] = [];
    const b: number[] = [];
    const stopA = feeds.follow("incident:X", { after: 3, event: (e) => a.push(e.seq) });
    socket.deliver("incident:X", 4);
    const stopB = feeds.follow("incident:X", { after: 4, event: (e) => b.push(e.seq) });
    socket.deliver("incident:X", 5);
    stopA();
    socket.deliver("incident:X", 6);
    stopB();
    expect(a).toEqual([4, 5]);
    expect(b).toEqual([5, 6]);
    expect(socket.log).toEqual(["subscribe incident:X 3", "unsubscribe incident:X"]);
  });

  it("replays buffered events to a later listener, and names the gap it must fetch", () => {
    const socket = new FakeSocket();
    const feeds = new Feeds(socket);
    feeds.follow("incident:X", { after: 10 });
    socket.deliver("incident:X", 11);
    socket.deliver("incident:X", 12);
    const got: number[] = [];
    const gaps: [number, number][] = [];
    feeds.follow("incident:X", { after: 5, event: (e) => got.push(e.seq), gap: (from, to) => gaps.push([from, to]) });
    expect(got).toEqual([11, 12]);
    expect(gaps).toEqual([[5, 10]]);
  });

  it("routes read receipts and presence to the stream's listeners", () => {
    const socket = new FakeSocket();
    const feeds = new Feeds(socket);
    const frames: string[] = [];
    feeds.follow("incident:X", { after: 0, frame: (f) => frames.push(f.type), presence: () => frames.push("presence") });
    feeds.dispatch("incident:X", { type: "seen", stream: "incident:X" });
    feeds.dispatch("incident:Y", { type: "seen", stream: "incident:Y" });
    socket.handlers.get("incident:X")?.presence?.({ type: "presence", stream: "incident:X", online: {} });
    expect(frames).toEqual(["seen", "presence"]);
  });
});
