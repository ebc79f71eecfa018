"""Image derivatives: a view image and a thumbnail, re-encoded from pixels.

Only the pixels travel: the picture is turned upright by its EXIF orientation
(``ImageOps.exif_transpose``), copied into a fresh image (so no EXIF, GPS, XMP,
ICC profile or comment of the original can follow), scaled down and saved as
JPEG. Transparent areas are flattened onto white.
"""

from __future__ import annotations

import io
from typing import IO

from django.conf import settings
from PIL import Image, ImageOps

VIEW_MAX_SIDE = 2048
THUMBNAIL_MAX_SIDE = 320
CONTENT_TYPE = "image/jpeg"
EXTENSION = "jpg"


def _pixels_only(image: Image.Image) -> Image.Image:
    """The upright picture as a new RGB image carrying no metadata at all."""
    upright = ImageOps.exif_transpose(image) or image
    if upright.mode in ("RGBA", "LA", "PA") or (
        upright.mode == "P" and "transparency" in upright.info
    ):
        rgba = upright.convert("RGBA")
        clean = Image.new("RGB", rgba.size, (255, 255, 255))
        clean.paste(rgba, mask=rgba.getchannel("A"))
        return clean
    rgb = upright.convert("RGB")
    clean = Image.new("RGB", rgb.size)
    clean.paste(rgb)
    return clean


def _encode(image: Image.Image, max_side: int, quality: int) -> bytes:
    copy = image.copy()
    copy.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    copy.save(out, format="JPEG", quality=quality, optimize=True)
    return out.getvalue()


def make_derivatives(original: IO[bytes]) -> tuple[bytes, bytes]:
    """(view JPEG, thumbnail JPEG) of an image already accepted by ``inspection``."""
    Image.MAX_IMAGE_PIXELS = settings.HUB_ATTACHMENT_MAX_PIXELS
    with Image.open(original) as image:
        image.load()
        clean = _pixels_only(image)
    return _encode(clean, VIEW_MAX_SIDE, 85), _encode(clean, THUMBNAIL_MAX_SIDE, 80)
