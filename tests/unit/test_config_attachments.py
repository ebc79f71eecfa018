"""Where evidence files are stored: the filesystem, or S3 when HUB_ATTACHMENTS_S3_* say so."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from hub.config import S3_STORAGE_BACKEND, attachment_storage_settings, load_config

S3_ENV = {
    "HUB_ATTACHMENTS_S3_ENDPOINT": "http://seaweedfs:8333/",
    "HUB_ATTACHMENTS_S3_BUCKET": "hub-attachments",
    "HUB_ATTACHMENTS_S3_ACCESS_KEY": "hub",
    "HUB_ATTACHMENTS_S3_SECRET_KEY": "secret-of-the-hub",
}


def test_filesystem_by_default(tmp_path: Path) -> None:
    config = load_config({"HUB_ATTACHMENTS_DIR": str(tmp_path / "files")}, var_dir=tmp_path)
    assert config.attachments_s3 is None
    assert config.attachment_unreferenced_ttl == 24 * 60 * 60
    storage = attachment_storage_settings(config)
    assert storage["BACKEND"] == "django.core.files.storage.FileSystemStorage"
    assert storage["OPTIONS"]["location"] == str(tmp_path / "files")


def test_s3_when_endpoint_and_bucket_are_set(tmp_path: Path) -> None:
    config = load_config(S3_ENV, var_dir=tmp_path)
    storage = attachment_storage_settings(config)
    assert storage["BACKEND"] == S3_STORAGE_BACKEND
    options = storage["OPTIONS"]
    assert options["endpoint_url"] == "http://seaweedfs:8333"
    assert options["bucket_name"] == "hub-attachments"
    assert options["access_key"] == "hub"
    assert options["secret_key"] == "secret-of-the-hub"
    assert options["region_name"] == "us-east-1"
    assert options["addressing_style"] == "path"
    assert options["default_acl"] is None
    assert options["file_overwrite"] is False


def test_s3_region_and_ambient_credentials(tmp_path: Path) -> None:
    env = {
        "HUB_ATTACHMENTS_S3_ENDPOINT": "https://s3.eu-central-1.amazonaws.com",
        "HUB_ATTACHMENTS_S3_BUCKET": "hub.evidence",
        "HUB_ATTACHMENTS_S3_REGION": "eu-central-1",
    }
    options = attachment_storage_settings(load_config(env, var_dir=tmp_path))["OPTIONS"]
    assert options["region_name"] == "eu-central-1"
    # Neither key: boto3 takes the environment's credentials (instance role, AWS_*).
    assert "access_key" not in options
    assert "secret_key" not in options


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        (
            {"HUB_ATTACHMENTS_S3_BUCKET": "hub-attachments"},
            "HUB_ATTACHMENTS_S3_ENDPOINT is not set",
        ),
        ({"HUB_ATTACHMENTS_S3_ENDPOINT": "http://s3:8333"}, "HUB_ATTACHMENTS_S3_BUCKET is not set"),
        ({**S3_ENV, "HUB_ATTACHMENTS_S3_ENDPOINT": "s3:8333"}, "must be an http(s) URL"),
        ({**S3_ENV, "HUB_ATTACHMENTS_S3_BUCKET": "Hub_Files"}, "must be an S3 bucket name"),
        ({**S3_ENV, "HUB_ATTACHMENTS_S3_SECRET_KEY": ""}, "go together"),
        ({"HUB_ATTACHMENTS_S3_ACCESS_KEY": "hub"}, "HUB_ATTACHMENTS_S3_ENDPOINT is not set"),
    ],
)
def test_half_configured_s3_is_refused(tmp_path: Path, env: dict[str, str], problem: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="HUB_ATTACHMENTS_S3_") as raised:
        load_config(env, var_dir=tmp_path)
    assert problem in str(raised.value)


def test_unreferenced_ttl(tmp_path: Path) -> None:
    config = load_config({"HUB_ATTACHMENT_UNREFERENCED_TTL": "3600"}, var_dir=tmp_path)
    assert config.attachment_unreferenced_ttl == 3600
    with pytest.raises(ImproperlyConfigured, match="HUB_ATTACHMENT_UNREFERENCED_TTL"):
        load_config({"HUB_ATTACHMENT_UNREFERENCED_TTL": "5"}, var_dir=tmp_path)
