"""Who is connected: per-stream presence and per-user connection counts.

With Redis, both live in sorted sets scored by expiry time
(``<prefix>:presence:<stream>``, ``<prefix>:conns:<user id>``), so every worker
sees the same answer and a worker that dies without cleaning up ages out within
``TTL`` seconds; live workers refresh their entries every ``HEARTBEAT`` seconds.
Without Redis the same API keeps everything in this process.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import defaultdict
from dataclasses import dataclass

import redis
import redis.asyncio as aioredis

from hub.realtime.protocol import OnlineUser

TTL = 30.0
HEARTBEAT = 10.0


@dataclass(frozen=True)
class Member:
    """One socket on one stream: the user, listed under each agency through which
    they may read that stream (an officer of two agencies at a crossing point
    appears under both; never under an agency that does not serve it)."""

    conn_id: str
    user: str
    name: str
    agencies: tuple[str, ...]

    @property
    def agency(self) -> str | None:
        """The first of them (typing frames name one)."""
        return self.agencies[0] if self.agencies else None

    def encode(self) -> str:
        return json.dumps(
            [self.conn_id, self.user, self.name, list(self.agencies)], ensure_ascii=False
        )

    @staticmethod
    def decode(raw: str | bytes) -> Member | None:
        try:
            conn_id, user, name, agencies = json.loads(raw)
        except (ValueError, TypeError):
            return None
        if agencies is None:
            codes: tuple[str, ...] = ()
        elif isinstance(agencies, str):  # written by a worker of the previous release
            codes = (agencies,)
        elif isinstance(agencies, list):
            codes = tuple(str(a) for a in agencies)
        else:
            return None
        return Member(str(conn_id), str(user), str(name), codes)


def group_online(members: list[Member]) -> dict[str, list[OnlineUser]]:
    """Members grouped by agency, each user once per agency, sorted."""
    grouped: dict[str, dict[str, str]] = defaultdict(dict)
    for m in members:
        for agency in m.agencies or ("-",):
            grouped[agency][m.user] = m.name
    return {
        agency: [OnlineUser(user=u, name=n) for u, n in sorted(users.items())]
        for agency, users in sorted(grouped.items())
    }


def with_member(online: dict[str, list[OnlineUser]], member: Member) -> dict[str, list[OnlineUser]]:
    """``online`` (as ``group_online`` gives it) with ``member`` in it too."""
    grouped = {agency: {u.user: u.name for u in users} for agency, users in online.items()}
    for agency in member.agencies or ("-",):
        grouped.setdefault(agency, {})[member.user] = member.name
    return {
        agency: [OnlineUser(user=u, name=n) for u, n in sorted(users.items())]
        for agency, users in sorted(grouped.items())
    }


class PresenceStore:
    remote = False  # True when its calls are network round trips (Redis)

    async def join(self, stream: str, member: Member) -> None:
        raise NotImplementedError

    async def leave(self, stream: str, member: Member) -> None:
        raise NotImplementedError

    async def online(self, stream: str) -> dict[str, list[OnlineUser]]:
        raise NotImplementedError

    async def open_connection(self, user_id: int, conn_id: str, limit: int) -> bool:
        """Count the connection against the user's limit; False if over it."""
        raise NotImplementedError

    async def close_connection(self, user_id: int, conn_id: str) -> None:
        raise NotImplementedError

    async def heartbeat(
        self, members: list[tuple[str, Member]], connections: list[tuple[int, str]]
    ) -> None:
        return None


class LocalPresence(PresenceStore):
    def __init__(self) -> None:
        self._streams: dict[str, dict[str, Member]] = defaultdict(dict)
        self._conns: dict[int, set[str]] = defaultdict(set)

    async def join(self, stream: str, member: Member) -> None:
        self._streams[stream][member.conn_id] = member

    async def leave(self, stream: str, member: Member) -> None:
        self._streams[stream].pop(member.conn_id, None)
        if not self._streams[stream]:
            del self._streams[stream]

    async def online(self, stream: str) -> dict[str, list[OnlineUser]]:
        return group_online(list(self._streams.get(stream, {}).values()))

    async def open_connection(self, user_id: int, conn_id: str, limit: int) -> bool:
        if len(self._conns[user_id]) >= limit:
            return False
        self._conns[user_id].add(conn_id)
        return True

    async def close_connection(self, user_id: int, conn_id: str) -> None:
        self._conns[user_id].discard(conn_id)


class RedisPresence(PresenceStore):
    remote = True

    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def _stream_key(self, stream: str) -> str:
        return f"{self.prefix}:presence:{stream}"

    def _conns_key(self, user_id: int) -> str:
        return f"{self.prefix}:conns:{user_id}"

    async def join(self, stream: str, member: Member) -> None:
        key = self._stream_key(stream)
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.zadd(key, {member.encode(): time.time() + TTL})
            pipe.expire(key, int(TTL * 2))
            await pipe.execute()

    async def leave(self, stream: str, member: Member) -> None:
        await self.client.zrem(self._stream_key(stream), member.encode())

    async def online(self, stream: str) -> dict[str, list[OnlineUser]]:
        key = self._stream_key(stream)
        now = time.time()
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(key, "-inf", now)
            pipe.zrange(key, 0, -1)
            _, raw = await pipe.execute()
        members = [m for m in (Member.decode(r) for r in raw) if m is not None]
        return group_online(members)

    async def open_connection(self, user_id: int, conn_id: str, limit: int) -> bool:
        key = self._conns_key(user_id)
        now = time.time()
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(key, "-inf", now)
            pipe.zadd(key, {conn_id: now + TTL})
            pipe.zcard(key)
            pipe.expire(key, int(TTL * 2))
            _, _, count, _ = await pipe.execute()
        if count > limit:
            await self.client.zrem(key, conn_id)
            return False
        return True

    async def close_connection(self, user_id: int, conn_id: str) -> None:
        with contextlib.suppress(redis.RedisError, OSError):  # else it expires on its own
            await self.client.zrem(self._conns_key(user_id), conn_id)

    async def heartbeat(
        self, members: list[tuple[str, Member]], connections: list[tuple[int, str]]
    ) -> None:
        if not members and not connections:
            return
        expiry = time.time() + TTL
        async with self.client.pipeline(transaction=False) as pipe:
            for stream, member in members:
                pipe.zadd(self._stream_key(stream), {member.encode(): expiry})
                pipe.expire(self._stream_key(stream), int(TTL * 2))
            for user_id, conn_id in connections:
                pipe.zadd(self._conns_key(user_id), {conn_id: expiry})
                pipe.expire(self._conns_key(user_id), int(TTL * 2))
            await pipe.execute()
