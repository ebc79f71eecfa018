"""``manage.py ensure_attachment_bucket``: make sure the evidence-file store exists.

With S3 (``HUB_ATTACHMENTS_S3_*``) it creates the bucket unless it exists; with the
filesystem it creates ``HUB_ATTACHMENTS_DIR``. Idempotent, so deployments run it
before every start (docker-compose's migrate job does). ``--wait`` retries while the
object store is still starting.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.files.storage import FileSystemStorage
from django.core.management.base import BaseCommand, CommandError, CommandParser

from hub.attachments.health import backend_name, s3_client
from hub.attachments.services import attachment_storage


def ensure_bucket(storage: Any) -> bool:
    """Create the storage's bucket unless it exists; True when it was created."""
    from botocore.exceptions import ClientError

    client = s3_client(storage, timeout=10)
    bucket = storage.bucket_name
    try:
        client.head_bucket(Bucket=bucket)
        return False
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status not in (404, 400) and exc.response.get("Error", {}).get("Code") not in (
            "404",
            "NoSuchBucket",
            "NotFound",
        ):
            raise
    params: dict[str, Any] = {"Bucket": bucket}
    region = storage.region_name
    if region and region != "us-east-1":
        params["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        client.create_bucket(**params)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in (
            "BucketAlreadyOwnedByYou",
            "BucketAlreadyExists",
        ):
            return False
        raise
    return True


class Command(BaseCommand):
    help = "Create the evidence-file bucket (S3) or directory (filesystem) unless it exists."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--wait",
            type=float,
            default=0,
            help="Seconds to keep retrying while the object store does not answer.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        storage: Any = attachment_storage()
        backend = backend_name(storage)
        if isinstance(storage, FileSystemStorage):
            Path(storage.location).mkdir(parents=True, exist_ok=True)
            self.stdout.write(f"evidence files: filesystem directory {storage.location} ready")
            return
        if backend != "s3":
            raise CommandError(f"evidence files: unknown storage backend {backend}")
        deadline = time.monotonic() + float(options["wait"])
        while True:
            try:
                created = ensure_bucket(storage)
                break
            except Exception as exc:
                if time.monotonic() >= deadline:
                    raise CommandError(
                        f"evidence files: bucket {storage.bucket_name} at "
                        f"{storage.endpoint_url} not ready ({type(exc).__name__}: {exc})"
                    ) from exc
                time.sleep(1)
        state = "created" if created else "exists"
        self.stdout.write(f"evidence files: bucket {storage.bucket_name} {state}")
