"""The reference client against a scripted server: resyncs are never silent, never loop.

Each test runs a tiny WebSocket server (``websockets``) whose handler plays the
server's side of one scenario, and, where needed, a tiny HTTP server for the
REST timeline (``GET /api/v1/streams/{stream}/events``).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from websockets.asyncio.server import ServerConnection, serve

from hub.realtime.client import HubClient, ResyncNeeded

STREAM = "incident:WDH-2026-0001"
WAIT = 20.0
Handler = Callable[[ServerConnection, int], Awaitable[None]]


def event(seq: int, stream: str = STREAM) -> dict[str, Any]:
    return {
        "type": "event",
        "stream": stream,
        "seq": seq,
        "kind": "message.posted",
        "at": "2026-01-02T00:00:00Z",
        "actor": None,
        "payload": {"message_id": seq, "body": f"m{seq}", "redacted": False},
    }


WELCOME = {"type": "welcome", "connection_id": "w-1", "user": "u", "name": "U", "agencies": []}


class Script:
    """Counts connections and the subscribe frames each one received."""

    def __init__(self, play: Handler) -> None:
        self.play = play
        self.connections = 0
        self.subscribes: list[tuple[int, int]] = []  # (connection number, after)

    async def handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        number = self.connections
        await ws.send(json.dumps(WELCOME))
        try:
            await self.play(ws, number)
        except Exception:  # the client went away
            return

    async def subscribes_of(self, ws: ServerConnection, number: int) -> AsyncIterator[int]:
        async for raw in ws:
            frame = json.loads(raw)
            if frame["type"] == "subscribe":
                self.subscribes.append((number, frame["after"]))
                yield frame["after"]


@asynccontextmanager
async def server(play: Handler) -> AsyncIterator[tuple[str, Script]]:
    script = Script(play)
    async with serve(script.handler, "127.0.0.1", 0) as srv:
        port = srv.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}/ws/", script


@contextmanager
def rest_timeline(head: int) -> Iterator[tuple[str, list[int]]]:
    """``/api/v1/streams/<stream>/events``: events 1..head, pages of 3; records ``after``s."""
    asked: list[int] = []

    class Timeline(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = parse_qs(urlsplit(self.path).query)
            after = int(query["after"][0])
            asked.append(after)
            seqs = list(range(after + 1, min(after + 3, head) + 1))
            body = {
                "stream": STREAM,
                "head": head,
                "events": [{**event(s), "prev_hash": "", "hash": ""} for s in seqs],
                "next_after": seqs[-1] if seqs and seqs[-1] < head else None,
            }
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Timeline)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", asked
    finally:
        httpd.shutdown()
        httpd.server_close()


async def eventually(check: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while not check():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


# --- too far behind ---------------------------------------------------------------------


async def test_without_rest_a_resync_is_surfaced_not_skipped() -> None:
    async def play(ws: ServerConnection, number: int) -> None:
        async for after in Script.subscribes_of(script, ws, number):
            reply = {"type": "resync_required", "stream": STREAM, "head": 9000, "reason": "x"}
            await ws.send(json.dumps({**reply, "reason": "too_far_behind"}))
            _ = after

    seen: list[ResyncNeeded] = []
    async with server(play) as (url, script):
        client = HubClient(url, token="t", on_resync=seen.append, backoff_base=0.01)
        await client.start()
        await client.subscribe(STREAM, after=2)
        with pytest.raises(ResyncNeeded) as needed:
            await client.wait_for(STREAM, 9000, timeout=WAIT)
        await client.stop()
    assert needed.value.stream == STREAM
    assert (needed.value.after, needed.value.head, needed.value.reason) == (
        2,
        9000,
        "too_far_behind",
    )
    assert client.last_seq[STREAM] == 2, "no silent jump to the head"
    assert [s.reason for s in seen] == ["too_far_behind"]
    assert script.subscribes == [(1, 2)], "the client stopped asking; it did not loop"
    assert client.resync_needed[STREAM] is needed.value


async def test_after_a_resync_the_caller_subscribes_from_its_snapshot() -> None:
    async def play(ws: ServerConnection, number: int) -> None:
        async for after in Script.subscribes_of(script, ws, number):
            if after < 100:
                await ws.send(
                    json.dumps(
                        {
                            "type": "resync_required",
                            "stream": STREAM,
                            "head": 101,
                            "reason": "too_far_behind",
                        }
                    )
                )
            else:
                for seq in range(after + 1, 102):
                    await ws.send(json.dumps(event(seq)))
                await ws.send(json.dumps({"type": "caught_up", "stream": STREAM, "seq": 101}))

    async with server(play) as (url, script):
        client = HubClient(url, backoff_base=0.01)
        await client.start()
        await client.subscribe(STREAM)
        await eventually(lambda: STREAM in client.resync_needed, "the resync to surface")
        await client.subscribe(STREAM, after=100)  # the snapshot the caller fetched
        await client.wait_for(STREAM, 101, timeout=WAIT)
        await client.stop()
    assert client.seqs(STREAM) == [101]
    assert STREAM not in client.resync_needed


async def test_with_rest_the_missing_events_are_fetched_then_it_resubscribes() -> None:
    head = 8

    async def play(ws: ServerConnection, number: int) -> None:
        async for after in Script.subscribes_of(script, ws, number):
            if after < 5:
                await ws.send(
                    json.dumps(
                        {
                            "type": "resync_required",
                            "stream": STREAM,
                            "head": head,
                            "reason": "too_far_behind",
                        }
                    )
                )
            else:
                await ws.send(json.dumps({"type": "caught_up", "stream": STREAM, "seq": after}))

    with rest_timeline(head) as (rest, asked):
        async with server(play) as (url, script):
            client = HubClient(url, token="t", rest_base=rest, backoff_base=0.01)
            await client.start()
            await client.subscribe(STREAM)
            await client.wait_for(STREAM, head, timeout=WAIT)
            await eventually(lambda: len(script.subscribes) == 2, "the resubscribe")
            await client.stop()
    assert client.seqs(STREAM) == list(range(1, head + 1))
    assert asked == [0, 3, 6]
    assert script.subscribes == [(1, 0), (1, head)]
    assert client.stats.gaps_seen == client.stats.duplicates_dropped == 0


# --- ahead of the stream ----------------------------------------------------------------


async def test_ahead_of_stream_resets_to_the_head_once_and_surfaces_it() -> None:
    async def play(ws: ServerConnection, number: int) -> None:
        async for after in Script.subscribes_of(script, ws, number):
            if number == 1:
                for seq in range(after + 1, 7):
                    await ws.send(json.dumps(event(seq)))
                await ws.send(json.dumps({"type": "caught_up", "stream": STREAM, "seq": 6}))
                await ws.close()  # the server restarts on a database restored to seq 4
                return
            if after > 4:
                await ws.send(
                    json.dumps(
                        {
                            "type": "resync_required",
                            "stream": STREAM,
                            "head": 4,
                            "reason": "ahead_of_stream",
                        }
                    )
                )
            else:
                await ws.send(json.dumps({"type": "caught_up", "stream": STREAM, "seq": 4}))
                await ws.send(json.dumps(event(5)))

    seen: list[ResyncNeeded] = []
    async with server(play) as (url, script):
        client = HubClient(url, token="t", on_resync=seen.append, backoff_base=0.01)
        await client.start()
        await client.subscribe(STREAM)
        await client.wait_for(STREAM, 6, timeout=WAIT)
        await eventually(lambda: len(script.subscribes) >= 3, "the resubscribe from the head")
        await client.wait_for(STREAM, 5, timeout=WAIT)
        await eventually(lambda: client.seqs(STREAM)[-1:] == [5], "the new event 5")
        await client.stop()
    assert script.subscribes == [(1, 0), (2, 6), (2, 4)], "reset once, no loop"
    assert [(s.reason, s.after, s.head, s.dropped) for s in seen] == [("ahead_of_stream", 6, 4, 2)]
    assert client.seqs(STREAM) == [1, 2, 3, 4, 5]
    assert client.stats.resets == 1


# --- surprises never end the client silently ------------------------------------------


async def test_an_unexpected_exception_is_surfaced_and_the_client_reconnects() -> None:
    async def play(ws: ServerConnection, number: int) -> None:
        async for after in Script.subscribes_of(script, ws, number):
            if number == 1:
                await ws.send(json.dumps({"type": "event", "stream": STREAM}))  # no seq
                await ws.wait_closed()
                return
            await ws.send(json.dumps(event(after + 1)))
            await ws.send(json.dumps({"type": "caught_up", "stream": STREAM, "seq": after + 1}))

    errors: list[BaseException] = []
    async with server(play) as (url, script):
        client = HubClient(url, token="t", on_error=errors.append, backoff_base=0.01)
        await client.start()
        await client.subscribe(STREAM)
        await client.wait_for(STREAM, 1, timeout=WAIT)
        assert client._task is not None
        assert not client._task.done()
        await client.stop()
    assert script.connections >= 2
    assert [type(e) for e in errors] == [KeyError]
    assert isinstance(client.last_error, KeyError)
    assert client.stats.failures == 1
    assert client.seqs(STREAM) == [1]


def test_the_client_asks_for_the_apis_largest_event_page() -> None:
    # Fewer, larger pages are most of a long resume's speed (bench/RESULTS.md).
    from hub.events.selectors import MAX_PAGE
    from hub.realtime.client import REST_PAGE

    assert REST_PAGE == MAX_PAGE
