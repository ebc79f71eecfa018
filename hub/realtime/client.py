"""Reference async client for the hub's WebSocket protocol (tests, benchmarks, integrations).

It keeps the last ``seq`` of every stream, reconnects with jittered exponential
backoff (rotating through the worker URLs it was given), resubscribes with
``after=last_seq``, drops duplicates by seq, and resends its outbox of writes
with the same ``client_msg_id`` until each is acknowledged.

A ``resync_required`` is never skipped silently:
- ``too_far_behind``/``gap``: the missing events are fetched over REST (with
  ``rest_base`` and a token or cookie), then the stream is resubscribed. Without
  REST (or if it fails) the client stops following the stream and surfaces a
  ``ResyncNeeded`` (``on_resync`` callback, ``resync_needed[stream]``, and
  ``wait_for`` raises it); the caller fetches a snapshot and calls
  ``subscribe(stream, after=snapshot_seq)``.
- ``ahead_of_stream``: the server's record ends before what the client holds (a
  restored database): the client drops what it holds beyond the server's head,
  resets to that head, surfaces it, and resubscribes from there (no loop).

An unexpected exception never ends the client silently: it is logged, kept in
``last_error`` (and given to ``on_error``), and the client reconnects with backoff.

    async with HubClient(["ws://127.0.0.1:8000/ws/"], token=token) as client:
        await client.subscribe("incident:WDH-2026-0001")
        ack = await client.send_message("incident:WDH-2026-0001", "On my way")
        await client.wait_for("incident:WDH-2026-0001", ack["seq"])
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import urllib.parse
import urllib.request
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.typing import Origin

logger = logging.getLogger(__name__)

# Events per REST page when catching up after resync_required: the API's maximum
# (hub.events.selectors.MAX_PAGE; this client imports nothing of the server's).
REST_PAGE = 2000
TERMINAL_CLOSE_CODES = {4401}  # signed out: retrying will not help
EventCallback = Callable[[dict[str, Any]], None]


class ResyncNeeded(Exception):
    """The client could not replay ``stream`` by itself from ``after``.

    ``head`` is the server's head when it said so; ``reason`` is the server's
    (``too_far_behind``, ``gap``, ``ahead_of_stream``). Fetch a snapshot over REST
    and call ``subscribe(stream, after=<its seq>)``; for ``ahead_of_stream`` the
    client has already reset to ``head`` and carries on (``dropped`` events it
    held beyond it were discarded).
    """

    def __init__(
        self, stream: str, *, after: int, head: int, reason: str, dropped: int = 0
    ) -> None:
        super().__init__(f"{stream}: resync needed after {after} (head {head}, {reason})")
        self.stream = stream
        self.after = after
        self.head = head
        self.reason = reason
        self.dropped = dropped


ResyncCallback = Callable[[ResyncNeeded], None]
ErrorCallback = Callable[[BaseException], None]


class WriteRefused(Exception):
    def __init__(self, frame: dict[str, Any]) -> None:
        super().__init__(f"{frame.get('code')}: {frame.get('detail')}")
        self.code = frame.get("code")
        self.frame = frame


@dataclass
class ClientStats:
    connects: int = 0
    disconnects: int = 0
    duplicates_dropped: int = 0
    gaps_seen: int = 0
    resyncs: int = 0
    resets: int = 0
    failures: int = 0
    close_codes: list[int | None] = field(default_factory=list)


class HubClient:
    def __init__(
        self,
        urls: str | Sequence[str],
        *,
        token: str | None = None,
        cookie: str | None = None,
        origin: str | None = None,
        rest_base: str | None = None,
        on_event: EventCallback | None = None,
        on_resync: ResyncCallback | None = None,
        on_error: ErrorCallback | None = None,
        backoff_base: float = 0.2,
        backoff_max: float = 10.0,
        connect_timeout: float = 10.0,
    ) -> None:
        self.urls = [urls] if isinstance(urls, str) else list(urls)
        self.token = token
        self.cookie = cookie
        self.origin = origin
        self.rest_base = rest_base
        self.on_event = on_event
        self.on_resync = on_resync
        self.on_error = on_error
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.connect_timeout = connect_timeout
        self.last_seq: dict[str, int] = {}
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.presence: dict[str, dict[str, Any]] = {}
        self.revoked: set[str] = set()
        self.errors: list[dict[str, Any]] = []
        self.stats = ClientStats()
        self.terminal_close: int | None = None
        self.resync_needed: dict[str, ResyncNeeded] = {}
        self.last_error: BaseException | None = None
        self._wanted: dict[str, None] = {}
        self._live: set[str] = set()
        self._outbox: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._progress = asyncio.Condition()
        self._connected = asyncio.Event()
        self._url_index = 0
        self._reset_backoff = False

    # --- life cycle ------------------------------------------------------------------

    async def __aenter__(self) -> HubClient:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="hub-client")
        self._task.add_done_callback(self._task_ended)

    def _task_ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:  # pragma: no cover - guard
            logger.error("hub client stopped", exc_info=task.exception())

    async def stop(self) -> None:
        self._stopping = True
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        for future in self._pending.values():
            if not future.done():
                future.cancel()

    async def wait_connected(self, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout)

    async def drop_connection(self) -> None:
        """Close the socket as a network failure would; the client reconnects."""
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close(code=4000, reason="client-side drop")

    # --- API ---------------------------------------------------------------------------

    async def subscribe(self, stream: str, after: int | None = None) -> None:
        """Follow ``stream`` from ``after`` (default: what the client already holds)."""
        self.resync_needed.pop(stream, None)
        if after is not None:
            self.last_seq[stream] = max(self.last_seq.get(stream, 0), after)
        self.last_seq.setdefault(stream, 0)
        self.events.setdefault(stream, [])
        self._wanted[stream] = None
        if self._ws is not None:
            await self._send(
                {"type": "subscribe", "stream": stream, "after": self.last_seq[stream]}
            )

    async def send_message(
        self, stream: str, body: str, client_msg_id: str | None = None, timeout: float = 30.0
    ) -> dict[str, Any]:
        frame = {
            "type": "message.send",
            "stream": stream,
            "client_msg_id": client_msg_id or str(uuid.uuid4()),
            "body": body,
        }
        return await self._write(frame, timeout)

    async def ack_alert(
        self, alert_id: int, client_msg_id: str | None = None, timeout: float = 30.0
    ) -> dict[str, Any]:
        frame = {
            "type": "alert.ack",
            "alert_id": alert_id,
            "client_msg_id": client_msg_id or str(uuid.uuid4()),
        }
        return await self._write(frame, timeout)

    async def wait_for(self, stream: str, seq: int, timeout: float = 30.0) -> None:
        """Until events up to ``seq`` of ``stream`` have been delivered.

        Raises ``ResyncNeeded`` if the client had to stop following the stream first.
        """

        def done() -> bool:
            return self.last_seq.get(stream, 0) >= seq or stream in self.resync_needed

        async with self._progress:
            await asyncio.wait_for(self._progress.wait_for(done), timeout)
        if self.last_seq.get(stream, 0) < seq and stream in self.resync_needed:
            raise self.resync_needed[stream]

    def seqs(self, stream: str) -> list[int]:
        return [e["seq"] for e in self.events.get(stream, [])]

    @property
    def unacknowledged(self) -> int:
        return len(self._outbox)

    # --- internals --------------------------------------------------------------------

    async def _write(self, frame: dict[str, Any], timeout: float) -> dict[str, Any]:
        key = frame["client_msg_id"]
        future = self._pending.get(key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._pending[key] = future
        self._outbox[key] = frame
        if self._ws is not None:
            await self._send(frame)
        return await asyncio.wait_for(asyncio.shield(future), timeout)

    async def _send(self, frame: dict[str, Any]) -> None:
        ws = self._ws
        if ws is None:
            return
        with contextlib.suppress(ConnectionClosed):  # the run loop reconnects and resends
            await ws.send(json.dumps(frame))

    def _fail(self, exc: BaseException) -> None:
        self.last_error = exc
        self.stats.failures += 1
        if self.on_error is not None:
            try:
                self.on_error(exc)
            except Exception:
                logger.exception("on_error callback failed")

    def _headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.cookie:
            headers["Cookie"] = self.cookie
        return headers

    def _origin_for(self, url: str) -> str:
        if self.origin:
            return self.origin
        parts = urllib.parse.urlsplit(url)
        scheme = "https" if parts.scheme == "wss" else "http"
        return f"{scheme}://{parts.netloc}"

    async def _run(self) -> None:
        attempt = 0
        while not self._stopping:
            url = self.urls[self._url_index % len(self.urls)]
            try:
                async with connect(
                    url,
                    additional_headers=self._headers(),
                    origin=Origin(self._origin_for(url)),
                    open_timeout=self.connect_timeout,
                    max_size=2**22,
                    ping_interval=20,
                ) as ws:
                    self._ws = ws
                    self.stats.connects += 1
                    await self._session(ws)
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd is not None else None
                self.stats.close_codes.append(code)
                if code in TERMINAL_CLOSE_CODES:
                    self.terminal_close = code
                    self._fail_pending(
                        WriteRefused({"code": "unauthenticated", "detail": "signed out"})
                    )
                    return
            except (OSError, InvalidHandshake, InvalidStatus, TimeoutError) as exc:
                logger.debug("connect to %s failed: %s", url, exc)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # A surprise (a bug, a frame we cannot read): never die silently.
                logger.exception("hub client failed on %s; reconnecting", url)
                self._fail(exc)
            finally:
                if self._ws is not None:
                    self.stats.disconnects += 1
                self._ws = None
                self._live.clear()
                self._connected.clear()
            if self._stopping:
                return
            self._url_index += 1
            attempt = 1 if self._reset_backoff else attempt + 1
            self._reset_backoff = False
            delay = min(self.backoff_max, self.backoff_base * 2 ** min(attempt, 10))
            await asyncio.sleep(random.uniform(0, delay))  # noqa: S311 - full jitter

    async def _session(self, ws: ClientConnection) -> None:
        async for raw in ws:
            frame = json.loads(raw)
            kind = frame.get("type")
            if kind == "welcome":
                self._connected.set()
                for stream in list(self._wanted):
                    await self._send(
                        {
                            "type": "subscribe",
                            "stream": stream,
                            "after": self.last_seq.get(stream, 0),
                        }
                    )
                for pending in list(self._outbox.values()):
                    await self._send(pending)
            elif kind == "event":
                await self._on_event(frame)
            elif kind == "caught_up":
                self._live.add(frame["stream"])
                self._reset_backoff = True  # a working connection resets the backoff
            elif kind == "ack":
                self._settle(frame["client_msg_id"], frame)
            elif kind == "error":
                self.errors.append(frame)
                ref = frame.get("ref")
                if ref in self._outbox and frame.get("code") != "internal_error":
                    self._settle(ref, None, WriteRefused(frame))
            elif kind == "resync_required":
                await self._resync(
                    frame["stream"], int(frame.get("head", 0)), str(frame.get("reason", ""))
                )
            elif kind == "unsubscribed":
                if frame.get("reason") == "access_revoked":
                    self.revoked.add(frame["stream"])
                    self._wanted.pop(frame["stream"], None)
            elif kind == "presence":
                self.presence[frame["stream"]] = frame["online"]
        # The server closed the socket cleanly: recv() raises the ConnectionClosed
        # that carries its close code, which decides what happens next.
        await ws.recv()

    async def _on_event(self, frame: dict[str, Any]) -> None:
        stream, seq = frame["stream"], frame["seq"]
        last = self.last_seq.get(stream, 0)
        if seq <= last:
            self.stats.duplicates_dropped += 1
            return
        if seq != last + 1:
            # The server never does this; if it ever did, replay closes the gap.
            self.stats.gaps_seen += 1
            await self._send({"type": "subscribe", "stream": stream, "after": last})
            return
        self.events.setdefault(stream, []).append(frame)
        self.last_seq[stream] = seq
        if self.on_event is not None:
            self.on_event(frame)
        async with self._progress:
            self._progress.notify_all()

    def _settle(
        self, key: str, ack: dict[str, Any] | None, error: BaseException | None = None
    ) -> None:
        self._outbox.pop(key, None)
        future = self._pending.pop(key, None)
        if future is None or future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(ack or {})

    def _fail_pending(self, error: BaseException) -> None:
        for key in list(self._pending):
            self._settle(key, None, error)

    def _surface(self, needed: ResyncNeeded) -> None:
        logger.warning("%s", needed)
        if self.on_resync is not None:
            try:
                self.on_resync(needed)
            except Exception:
                logger.exception("on_resync callback failed")

    async def _give_up_on(self, needed: ResyncNeeded) -> None:
        """Stop following the stream until the caller subscribes again."""
        self._wanted.pop(needed.stream, None)
        self.resync_needed[needed.stream] = needed
        self._surface(needed)
        async with self._progress:
            self._progress.notify_all()

    def _can_fetch(self) -> bool:
        return self.rest_base is not None and bool(self.token or self.cookie)

    async def _resync(self, stream: str, head: int, reason: str) -> None:
        """Catch up from our last seq over REST, then subscribe again; never skip ahead."""
        self.stats.resyncs += 1
        last = self.last_seq.get(stream, 0)
        if reason == "ahead_of_stream" or last > head:
            # The record ends before what we hold: keep what it still has, say so,
            # and follow it from its head (resubscribing from ``last`` would loop).
            held = self.events.get(stream, [])
            kept = [e for e in held if e["seq"] <= head]
            self.events[stream] = kept
            self.last_seq[stream] = head
            self.stats.resets += 1
            self._surface(
                ResyncNeeded(
                    stream, after=last, head=head, reason=reason, dropped=len(held) - len(kept)
                )
            )
        elif not self._can_fetch():
            await self._give_up_on(ResyncNeeded(stream, after=last, head=head, reason=reason))
            return
        else:
            try:
                await self._fetch_missing(stream, head)
            except Exception as exc:
                logger.warning("REST catch-up of %s failed: %s", stream, exc)
                await self._give_up_on(
                    ResyncNeeded(
                        stream, after=self.last_seq.get(stream, 0), head=head, reason=reason
                    )
                )
                return
            if self.last_seq.get(stream, 0) < head:
                # REST did not bring us to the head the server named: do not spin.
                await self._give_up_on(
                    ResyncNeeded(
                        stream, after=self.last_seq.get(stream, 0), head=head, reason=reason
                    )
                )
                return
        await self._send(
            {"type": "subscribe", "stream": stream, "after": self.last_seq.get(stream, 0)}
        )

    async def _fetch_missing(self, stream: str, head: int) -> None:
        after = self.last_seq.get(stream, 0)
        while True:
            page = await asyncio.to_thread(self._fetch_page, stream, after)
            for event in page["events"]:
                await self._on_event({"type": "event", **event})
            if page.get("next_after") is None or self.last_seq.get(stream, 0) >= head:
                return
            after = page["next_after"]

    def _fetch_page(self, stream: str, after: int) -> dict[str, Any]:
        assert self.rest_base is not None
        query = urllib.parse.urlencode({"after": after, "limit": REST_PAGE})
        path = urllib.parse.quote(stream, safe=":")
        headers = {"Accept": "application/json", **self._headers()}
        request = urllib.request.Request(  # noqa: S310 - our own server, http(s) only
            f"{self.rest_base}/api/v1/streams/{path}/events?{query}", headers=headers
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            data: dict[str, Any] = json.load(response)
        return data
