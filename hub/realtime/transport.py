"""How a worker process receives bus messages: one subscription per stream per process.

``RedisTransport`` holds one Redis pub/sub connection per process. It subscribes
to ``<prefix>:control`` always, and to ``<prefix>:stream:<name>`` for each stream
that has local subscribers; ``subscribe`` returns only once Redis has confirmed
the subscription, so anything published after that is seen. When the connection
drops, the transport reports it (the hub then closes every socket with 4503, so
clients resume elsewhere or later), reconnects by itself with backoff, and
re-subscribes.

``LocalTransport`` does the same for the embedded, single-process default on
top of the in-process bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
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
        raise NotImplementedError

    async def unsubscribe(self, channel: str) -> None:
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
        self._channels: set[str] = set()
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
        self._channels.add(control_channel())
        local_bus().add_listener(self._listener)
        self._task = asyncio.create_task(self._run(), name="hub-local-transport")
        self.healthy = True
        await on_state(True, "in-process bus")

    async def _run(self) -> None:
        assert self._on_message is not None
        while True:
            channel, message = await self._queue.get()
            if channel not in self._channels:
                continue
            try:
                await self._on_message(channel, message)
            except Exception:
                logger.exception("handling %s failed", channel)

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)

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
        self._wanted: set[str] = set()
        self._confirmed: set[str] = set()
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

    async def start(self, on_message: OnMessage, on_state: OnStateChange) -> None:
        self._on_message = on_message
        self._on_state = on_state
        self._wanted.add(control_channel())
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

    async def _connect(self) -> PubSub:
        # socket_timeout=None: a quiet pub/sub connection must not time out
        # (redis-py's default equals channels_redis' brpop timeout, channels_redis#422).
        self._client = aioredis.Redis.from_url(
            self.url, socket_connect_timeout=2, socket_timeout=None, health_check_interval=5
        )
        pubsub = self._client.pubsub()
        channels = sorted(self._wanted)
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
            elif message["type"] == "message" and self._on_message is not None:
                await self._on_message(_text(message["channel"]), _text(message["data"]))
        self._confirmed = set(channels)
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
                assert self._on_state is not None
                await self._on_state(True, "connected to Redis")
                await self._read(self._pubsub)
            except asyncio.CancelledError:
                raise
            except (redis.RedisError, OSError, TimeoutError) as exc:
                was_healthy = self.healthy
                self.healthy = False
                self._confirmed.clear()
                self._fail_waiters(exc)
                await self._close_client()
                if was_healthy and self._on_state is not None:
                    logger.error("lost Redis (%s); closing live sockets, reconnecting", exc)
                    await self._on_state(False, f"lost Redis: {exc}")
                await asyncio.sleep(backoff + random.uniform(0, backoff))  # noqa: S311
                backoff = min(backoff * 2, 2.0)
            except Exception:
                logger.exception("Redis transport failed unexpectedly; restarting it")
                self.healthy = False
                await self._close_client()
                await asyncio.sleep(1)

    async def _read(self, pubsub: PubSub) -> None:
        assert self._on_message is not None
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=False, timeout=1.0)
            if message is None:
                continue
            kind = message["type"]
            channel = _text(message["channel"])
            if kind == "message":
                try:
                    await self._on_message(channel, _text(message["data"]))
                except Exception:
                    logger.exception("handling %s failed", channel)
            elif kind == "subscribe":
                self._confirmed.add(channel)
                self._resolve(channel)
            elif kind == "unsubscribe":
                self._confirmed.discard(channel)

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
        self._wanted.add(channel)
        if channel in self._confirmed:
            return
        if not self.healthy or self._pubsub is None:
            raise LiveFeedUnavailable("Redis is unavailable")
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(channel, []).append(waiter)
        try:
            async with self._lock:
                if self._pubsub is None:
                    raise LiveFeedUnavailable("Redis is unavailable")
                await self._pubsub.subscribe(channel)
            await asyncio.wait_for(waiter, timeout=SUBSCRIBE_TIMEOUT)
        except (redis.RedisError, OSError, TimeoutError) as exc:
            raise LiveFeedUnavailable(str(exc)) from exc

    async def unsubscribe(self, channel: str) -> None:
        self._wanted.discard(channel)
        self._confirmed.discard(channel)
        if self._pubsub is None or not self.healthy:
            return
        try:
            async with self._lock:
                if self._pubsub is not None:
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
