"""``manage.py ensure_attachment_bucket`` makes the store the hub is configured with."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from tests.seaweedfs import S3_BACKEND, SeaweedS3, free_ports


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("ensure_attachment_bucket", *args, stdout=out)
    return out.getvalue()


def test_creates_the_bucket_once(settings: Any, seaweedfs: SeaweedS3) -> None:
    bucket = f"hub-{uuid.uuid4().hex[:12]}"
    options = seaweedfs.storage_options(bucket)
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {"BACKEND": S3_BACKEND, "OPTIONS": options},
    }
    assert f"bucket {bucket} created" in run()
    assert f"bucket {bucket} exists" in run()
    names = [b["Name"] for b in seaweedfs.client().list_buckets()["Buckets"]]
    assert bucket in names


def test_an_unreachable_store_is_an_error(settings: Any, seaweedfs: SeaweedS3) -> None:
    (port,) = free_ports(1)
    options = {**seaweedfs.storage_options("hub-files"), "endpoint_url": f"http://127.0.0.1:{port}"}
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {"BACKEND": S3_BACKEND, "OPTIONS": options},
    }
    with pytest.raises(CommandError, match="not ready"):
        run("--wait", "0")


def test_makes_the_directory_on_the_filesystem(settings: Any, tmp_path: Path) -> None:
    location = tmp_path / "var" / "attachments"
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(location), "base_url": None},
        },
    }
    assert "ready" in run()
    assert location.is_dir()
