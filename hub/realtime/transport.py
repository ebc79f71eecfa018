"""How a worker process receives bus messages: one subscription per stream per process.

``RedisTransport`` holds one Redis pub/sub connection per process. It subscribes
to ``<prefix>:control`` always, and to ``<prefix>:stream:<name>`` for each stream
that has local subscribers; ``subscribe`` returns only once Redis has confirmed
the subscription, so anything published after that is seen. When the connection
drops (or the reader fails in any way), the transport reports it (the hub then
feeds its sockets from the database and refuses new ones with 4503), reconnects
by itself with backoff, and re-subscribes.

Bookkeeping is synchronous and reference-counted: each successful ``subscribe``
holds one reference to its channel until the matching ``unsubscribe``; a failed
``subscribe`` holds none. Redis is told to unsubscribe in the background, and
only if nobody took a new reference meanwhile; acknowledgements are matched to
the commands in the order Redis answers them, so a subscribe that races a
pending unsubscribe waits for its own confirmation instead of trusting a stale
one. After an outage only the channels still referenced are subscribed again.

``LocalTransport`` does the same for the embedded, single-process default on
top of the in-process bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable

import redis
import redis.asyncio as aioredis
from redis.asyncio.client import PubSub

from hub.events.bus import control_channel, local_bus

logger = logging.getLogger(__name__)

OnMessage = Callable[[str, str], Awaitable[None]]
OnStateChange = Callable[[bool, str], Awaitable[None]]
SUBSCRIBE_TIMEOUT = 5.0


class LiveFeedUnavailable(Exception):
    """The bus is down: no live deliveries until it returns."""


class Transport:
    healthy: bool = False
    description: str = ""

    async def start(self, on_message: OnMessage, on_state: OnStateChange) -> None:
        raise NotImplementedError

    async def subscribe(self, channel: str) -> None:
        """Hold a reference to ``channel``; returns once messages published from now on
        are received (raises LiveFeedUnavailable, holding nothing, if it cannot)."""
        raise NotImplementedError

    def unsubscribe(self, channel: str) -> None:
        """Release one reference taken by a successful ``subscribe`` (synchronous)."""
        raise NotImplementedError

    @property
    def wanted(self) -> frozenset[str]:
        """Channels with at least one reference (the control channel included)."""
        raise NotImplementedError

    async def publish(self, channel: str, message: str) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError


class LocalTransport(Transport):
    """In-process bus. Publishers may call from any thread; delivery happens here, in order."""

    description = "in-process"

    def __init__(self) -> None:
        self._queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._refs: dict[str, int] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._on_message: OnMessage | None = None

    def _listener(self, channel: str, message: str) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop is shutting down
            loop.call_soon_threadsafe(self._queue.put_nowait, (channel, message))

    async def start(self, on_message: OnMessage, on_state: OnStateChange) -> None:
        self._loop = asyncio.get_running_loop()
        self._on_message = on_message
        self._refs[control_channel()] = 1
        local_bus().add_listener(self._listener)
        self._task = asyncio.create_task(self._run(), name="hub-local-transport")
        self.healthy = True
        await on_state(True, "in-process bus")

    async def _run(self) -> None:
        assert self._on_message is not None
        while True:
            channel, message = await self._queue.get()
            if channel not in self._refs:
                continue
            try:
                await self._on_message(channel, message)
            except Exception:
                logger.exception("handling %s failed", channel)

    async def subscribe(self, channel: str) -> None:
        self._refs[channel] = self._refs.get(channel, 0) + 1

    def unsubscribe(self, channel: str) -> None:
        count = self._refs.get(channel, 0) - 1
        if count > 0:
            self._refs[channel] = count
        else:
            self._refs.pop(channel, None)

    @property
    def wanted(self) -> frozenset[str]:
        return frozenset(self._refs)

    async def publish(self, channel: str, message: str) -> None:
        local_bus().publish(channel, message)

    async def stop(self) -> None:
        local_bus().remove_listener(self._listener)
        if self._task is not None:
            self._task.cancel()
        self.healthy = False


class RedisTransport(Transport):
    def __init__(self, url: str) -> None:
        self.url = url
        self.description = "redis"
        self._refs: dict[str, int] = {}
        # Channels Redis confirmed, with no command of ours still unanswered.
        self._confirmed: set[str] = set()
        # Per channel, the acknowledgements still due, in the order Redis sends them.
        self._inflight: dict[str, deque[str]] = {}
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._pubsub: PubSub | None = None
        self._client: aioredis.Redis | None = None
        self._publisher: aioredis.Redis | None = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._on_message: OnMessage | None = None
        self._on_state: OnStateChange | None = None
        self._stopping = False
        self._started = asyncio.Event()
        self._background: set[asyncio.Task[None]] = set()

    async def start(self, on_message: OnMessage, on_state: OnStateChange) -> None:
        self._on_message = on_message
        self._on_state = on_state
        self._refs[control_channel()] = 1  # pinned: never released
        # A reconnect storm asks for many connections at once: wait for a free
        # one (up to a few seconds) rather than fail.
        pool = aioredis.BlockingConnectionPool.from_url(
            self.url, max_connections=64, timeout=5, socket_connect_timeout=2, socket_timeout=2
        )
        self._publisher = aioredis.Redis(connection_pool=pool)
        self._task = asyncio.create_task(self._run(), name="hub-redis-transport")
        # Give the first connection a moment so the first socket is not refused.
        try:
            await asyncio.wait_for(self._started.wait(), timeout=3)
        except TimeoutError:
            logger.warning("Redis not reachable yet; live feed unavailable until it is")

    @property
    def wanted(self) -> frozenset[str]:
        return frozenset(self._refs)

    async def _deliver(self, channel: str, data: str) -> None:
        assert self._on_message is not None
        try:
            await self._on_message(channel, data)
        except Exception:
            # One bad message must not take the reader (and every socket) down.
            logger.exception("handling %s failed", channel)

    async def _connect(self) -> PubSub:
        # socket_timeout=None: a quiet pub/sub connection must not time out
        # (redis-py's default equals channels_redis' brpop timeout, channels_redis#422).
        self._client = aioredis.Redis.from_url(
            self.url, socket_connect_timeout=2, socket_timeout=None, health_check_interval=5
        )
        pubsub = self._client.pubsub()
        channels = sorted(self._refs)
        await pubsub.subscribe(*channels)
        pending = set(channels)
        while pending:
            message = await asyncio.wait_for(
                pubsub.get_message(ignore_subscribe_messages=False, timeout=SUBSCRIBE_TIMEOUT),
                timeout=SUBSCRIBE_TIMEOUT + 1,
            )
            if message is None:
                raise redis.ConnectionError("no subscribe confirmation from Redis")
            if message["type"] == "subscribe":
                pending.discard(_text(message["channel"]))
            elif message["type"] == "message":
                await self._deliver(_text(message["channel"]), _text(message["data"]))
        self._confirmed = set(channels)
        self._inflight.clear()
        return pubsub

    async def _run(self) -> None:
        backoff = 0.1
        while not self._stopping:
            try:
                async with self._lock:
                    self._pubsub = await self._connect()
                self.healthy = True
                self._started.set()
                backoff = 0.1
                for channel in list(self._waiters):
                    if channel in self._confirmed:
                        self._resolve(channel)
                for channel in self._confirmed - set(self._refs):
                    # Released while we were connecting: tell Redis now.
                    self._confirmed.discard(channel)
                    task = asyncio.create_task(self._send_unsubscribe(channel))
                    self._background.add(task)
                    task.add_done_callback(self._background.discard)
                assert self._on_state is not None
                await self._on_state(True, "connected to Redis")
                await self._read(self._pubsub)
            except asyncio.CancelledError:
                raise
            except (redis.RedisError, OSError, TimeoutError) as exc:
                await self._lost(f"lost Redis: {exc}", exc)
                await asyncio.sleep(backoff + random.uniform(0, backoff))  # noqa: S311
                backoff = min(backoff * 2, 2.0)
            except Exception as exc:
                # Not a network error, but the reader is gone all the same: say so
                # (new sockets refused with 4503, /readyz red) and start again.
                logger.exception("Redis transport failed unexpectedly; restarting it")
                await self._lost(f"live feed failed: {type(exc).__name__}", exc)
                await asyncio.sleep(1 + random.uniform(0, 1))  # noqa: S311

    async def _lost(self, reason: str, exc: BaseException) -> None:
        was_healthy = self.healthy
        self.healthy = False
        self._confirmed.clear()
        self._inflight.clear()
        self._fail_waiters(exc)
        # The hub hears of it first: closing a connection to a Redis that times out
        # (rather than refuses) can itself take seconds.
        if was_healthy and self._on_state is not None:
            logger.error("%s; reconnecting", reason)
            try:
                await self._on_state(False, reason)
            except Exception:
                logger.exception("reporting the lost live feed failed")
        await self._close_client()

    async def _read(self, pubsub: PubSub) -> None:
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=False, timeout=1.0)
            if message is None:
                continue
            kind = message["type"]
            channel = _text(message["channel"])
            if kind == "message":
                await self._deliver(channel, _text(message["data"]))
            elif kind == "subscribe":
                self._acknowledged(channel, "s")
            elif kind == "unsubscribe":
                self._acknowledged(channel, "u")

    def _acknowledged(self, channel: str, kind: str) -> None:
        due = self._inflight.get(channel)
        if due:
            due.popleft()
            if not due:
                del self._inflight[channel]
        if kind == "u" or (due and "u" in due):
            # Unsubscribed (or about to be): a later "s" will confirm it again.
            self._confirmed.discard(channel)
            return
        if channel in self._refs:
            self._confirmed.add(channel)
            self._resolve(channel)

    def _resolve(self, channel: str) -> None:
        for waiter in self._waiters.pop(channel, []):
            if not waiter.done():
                waiter.set_result(None)

    def _fail_waiters(self, exc: BaseException) -> None:
        waiters, self._waiters = self._waiters, {}
        for futures in waiters.values():
            for waiter in futures:
                if not waiter.done():
                    waiter.set_exception(LiveFeedUnavailable(str(exc)))

    async def _close_client(self) -> None:
        pubsub, client = self._pubsub, self._client
        self._pubsub = self._client = None
        for closable in (pubsub, client):
            if closable is not None:
                try:
                    await closable.aclose()
                except Exception:  # already broken; nothing to salvage
                    logger.debug("closing a broken Redis connection failed", exc_info=True)

    async def subscribe(self, channel: str) -> None:
        """Subscribe and wait for Redis' confirmation (raises LiveFeedUnavailable)."""
        self._refs[channel] = self._refs.get(channel, 0) + 1
        try:
            if channel in self._confirmed and channel not in self._inflight:
                return
            if not self.healthy or self._pubsub is None:
                raise LiveFeedUnavailable("Redis is unavailable")
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.setdefault(channel, []).append(waiter)
            async with self._lock:
                if self._pubsub is None or not self.healthy:
                    raise LiveFeedUnavailable("Redis is unavailable")
                if channel in self._confirmed and channel not in self._inflight:
                    self._resolve(channel)
                else:
                    # Our own command: its acknowledgement, not an older one, confirms it.
                    self._inflight.setdefault(channel, deque()).append("s")
                    await self._pubsub.subscribe(channel)
            await asyncio.wait_for(waiter, timeout=SUBSCRIBE_TIMEOUT)
        except (redis.RedisError, OSError, TimeoutError) as exc:
            self.unsubscribe(channel)
            raise LiveFeedUnavailable(str(exc)) from exc
        except BaseException:
            self.unsubscribe(channel)
            raise

    def unsubscribe(self, channel: str) -> None:
        count = self._refs.get(channel, 0) - 1
        if count > 0:
            self._refs[channel] = count
            return
        if channel not in self._refs:
            return
        del self._refs[channel]
        # From now on nobody may trust the old confirmation; Redis hears of it soon.
        self._confirmed.discard(channel)
        if self._pubsub is None or not self.healthy:
            return  # the next connection subscribes only to what is still wanted
        task = asyncio.get_running_loop().create_task(self._send_unsubscribe(channel))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _send_unsubscribe(self, channel: str) -> None:
        try:
            async with self._lock:
                if channel in self._refs or self._pubsub is None or not self.healthy:
                    return  # wanted again meanwhile (or no connection): leave it
                self._inflight.setdefault(channel, deque()).append("u")
                await self._pubsub.unsubscribe(channel)
        except (redis.RedisError, OSError) as exc:
            logger.warning("unsubscribe from %s failed: %s", channel, exc)

    async def publish(self, channel: str, message: str) -> None:
        if self._publisher is None:
            return
        try:
            await self._publisher.publish(channel, message)
        except (redis.RedisError, OSError) as exc:
            logger.warning("publish to %s failed: %s", channel, exc)

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        for task in list(self._background):
            task.cancel()
        await self._close_client()
        if self._publisher is not None:
            await self._publisher.aclose()
        self.healthy = False

    @property
    def client(self) -> aioredis.Redis | None:
        """The publisher connection (also used for presence keys)."""
        return self._publisher


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
