"""The ceiling baseline: what plain asyncio Python does with the hub's fan-out.

One process is one "worker": a ``websockets`` server (the asyncio API) holding one
Redis pub/sub subscription (redis.asyncio) taken before it accepts any socket. Each
publication on ``--channel`` is a pre-encoded JSON text frame; the process writes it
to every local socket in a plain loop of sends, each send in its own ``try``. There is
no authentication, no persistence and no per-socket state beyond the socket, which is
the point: it bounds what Python can do here (bench/fanout.py, bench/connections.py).

    python -m bench.ceiling_server --port 8701 --redis-url redis://127.0.0.1:6379/0 \\
        --channel bench-abc:ceiling

``GET /healthz`` answers 200 once the subscription is live (harness.start_server waits
for it). Compression is off, as it is in Daphne.
"""

from __future__ import annotations

import argparse
import asyncio
import http
import os
import signal

import redis.asyncio as aioredis
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import WebSocketException
from websockets.http11 import Request, Response

DEFAULT_CHANNEL = "bench:ceiling"


async def serve_ceiling(port: int, redis_url: str, channel: str) -> None:
    sockets: set[ServerConnection] = set()

    async def handler(ws: ServerConnection) -> None:
        sockets.add(ws)
        try:
            async for _ in ws:  # clients send nothing; read to notice the close
                pass
        except WebSocketException:
            pass
        finally:
            sockets.discard(ws)

    def process_request(connection: ServerConnection, request: Request) -> Response | None:
        if request.path == "/healthz":
            return connection.respond(http.HTTPStatus.OK, "ok\n")
        return None

    client = aioredis.Redis.from_url(redis_url, socket_timeout=None)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(channel)  # before the first socket is accepted
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)

    async def fan_out() -> None:
        while True:
            message = await pubsub.get_message(timeout=None)
            if message is None or message["type"] != "message":
                continue
            frame = message["data"].decode()  # a text frame, encoded by the publisher
            for ws in list(sockets):
                try:
                    await ws.send(frame)
                except Exception:  # noqa: S112 (a closing socket must not stop the loop)
                    continue

    async with serve(
        handler,
        "127.0.0.1",
        port,
        process_request=process_request,
        compression=None,
        max_size=2**17,
        ping_interval=None,
    ):
        reader = asyncio.create_task(fan_out())
        await stop.wait()
        reader.cancel()
    await pubsub.aclose()
    await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument("--channel", default=DEFAULT_CHANNEL)
    args = parser.parse_args()
    asyncio.run(serve_ceiling(args.port, args.redis_url, args.channel))


if __name__ == "__main__":
    main()
