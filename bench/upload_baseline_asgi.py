"""The baseline of bench/attachments_upload.py: the least an upload server can do.

A plain ASGI application (no Django) served by the same Daphne as the hub. A
``POST`` streams its whole body, as it arrives, to a new file: under
``BENCH_UPLOAD_DIR`` (the filesystem baseline), or to a temporary file that is
then sent to S3 with boto3's ``upload_fileobj`` in a worker thread (the S3
baseline; the store is named by the hub's own ``HUB_ATTACHMENTS_S3_*``
variables). It answers ``201 {"name", "size"}``. No parsing, no inspection, no
hashing, no database: what the hub costs above this is its own work.

``GET /healthz`` answers 200 so ``bench.harness.start_daphne`` can wait for it.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from functools import cache
from typing import IO, Any

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@cache
def s3_client() -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=os.environ["HUB_ATTACHMENTS_S3_ENDPOINT"],
        aws_access_key_id=os.environ["HUB_ATTACHMENTS_S3_ACCESS_KEY"],
        aws_secret_access_key=os.environ["HUB_ATTACHMENTS_S3_SECRET_KEY"],
        region_name=os.environ.get("HUB_ATTACHMENTS_S3_REGION") or "us-east-1",
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
    )


async def respond(send: Send, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(data)),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


async def application(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    if scope["method"] != "POST":
        await respond(send, 200, {"status": "ok"})
        return
    bucket = os.environ.get("HUB_ATTACHMENTS_S3_BUCKET")
    name = f"{uuid.uuid4().hex}.bin"
    target: IO[bytes]
    if bucket:
        target = tempfile.TemporaryFile()  # noqa: SIM115 - closed below
    else:
        target = open(os.path.join(os.environ["BENCH_UPLOAD_DIR"], name), "wb")  # noqa: SIM115
    size = 0
    try:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            target.write(chunk)
            size += len(chunk)
            if not message.get("more_body"):
                break
        if bucket:
            target.seek(0)
            await asyncio.to_thread(s3_client().upload_fileobj, target, bucket, name)
    finally:
        target.close()
    await respond(send, 201, {"name": name, "size": size})
