"""The benchmarks still run: bench/attachments_upload.py's core on a tiny load.

Two uploads of 64 KiB on the filesystem, to the baseline server and to one hub
worker on the test database. Only that every upload was answered 201 and stored
is checked; timings are the benchmark's business, never a test's.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection

from bench.attachments_upload import (
    MemorySpec,
    MiB,
    Store,
    memory_case,
    png_uploads,
    run_storage,
)
from hub.agencies.demo import seed_reference_data
from hub.incidents.demo import seed_incidents
from hub.operations.sops import seed_templates
from tests.processes import database_url_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_attachments_upload_bench_stores_every_upload(tmp_path: Path) -> None:
    seed_reference_data()
    seed_templates()
    seed_incidents()

    run = run_storage(
        store=Store("filesystem", tmp_path / "files"),
        database_url=database_url_for(connection.settings_dict),
        payloads={"64 KiB": png_uploads(64 * 1024, 2, "smoke")},
        concurrency=2,
        log_dir=tmp_path,
        form_parsing_off=False,
    )

    assert [(b.server, b.statuses) for b in run.batches] == [
        ("baseline", {"201": 2}),
        ("hub", {"201": 2}),
    ]
    assert run.stored == {"baseline": 2, "hub": 2}


def test_large_multipart_upload_to_a_real_worker_is_not_parsed_by_twisted(tmp_path: Path) -> None:
    """hub.daphne_patches on a real ``daphne hub.asgi:application``: a 20 MiB multipart
    upload is stored (201), and the worker's peak RSS grows by well under 5x the body.
    With Twisted's form parsing on it grew 12.8x (bench/RESULTS.md); with it off about
    1.2-1.8x. The bound is deliberately generous: it only catches the parse coming back."""
    seed_reference_data()
    seed_templates()
    seed_incidents()

    case = memory_case(
        MemorySpec("hub", "PNG, 20 MiB", png_uploads(20 * MiB, 1, "rss")[0]),
        Store("filesystem", tmp_path / "files"),
        database_url_for(connection.settings_dict),
        tmp_path,
    )

    assert case.status == 201
    assert case.growth_per_body < 5, case
