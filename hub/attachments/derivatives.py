"""Derivatives of evidence files: a view image and a thumbnail, made of pixels only.

Images (JPEG, PNG, WebP): only the pixels travel. The picture is turned upright by
its EXIF orientation (``ImageOps.exif_transpose``), copied into a fresh image (so no
EXIF, GPS, XMP, ICC profile or comment of the original can follow), scaled down and
saved as JPEG. Transparent areas are flattened onto white.

PDFs: the first page is rendered by PDFium (``pypdfium2``) to a bitmap, and that
bitmap goes the same way (a fresh RGB image, saved as JPEG), so nothing of the
document travels but what page 1 looks like: no title, author, XMP, text layer,
links or attachments. Rendering is bounded: one page only, at a scale that keeps
its longest side at most ``VIEW_MAX_SIDE`` and its area at most
``HUB_ATTACHMENT_MAX_PIXELS`` (and never above ``PDF_MAX_SCALE``, 288 dpi). PDFium
runs no JavaScript and, without ``init_forms``, draws no form fields; the upload
already refused PDFs with active content (``inspection``). The page count is read,
not rendered. Callers run this off the request path (the background job).
"""

from __future__ import annotations

import io
import math
import threading
from typing import IO

from django.conf import settings
from PIL import Image, ImageOps

from hub.attachments.models import IMAGE_TYPES

VIEW_MAX_SIDE = 2048
THUMBNAIL_MAX_SIDE = 320
CONTENT_TYPE = "image/jpeg"
EXTENSION = "jpg"
PDF_TYPE = "application/pdf"
# Every type that gets a view image and a thumbnail.
DERIVABLE_TYPES = (*IMAGE_TYPES, PDF_TYPE)
# A page is rendered at most 4x its size in points (288 dpi): enough for a small
# page to be read on screen, no more.
PDF_MAX_SCALE = 4.0
# PDFium is not thread-safe; one render at a time per process.
_PDFIUM = threading.Lock()


class DerivativeError(ValueError):
    """The file cannot be turned into a view image (counted on the row by the job)."""


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


def pdf_render_scale(width: float, height: float, *, max_pixels: int) -> float:
    """The scale (pixels per point) that renders a ``width`` x ``height`` pt page with
    its longest side at most ``VIEW_MAX_SIDE`` px and at most ``max_pixels`` pixels."""
    if not (width > 0 and height > 0 and math.isfinite(width) and math.isfinite(height)):
        raise DerivativeError(f"the first page has no usable size ({width} x {height} pt)")
    scale = min(
        PDF_MAX_SCALE, VIEW_MAX_SIDE / max(width, height), math.sqrt(max_pixels / (width * height))
    )
    if round(width * scale) < 1 or round(height * scale) < 1:
        raise DerivativeError(f"the first page is too narrow to draw ({width} x {height} pt)")
    return scale


def _first_page(original: IO[bytes]) -> Image.Image:
    """Page 1 of the PDF as a fresh RGB image within the bounds above."""
    # Imported here: only the background job renders (no stubs, no py.typed).
    import pypdfium2 as pdfium  # type: ignore[import-untyped]

    original.seek(0)
    data = original.read()
    limit: int = settings.HUB_ATTACHMENT_MAX_PIXELS
    with _PDFIUM:
        try:
            document = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            raise DerivativeError(f"PDFium cannot open the PDF: {exc}") from None
        try:
            if len(document) < 1:
                raise DerivativeError("the PDF has no pages")
            page = document[0]
            try:
                width, height = page.get_size()
                scale = pdf_render_scale(width, height, max_pixels=limit)
                bitmap = page.render(scale=scale, fill_color=(255, 255, 255, 255))
                try:
                    rendered = bitmap.to_pil()
                    clean = Image.new("RGB", rendered.size, (255, 255, 255))
                    clean.paste(rendered.convert("RGB"))
                finally:
                    bitmap.close()
            finally:
                page.close()
        finally:
            document.close()
    return clean


def make_derivatives(original: IO[bytes], content_type: str = "image/jpeg") -> tuple[bytes, bytes]:
    """(view JPEG, thumbnail JPEG) of a file already accepted by ``inspection``;
    raises for a file that cannot be drawn."""
    if content_type == PDF_TYPE:
        clean = _first_page(original)
    else:
        Image.MAX_IMAGE_PIXELS = settings.HUB_ATTACHMENT_MAX_PIXELS
        with Image.open(original) as image:
            image.load()
            clean = _pixels_only(image)
    return _encode(clean, VIEW_MAX_SIDE, 85), _encode(clean, THUMBNAIL_MAX_SIDE, 80)
