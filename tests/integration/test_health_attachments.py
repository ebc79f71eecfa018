"""/readyz reports the evidence-file store: its backend, whether it is reachable,
and not ready when it is not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client, override_settings

from hub.attachments.health import ensure_filesystem_location
from tests.integration.conftest import TEST_BUCKET
from tests.seaweedfs import S3_BACKEND, SeaweedS3, free_ports

pytestmark = pytest.mark.django_db


def use_storage(settings: Any, backend: str, options: dict[str, Any]) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {"BACKEND": backend, "OPTIONS": options},
    }


def filesystem(settings: Any, location: Path) -> None:
    use_storage(
        settings,
        "django.core.files.storage.FileSystemStorage",
        {"location": str(location), "base_url": None},
    )


@override_settings(REDIS_URL=None)
def test_the_store_in_use_is_ready(client: Client, attachment_storage: Any) -> None:
    # The fixture made the directory (filesystem) or the bucket (S3).
    from django.core.files.base import ContentFile
    from django.core.files.storage import storages

    storages["attachments"].save("ab/probe.txt", ContentFile(b"x"))
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["checks"]["attachments"] == "ok"
    assert body["attachments"] == {"backend": attachment_storage.backend, "reachable": True}


@override_settings(REDIS_URL=None)
def test_a_missing_directory_is_not_ready(client: Client, settings: Any, tmp_path: Path) -> None:
    location = tmp_path / "gone"
    filesystem(settings, location)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["attachments"] == "failing"
    assert body["attachments"] == {"backend": "filesystem", "reachable": False}
    assert body["reasons"]["attachments"] == "evidence file directory missing"
    assert str(tmp_path) not in response.content.decode()  # the path stays in the log
    # At startup the hub makes the directory (the first upload would, too).
    ensure_filesystem_location()
    assert location.is_dir()
    assert client.get("/readyz").status_code == 200


@override_settings(REDIS_URL=None)
def test_a_file_in_place_of_the_directory_is_not_ready(
    client: Client, settings: Any, tmp_path: Path
) -> None:
    (tmp_path / "attachments").write_text("not a directory")
    filesystem(settings, tmp_path / "attachments")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["attachments"]["reachable"] is False


@override_settings(REDIS_URL=None)
def test_an_unwritable_directory_is_not_ready(
    client: Client, settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    filesystem(settings, tmp_path)
    # (The tests may run as root, for whom a chmod changes nothing: ask os.access.)
    import hub.attachments.health as attachments_health

    monkeypatch.setattr(attachments_health.os, "access", lambda path, mode: False)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["reasons"]["attachments"] == "evidence file directory not writable"


@override_settings(REDIS_URL=None)
def test_an_unreachable_s3_endpoint_is_not_ready(
    client: Client, settings: Any, seaweedfs: SeaweedS3
) -> None:
    (closed_port,) = free_ports(1)  # nobody listens there: refused at once
    options = seaweedfs.storage_options(TEST_BUCKET)
    use_storage(
        settings, S3_BACKEND, {**options, "endpoint_url": f"http://127.0.0.1:{closed_port}"}
    )
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["attachments"] == {"backend": "s3", "reachable": False}
    assert body["reasons"]["attachments"].startswith("evidence file store (S3) unreachable (")
    assert str(closed_port) not in response.content.decode()


@override_settings(REDIS_URL=None)
def test_a_missing_bucket_or_wrong_key_is_not_ready(
    client: Client, settings: Any, seaweedfs: SeaweedS3
) -> None:
    options = seaweedfs.storage_options(TEST_BUCKET)
    use_storage(settings, S3_BACKEND, {**options, "bucket_name": "no-such-bucket"})
    assert client.get("/readyz").status_code == 503
    use_storage(settings, S3_BACKEND, {**options, "secret_key": "wrong-secret"})
    assert client.get("/readyz").status_code == 503
    use_storage(settings, S3_BACKEND, options)
    assert client.get("/readyz").status_code == 200
