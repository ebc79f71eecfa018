"""The publish side of the live path: "something new on stream S".

The database is the record; the bus only carries notifications, at most once.
With ``REDIS_URL`` the bus is Redis pub/sub, shared by every worker; without it
an in-process bus hands messages to listeners in this process (the embedded,
single-process default). Publishing never raises: a lost notification costs a
client nothing but latency, because clients resume from their last ``seq`` and
workers reconcile with the database.

Channels: ``<prefix>:stream:<stream name>`` carries pre-encoded frames, each
behind a one-line header (``stream_message``): ``E<seq>`` for an event frame,
``P`` for presence, ``T<connection id>`` for typing, ``S`` for a ``seen`` frame
(``hub.events.reads``), and ``N`` for an incident notice on a ``crossing:``
stream (``hub.events.notices``; workers filter it by reader). ``<prefix>:control``
carries control messages (access changes, mention notices) for every worker.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

Listener = Callable[[str, str], None]


def stream_channel(stream: str) -> str:
    return f"{settings.HUB_REDIS_PREFIX}:stream:{stream}"


def control_channel() -> str:
    return f"{settings.HUB_REDIS_PREFIX}:control"


def stream_from_channel(channel: str) -> str | None:
    marker = f"{settings.HUB_REDIS_PREFIX}:stream:"
    return channel[len(marker) :] if channel.startswith(marker) else None


def stream_message(header: str, frame: str) -> str:
    """``<header>\n<frame>``: workers route on the header without parsing the frame."""
    return f"{header}\n{frame}"


def parse_stream_message(message: str) -> tuple[str, str]:
    header, _, frame = message.partition("\n")
    return header, frame


class Bus:
    def publish(self, channel: str, message: str) -> bool:
        raise NotImplementedError

    def count(self, key: str, *, ttl: int) -> int | None:
        """Add one to a counter shared by every worker (it expires ``ttl`` seconds
        after its first count); None when there is no shared store (or it failed):
        the caller counts in its own process instead."""
        return None


class LocalBus(Bus):
    """In-process bus: listeners are called synchronously in the publishing thread.

    Listeners must be thread-safe (the realtime hub hops to its event loop with
    ``call_soon_threadsafe``).
    """

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()

    def add_listener(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def publish(self, channel: str, message: str) -> bool:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(channel, message)
            except Exception:
                logger.exception("bus listener failed for %s", channel)
        return True


class RedisBus(Bus):
    def __init__(self, url: str) -> None:
        self.url = url
        self._client: redis.Redis | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def _redis(self) -> redis.Redis:
        # A forked process must not share its parent's sockets.
        if self._client is None or self._pid != os.getpid():
            with self._lock:
                if self._client is None or self._pid != os.getpid():
                    self._client = redis.Redis.from_url(
                        self.url,
                        socket_connect_timeout=2,
                        socket_timeout=2,
                        health_check_interval=30,
                    )
                    self._pid = os.getpid()
        return self._client

    def count(self, key: str, *, ttl: int) -> int | None:
        try:
            pipe = self._redis().pipeline()
            pipe.incr(key)
            pipe.expire(key, ttl, nx=True)
            value, _ = pipe.execute()
        except redis.RedisError as exc:
            logger.warning("shared counter %s failed (counting in this process): %s", key, exc)
            return None
        return int(value)

    def publish(self, channel: str, message: str) -> bool:
        try:
            self._redis().publish(channel, message)
        except redis.RedisError as exc:
            logger.warning("publish to %s failed (clients will catch up): %s", channel, exc)
            return False
        return True


_local_bus = LocalBus()
_redis_buses: dict[str, RedisBus] = {}


def local_bus() -> LocalBus:
    return _local_bus


def get_bus() -> Bus:
    url: str | None = settings.REDIS_URL
    if not url:
        return _local_bus
    bus = _redis_buses.get(url)
    if bus is None:
        bus = _redis_buses.setdefault(url, RedisBus(url))
    return bus
