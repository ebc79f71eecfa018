"""Evidence files for tests that refer to them (messages over the socket, task evidence).

Files are made in code (a few-pixel PNG); they are stored through the real upload
service on a temporary filesystem storage (``use_temporary_storage``), so the rows,
the ``attachment.added`` events and the stored bytes are the ones an officer's upload
makes.
"""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

from django.core.cache import cache
from PIL import Image

from hub.attachments.services import attachment_upload, attachment_withdraw
from tests.factories import officer


def use_temporary_storage(settings: Any, directory: Path) -> None:
    """``STORAGES["attachments"]`` on ``directory``; upload rate limits start afresh."""
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(directory), "base_url": None},
        },
    }
    cache.clear()


def png(shade: int = 0) -> bytes:
    """A small PNG; ``shade`` makes the bytes (and so the sha256) differ."""
    out = io.BytesIO()
    Image.new("RGB", (8, 6), (shade % 256, 40, 90)).save(out, format="PNG")
    return out.getvalue()


def upload_evidence(username: str, ref: str, *, shade: int = 0, filename: str = "photo.png") -> int:
    """Upload a PNG to incident ``ref`` as ``username``; the new attachment's id."""
    result = attachment_upload(
        actor=officer(username),
        ref=ref,
        file=io.BytesIO(png(shade)),
        filename=filename,
        client_msg_id=uuid.uuid4(),
    )
    return result.attachment.pk


def withdraw_evidence(username: str, ref: str, attachment_id: int) -> None:
    attachment_withdraw(
        actor=officer(username), ref=ref, attachment_id=attachment_id, reason="Wrong person."
    )
