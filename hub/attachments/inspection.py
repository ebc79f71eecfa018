"""Deciding what an uploaded file is, from its bytes alone.

Accepted: JPEG, PNG, WebP (each must open and fully decode with Pillow, under
``HUB_ATTACHMENT_MAX_PIXELS``, so pixel bombs and truncated images are refused)
and PDF without active content. HEIC/HEIF is refused by name: the installed
Pillow has no HEIF decoder. Everything else is refused with a reason.

The PDF check is a byte scan, not a parser: it refuses any file whose bytes
contain ``/JS``, ``/JavaScript``, ``/EmbeddedFile(s)``, ``/Launch``, ``/OpenAction``
with an action, ``/RichMedia``, ``/XFA`` or ``/AA`` (additional actions), including the
``#xx``-escaped spellings of those names. Its limit: names inside compressed object
streams (``/ObjStm``) are not visible to a byte scan, so a PDF that uses object
streams is refused too, unless it has none of them; encrypted PDFs are refused.
False positives (a refused harmless PDF) are accepted as the price.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from PIL import Image

from hub.errors import HubError


class UnsupportedMediaType(HubError):
    status = 415
    default_code = "unsupported_media_type"


@dataclass(frozen=True)
class Inspected:
    content_type: str
    extension: str


IMAGE_FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}
PDF_FORBIDDEN = (
    b"/JS",
    b"/JavaScript",
    b"/EmbeddedFile",
    b"/EmbeddedFiles",
    b"/Launch",
    b"/RichMedia",
    b"/XFA",
    b"/AA",
    b"/OpenAction",
    b"/ObjStm",
    b"/Encrypt",
)
_PDF_NAME_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")


def _sniff(head: bytes) -> str:
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.lstrip()[:5] == b"%PDF-":
        return "pdf"
    if head[4:8] == b"ftyp" and head[8:12] in (
        b"heic",
        b"heix",
        b"mif1",
        b"msf1",
        b"heim",
        b"heis",
    ):
        return "heic"
    return "unknown"


def _refuse_unknown(head: bytes) -> UnsupportedMediaType:
    lowered = head.lstrip().lower()
    if lowered.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<script")):
        what = "an HTML document"
    elif lowered.startswith(b"<?xml") or b"<svg" in lowered[:1024]:
        what = "an SVG or XML document"
    elif head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        what = "a ZIP archive"
    elif head.startswith((b"MZ", b"\x7fELF", b"#!")):
        what = "an executable or script"
    else:
        what = "of a type the hub does not accept"
    return UnsupportedMediaType(
        f"The file is {what}. Accepted: JPEG, PNG, WebP images and PDF documents.",
        code="unsupported_file_type",
    )


def _check_image(file: IO[bytes], kind: str) -> Inspected:
    limit: int = settings.HUB_ATTACHMENT_MAX_PIXELS
    Image.MAX_IMAGE_PIXELS = limit
    try:
        with warnings.catch_warnings():
            # Pillow warns between the limit and twice it; refuse those too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            file.seek(0)
            with Image.open(file) as probe:
                probe.verify()
            file.seek(0)
            with Image.open(file) as image:
                if image.width * image.height > limit:
                    raise Image.DecompressionBombError("too many pixels")
                if image.format not in IMAGE_FORMATS:
                    raise _refuse_unknown(b"")
                image.load()
                content_type, extension = IMAGE_FORMATS[image.format]
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UnsupportedMediaType(
            f"The image has more than {limit} pixels (a decompression bomb?).",
            code="image_too_many_pixels",
        ) from None
    except UnsupportedMediaType:
        raise
    except Exception:  # Pillow raises many types for broken data
        raise UnsupportedMediaType(
            f"The {kind.upper()} image is damaged or truncated and cannot be decoded.",
            code="image_undecodable",
        ) from None
    return Inspected(content_type, extension)


def _check_pdf(file: IO[bytes]) -> Inspected:
    file.seek(0)
    data = file.read()
    if b"%%EOF" not in data[-2048:]:
        raise UnsupportedMediaType(
            "The PDF is truncated (no end-of-file marker).", code="pdf_malformed"
        )
    names = _PDF_NAME_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), data)
    for token in PDF_FORBIDDEN:
        if re.search(re.escape(token) + rb"(?![A-Za-z0-9])", names):
            raise UnsupportedMediaType(
                f"The PDF contains {token.decode()} (active content, embedded files, "
                "or parts a byte scan cannot inspect); PDFs must be plain documents.",
                code="pdf_active_content",
            )
    return Inspected("application/pdf", "pdf")


def inspect_file(file: IO[bytes]) -> Inspected:
    """The file's type, decided by content; raises UnsupportedMediaType (415)."""
    file.seek(0)
    head = file.read(4096)
    kind = _sniff(head)
    if kind in ("jpeg", "png", "webp"):
        return _check_image(file, kind)
    if kind == "pdf":
        return _check_pdf(file)
    if kind == "heic":
        raise UnsupportedMediaType(
            "HEIC/HEIF images are not supported by this hub's image library; send JPEG instead.",
            code="heic_not_supported",
        )
    raise _refuse_unknown(head)
