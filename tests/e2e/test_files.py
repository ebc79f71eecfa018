"""Evidence files in the browser.

Pasted and seen live: NA-IMM's duty officer pastes a photo into the chat of a
demo incident and sends it with a line of text; NA-POL's duty officer, on the
other worker, sees the message arrive with the file, first as "preparing the
preview" and then, once the background job has made the derivatives, as a
thumbnail. NA-POL may not download the original (only senior officials and the
lead agency's coordinators may): the viewer says so and offers no link, and
axe finds nothing serious in it. The hub holds one file, whose SHA-256 is that
of the pasted bytes, referred to by one message.

Attached offline: with the socket cut, an officer attaches a file from the
picker and sends; the item, bytes included, stays in the outbox across a
reload, nothing reaches the hub, and once the link returns the file is
uploaded and attached exactly once.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
from typing import Any

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from hub.attachments.models import Attachment, MessageAttachment
from hub.incidents.models import Message
from hub.jobs.attachment_derivatives import attachments_derive_pending
from tests.e2e.conftest import TABLET, Hub
from tests.e2e.officers import DEMO_INCIDENT, assert_accessible, screenshot, sign_in
from tests.e2e.test_offline import SocketSwitch

PASTED_TEXT = "Visa foil from the passenger's passport, photo attached"
OFFLINE_TEXT = "Crew list of the intercepted vessel, scanned"

PASTE = """([b64, name, type]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const data = new DataTransfer();
  data.items.add(new File([bytes], name, { type }));
  const area = document.querySelector("[data-testid=composer]");
  area.focus();
  const paste = { clipboardData: data, bubbles: true, cancelable: true };
  area.dispatchEvent(new ClipboardEvent("paste", paste));
}"""


def specimen_png() -> bytes:
    """A made-up document photo: shapes and the word SPECIMEN, no real document."""
    image = Image.new("RGB", (960, 640), (228, 219, 188))
    draw = ImageDraw.Draw(image)
    draw.rectangle((32, 32, 928, 608), outline=(128, 36, 36), width=10)
    draw.rectangle((80, 120, 330, 440), fill=(150, 160, 170))
    for y in range(140, 440, 40):
        draw.line((380, y, 860, y), fill=(90, 90, 110), width=6)
    draw.text((380, 470), "SPECIMEN - DEMO", fill=(20, 20, 20))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_a_pasted_photo_reaches_another_agency_as_a_thumbnail(
    browser: Any, hub: Hub, contexts: list[Any]
) -> None:
    room = f"/incidents/{DEMO_INCIDENT}"
    photo = specimen_png()
    a = sign_in(contexts, browser, hub.a, "na-imm.duty", room)
    b = sign_in(contexts, browser, hub.b, "na-pol.duty", room, viewport=TABLET)
    for page in (a, b):
        expect(page.get_by_test_id("timeline").get_by_test_id("message").first).to_be_visible()

    a.evaluate(PASTE, [base64.b64encode(photo).decode(), "visa-foil.png", "image/png"])
    picked = a.get_by_test_id("picked-files")
    expect(picked).to_contain_text("visa-foil.png")
    expect(picked.get_by_role("alert")).to_have_count(0)
    composer = a.get_by_label("Message", exact=True)
    composer.fill(PASTED_TEXT)
    composer.press("Enter")
    expect(picked).to_have_count(0)

    arrived = b.get_by_test_id("timeline").get_by_test_id("message").filter(has_text=PASTED_TEXT)
    expect(arrived).to_be_visible()
    card = arrived.get_by_test_id("file-thumb")
    expect(card).to_contain_text("visa-foil.png")
    # The derivatives are made off the request path: until then, a placeholder.
    expect(card.get_by_test_id("picture-placeholder")).to_be_visible()
    assert attachments_derive_pending(), "the background job found no image to derive"
    expect(card.locator("img[data-testid=picture]")).to_be_visible(timeout=40_000)
    width = card.locator("img").evaluate("(img) => img.naturalWidth")
    assert width == 320, f"the thumbnail is {width} px wide"

    stored = Attachment.objects.get()
    assert stored.sha256 == hashlib.sha256(photo).hexdigest()
    assert stored.uploaded_by.username == "na-imm.duty"
    message = Message.objects.get(body=PASTED_TEXT)
    assert list(
        MessageAttachment.objects.filter(message=message).values_list("attachment_id", flat=True)
    ) == [stored.pk]

    card.click()
    viewer = b.get_by_test_id("viewer")
    expect(viewer.get_by_test_id("viewer-image")).to_be_visible()
    expect(viewer.get_by_test_id("file-hash")).to_have_text(stored.sha256)
    expect(viewer.get_by_test_id("original-restricted")).to_be_visible()
    expect(viewer.get_by_test_id("download-original")).to_have_count(0)
    zoom = viewer.locator("output.zoom-level")
    viewer.get_by_role("button", name="Zoom in").click()
    expect(zoom).to_have_text(re.compile(r"^\s*(100|150)%\s*$"))
    assert_accessible(b, "the file viewer")
    screenshot(b, "files-viewer-tablet")
    b.get_by_role("button", name="Close").click()
    expect(viewer).to_have_count(0)

    # NA-IMM leads the incident, but a duty officer is not a coordinator: no original either.
    a_card = a.get_by_test_id("timeline").get_by_test_id("file-thumb").first
    expect(a_card.locator("img[data-testid=picture]")).to_be_visible(timeout=40_000)
    screenshot(a, "files-room-laptop")


@pytest.mark.one_officer
@pytest.mark.django_db(transaction=True)
def test_a_file_attached_offline_survives_a_reload_and_is_attached_once(
    browser: Any, hub: Hub, contexts: list[Any]
) -> None:
    switch = SocketSwitch()
    room = f"/incidents/{DEMO_INCIDENT}"
    page = sign_in(contexts, browser, hub.a, "na-imm.duty", room, before=switch.install)
    expect(page.get_by_test_id("timeline").get_by_test_id("message").first).to_be_visible()
    connection = page.get_by_test_id("connection")
    scan = specimen_png()

    switch.cut_now()
    expect(connection).to_have_attribute("data-status", "offline")
    page.get_by_test_id("file-input").set_input_files(
        {"name": "crew-list.png", "mimeType": "image/png", "buffer": scan}
    )
    expect(page.get_by_test_id("picked-files")).to_contain_text("crew-list.png")
    composer = page.get_by_label("Message", exact=True)
    composer.fill(OFFLINE_TEXT)
    page.get_by_role("button", name="Send").click()

    def assert_pending() -> None:
        unsent = page.get_by_test_id("unsent")
        expect(unsent).to_have_count(1)
        expect(unsent).to_have_attribute("data-status", "pending")
        expect(unsent.get_by_test_id("unsent-files")).to_contain_text("crew-list.png")
        assert not Attachment.objects.exists(), "uploaded while the socket was down"
        assert not Message.objects.filter(body=OFFLINE_TEXT).exists()

    assert_pending()
    page.reload()
    expect(page.get_by_test_id("room")).to_be_visible()
    expect(connection).to_have_attribute("data-status", "offline")
    assert_pending()

    switch.restore()
    expect(connection).to_have_attribute("data-status", "live", timeout=40_000)
    expect(page.get_by_test_id("unsent")).to_have_count(0)
    sent = page.get_by_test_id("timeline").get_by_test_id("message").filter(has_text=OFFLINE_TEXT)
    expect(sent).to_have_count(1)
    expect(sent.get_by_test_id("file-thumb")).to_contain_text("crew-list.png")

    stored = Attachment.objects.get()
    assert stored.sha256 == hashlib.sha256(scan).hexdigest()
    message = Message.objects.get(body=OFFLINE_TEXT)
    assert list(message.attachment_links.values_list("attachment_id", flat=True)) == [stored.pk]
