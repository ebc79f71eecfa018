"""Image derivatives (issue 13, part 4): a view image and a thumbnail re-encoded
without metadata, made by the background job, served to every incident reader."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import pypdfium2  # type: ignore[import-untyped]
import pytest
from django.core.files.storage import storages
from PIL import Image

from hub.attachments.models import Attachment
from hub.attachments.services import DERIVE_MAX_ATTEMPTS
from hub.incidents import services as incident_services
from hub.jobs.attachment_derivatives import attachments_derive_pending
from tests.factories import officer, report
from tests.integration.test_attachments import API, client, events, image_bytes, pdf_bytes, upload

pytestmark = pytest.mark.usefixtures("demo", "attachment_storage")

GPS_IFD = 0x8825


def jpeg_with_gps(size: tuple[int, int] = (3000, 1000)) -> bytes:
    """A landscape JPEG whose EXIF says: rotate 90 degrees (orientation 6), with GPS."""
    image = Image.new("RGB", size, (10, 120, 200))
    image.paste((250, 250, 0), (0, 0, 300, 100))  # a marker in the top-left corner
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Phone 12"  # Model
    exif[0x0112] = 6  # Orientation: the picture is upright after a 90 degree turn
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "N"
    gps[2] = (52.0, 31.0, 12.0)
    gps[3] = "E"
    gps[4] = (13.0, 24.0, 36.0)
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def incident_with_customs() -> str:
    ref = report("na-imm.duty", "WDH").ref
    incident_services.incident_invite_agency(
        actor=officer("na-imm.coord"), ref=ref, agency="NA-CUS"
    )
    return ref


def body(response: Any) -> bytes:
    return b"".join(response.streaming_content)


def test_derivatives_strip_metadata_and_are_served_to_readers() -> None:
    ref = incident_with_customs()
    data = jpeg_with_gps()
    uploader = client("na-imm.duty")
    made = upload(uploader, ref, data, "scene.jpg")
    assert made.status_code == 201, made.content
    aid = made.json()["attachment"]["id"]
    assert made.json()["attachment"]["derivatives"] == {"view": False, "thumbnail": False}

    customs = client("na-cus.duty")  # a participating agency's duty officer
    for kind in ("view", "thumbnail"):
        pending = customs.get(f"{API}/{ref}/attachments/{aid}/{kind}")
        assert pending.status_code == 409
        assert pending.json()["code"] == "derivative_pending"
        assert "background" in pending.json()["detail"]

    assert attachments_derive_pending() == [aid]
    assert attachments_derive_pending() == []  # a second sweep does nothing

    listed = customs.get(f"{API}/{ref}/attachments").json()["items"]
    assert listed[0]["derivatives"] == {"view": True, "thumbnail": True}

    sizes = {}
    for kind, bound in (("view", 2048), ("thumbnail", 320)):
        response = customs.get(f"{API}/{ref}/attachments/{aid}/{kind}")
        assert response.status_code == 200
        assert response["Content-Type"] == "image/jpeg"
        assert response["Content-Disposition"].startswith("inline; ")
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"
        assert response["Cache-Control"] == "private, no-store"
        with Image.open(io.BytesIO(body(response))) as derived:
            assert "exif" not in derived.info
            exif = derived.getexif()
            assert not exif.get_ifd(GPS_IFD)
            assert 0x010F not in exif
            assert 0x0110 not in exif
            assert 0x0112 not in exif
            assert max(derived.size) <= bound
            # Orientation applied: the 3000x1000 landscape stands upright.
            assert derived.width < derived.height
            sizes[kind] = derived.size
            # The marker, top-left before the turn, is now top-right.
            rgb = derived.convert("RGB")
            pixel = rgb.getpixel((derived.width - 2, 2))
            assert isinstance(pixel, tuple)
            r, g, b = pixel[:3]
            assert r > 200
            assert g > 200
            assert b < 80
    assert sizes["view"] == (683, 2048)
    assert max(sizes["thumbnail"]) == 320

    # Viewing logs nothing; the original keeps its EXIF and matches its event.
    assert [e.kind for e in events(ref, "attachment.original_downloaded")] == []
    assert customs.get(f"{API}/{ref}/attachments/{aid}").status_code == 403
    attachment = Attachment.objects.get(pk=aid)
    assert attachment.view_name.startswith("derived/")
    assert attachment.thumbnail_name.startswith("derived/")
    with storages["attachments"].open(attachment.storage_name, "rb") as f:
        stored = f.read()
    assert stored == data
    (added,) = events(ref, "attachment.added")
    assert added.payload["sha256"] == hashlib.sha256(stored).hexdigest() == attachment.sha256
    with Image.open(io.BytesIO(stored)) as original:
        exif = original.getexif()
        assert exif[0x010F] == "PhoneMaker"
        assert exif.get_ifd(GPS_IFD)[1] == "N"

    # Not a reader: the same 404 as a file that does not exist.
    outsider = client("za-imm.senior")
    for kind in ("view", "thumbnail"):
        assert outsider.get(f"{API}/{ref}/attachments/{aid}/{kind}").status_code == 404
        assert customs.get(f"{API}/{ref}/attachments/999999/{kind}").status_code == 404

    withdrawn = client("na-imm.senior").post(
        f"{API}/{ref}/attachments/{aid}/withdraw",
        {"reason": "Wrong scene."},
        content_type="application/json",
    )
    assert withdrawn.status_code == 200, withdrawn.content
    for kind in ("view", "thumbnail"):
        assert customs.get(f"{API}/{ref}/attachments/{aid}/{kind}").status_code == 404
    listed = customs.get(f"{API}/{ref}/attachments").json()["items"]
    assert listed[0]["derivatives"] == {"view": False, "thumbnail": False}


def test_png_with_transparency_and_webp_small_images() -> None:
    ref = incident_with_customs()
    uploader = client("na-imm.duty")
    out = io.BytesIO()
    Image.new("RGBA", (40, 30), (0, 0, 0, 0)).save(out, format="PNG")
    ids = [
        upload(uploader, ref, out.getvalue(), "clear.png").json()["attachment"]["id"],
        upload(uploader, ref, image_bytes("WEBP"), "w.webp").json()["attachment"]["id"],
    ]
    assert attachments_derive_pending() == ids  # oldest first
    for aid in ids:
        response = uploader.get(f"{API}/{ref}/attachments/{aid}/view")
        with Image.open(io.BytesIO(body(response))) as derived:
            assert derived.format == "JPEG"
            assert max(derived.size) == 40 if aid == ids[0] else 64  # never enlarged


def pdf_with_metadata(
    pages: list[tuple[int, int, int]], *, size: tuple[int, int] = (600, 800), dpi: float = 72.0
) -> bytes:
    """A PDF of one plain-coloured page per colour (``size`` px at ``dpi``, so 600 x 800
    pt by default), with a Title, Author, Subject and Keywords in its Info dict."""
    images = [Image.new("RGB", size, colour) for colour in pages]
    images[0].paste((250, 250, 0), (0, 0, 60, 40))  # a marker, top-left of page 1
    out = io.BytesIO()
    images[0].save(
        out,
        format="PDF",
        save_all=True,
        append_images=images[1:],
        resolution=dpi,
        title="Operation Nightjar: witness list",
        author="Inspector Secret-Name",
        subject="Confidential subject",
        keywords="informant, safehouse",
    )
    return out.getvalue()


def test_a_pdf_gets_a_view_and_thumbnail_of_its_first_page_without_metadata() -> None:
    ref = incident_with_customs()
    data = pdf_with_metadata([(20, 60, 160), (200, 30, 30)])
    secrets = ("Nightjar", "Secret-Name", "Confidential subject", "informant")
    with pypdfium2.PdfDocument(data) as document:  # the original carries them
        assert document.get_metadata_dict()["Author"] == "Inspector Secret-Name"
        assert len(document) == 2
    assert all(s.encode("utf-16-be") in data for s in secrets)
    uploader = client("na-imm.duty")
    made = upload(uploader, ref, data, "witness list.pdf")
    assert made.status_code == 201, made.content
    aid = made.json()["attachment"]["id"]
    assert made.json()["attachment"]["content_type"] == "application/pdf"
    assert made.json()["attachment"]["derivatives"] == {"view": False, "thumbnail": False}

    customs = client("na-cus.duty")  # may not download the original, sees the derivative
    assert customs.get(f"{API}/{ref}/attachments/{aid}").status_code == 403
    pending = customs.get(f"{API}/{ref}/attachments/{aid}/view")
    assert (pending.status_code, pending.json()["code"]) == (409, "derivative_pending")

    assert attachments_derive_pending() == [aid]
    assert attachments_derive_pending() == []
    listed = customs.get(f"{API}/{ref}/attachments").json()["items"]
    assert listed[0]["derivatives"] == {"view": True, "thumbnail": True}

    # 600 x 800 pt: the longest side drawn at 2048 px, the thumbnail at 320.
    for kind, expected in (("view", (1536, 2048)), ("thumbnail", (240, 320))):
        response = customs.get(f"{API}/{ref}/attachments/{aid}/{kind}")
        assert response.status_code == 200
        assert response["Content-Type"] == "image/jpeg"
        assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"
        assert response["Content-Disposition"].endswith(f"witness%20list-{kind}.jpg")
        derived_bytes = body(response)
        assert b"%PDF" not in derived_bytes
        for secret in secrets:
            assert secret.encode() not in derived_bytes
            assert secret.encode("utf-16-be") not in derived_bytes
        with Image.open(io.BytesIO(derived_bytes)) as derived:
            assert derived.format == "JPEG"
            assert derived.size == expected
            for key in ("exif", "xmp", "icc_profile", "comment"):
                assert key not in derived.info
            assert not derived.getexif()
            rgb = derived.convert("RGB")
            # Page 1 (blue), not page 2 (red), with its marker top-left.
            centre = rgb.getpixel((derived.width // 2, derived.height // 2))
            corner = rgb.getpixel((2, 2))
            assert isinstance(centre, tuple)
            assert isinstance(corner, tuple)
            assert centre[0] < 60
            assert centre[2] > 120
            assert min(corner[:2]) > 200
            assert corner[2] < 80

    # Viewing logs nothing; the original is still the uploaded bytes, metadata and all.
    assert events(ref, "attachment.original_downloaded") == []
    senior = client("na-imm.senior")
    original = senior.get(f"{API}/{ref}/attachments/{aid}")
    assert original.status_code == 200
    assert body(original) == data


def test_a_pdf_page_is_drawn_within_the_pixel_limit(settings: Any) -> None:
    ref = incident_with_customs()
    # 100 x 50 px at 1 dpi: a 7200 x 3600 pt page (100 x 50 inches).
    data = pdf_with_metadata([(20, 60, 160)], size=(100, 50), dpi=1.0)
    aid = upload(client("na-imm.duty"), ref, data, "poster.pdf").json()["attachment"]["id"]
    settings.HUB_ATTACHMENT_MAX_PIXELS = 500_000
    assert attachments_derive_pending() == [aid]
    response = client("na-cus.duty").get(f"{API}/{ref}/attachments/{aid}/view")
    with Image.open(io.BytesIO(body(response))) as derived:
        assert derived.width * derived.height <= 500_000
        assert derived.size[0] == pytest.approx(2 * derived.size[1], abs=2)
        assert derived.width >= 990  # as large as the limit allows (about 1000 x 500)


@pytest.mark.parametrize(
    "data",
    [
        pdf_bytes(),  # a catalogue with no pages
        b"%PDF-1.4\nnot a PDF body at all\n%%EOF\n",
    ],
    ids=["no-pages", "garbage"],
)
def test_a_malformed_pdf_is_counted_and_given_up_after_the_attempts(
    data: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    ref = incident_with_customs()
    uploader = client("na-imm.duty")
    made = upload(uploader, ref, data, "broken.pdf")
    assert made.status_code == 201, made.content  # the upload's byte scan accepts it
    aid = made.json()["attachment"]["id"]
    for attempt in range(1, DERIVE_MAX_ATTEMPTS + 1):
        assert attachments_derive_pending() == []
        row = Attachment.objects.get(pk=aid)
        assert row.derive_attempts == attempt
        assert row.derive_error.startswith("DerivativeError: ")
        assert row.view_name == row.thumbnail_name == ""
    assert f"derivatives of attachment {aid} failed" in caplog.text
    assert attachments_derive_pending() == []  # given up
    assert Attachment.objects.get(pk=aid).derive_attempts == DERIVE_MAX_ATTEMPTS
    for kind in ("view", "thumbnail"):
        response = uploader.get(f"{API}/{ref}/attachments/{aid}/{kind}")
        assert (response.status_code, response.json()["code"]) == (409, "derivative_failed")


def test_pdfs_and_images_are_derived_oldest_first_and_the_sweep_is_bounded() -> None:
    ref = incident_with_customs()
    uploader = client("na-imm.duty")
    pdf = upload(uploader, ref, pdf_with_metadata([(0, 0, 0)]), "doc.pdf").json()["attachment"][
        "id"
    ]
    images = [
        upload(uploader, ref, image_bytes("PNG", (20 + i, 20)), f"{i}.png").json()["attachment"][
            "id"
        ]
        for i in range(3)
    ]
    assert attachments_derive_pending(limit=2) == [pdf, images[0]]
    assert attachments_derive_pending(limit=2) == images[1:]
    assert attachments_derive_pending() == []
    assert Attachment.objects.get(pk=pdf).view_name.startswith("derived/")


def test_a_failure_is_recorded_logged_and_retried_a_bounded_number_of_times(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    ref = incident_with_customs()
    uploader = client("na-imm.duty")
    aid = upload(uploader, ref, image_bytes("JPEG"), "x.jpg").json()["attachment"]["id"]

    def broken(_original: Any, _content_type: str) -> tuple[bytes, bytes]:
        raise OSError("decoder exploded")

    monkeypatch.setattr("hub.attachments.derivatives.make_derivatives", broken)
    for attempt in range(1, DERIVE_MAX_ATTEMPTS + 1):
        assert attachments_derive_pending() == []
        row = Attachment.objects.get(pk=aid)
        assert (row.derive_attempts, row.derive_error) == (attempt, "OSError: decoder exploded")
    assert f"derivatives of attachment {aid} failed" in caplog.text
    monkeypatch.undo()
    assert attachments_derive_pending() == []  # given up: no more attempts
    response = uploader.get(f"{API}/{ref}/attachments/{aid}/view")
    assert (response.status_code, response.json()["code"]) == (409, "derivative_failed")
