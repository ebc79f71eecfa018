"""The senior official's export lists every evidence file with its SHA-256 (issue 13):
in the JSON (``attachments``), in a CSV of its own (``format=attachments_csv``) and in
the printable report, withdrawn files included, with the count of original downloads.
The list is folded from the events, so it matches what the verifiable record says."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import datetime
from typing import Any

import pytest
from django.test import Client

from hub.events.checkpoints import checkpoint_now, public_keys
from hub.events.models import Event
from hub.incidents.export import ATTACHMENT_CSV_COLUMNS
from hub.record.verify import verify_export
from tests.factories import report
from tests.integration.test_attachment_derivatives import pdf_with_metadata
from tests.integration.test_attachments import API, client, image_bytes, upload

pytestmark = pytest.mark.usefixtures("demo", "attachment_storage")


def export(senior: Client, ref: str, fmt: str, **params: str) -> Any:
    response = senior.get(f"{API}/{ref}/export", {"format": fmt, **params})
    assert response.status_code == 200, response.content
    return response


def original(senior: Client, ref: str, aid: int) -> bytes:
    response: Any = senior.get(f"{API}/{ref}/attachments/{aid}")
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content)


def test_the_export_lists_every_file_with_the_hash_of_its_original_bytes() -> None:
    ref = report("na-imm.duty", "WDH").ref
    duty = client("na-imm.duty")
    senior = client("na-imm.senior")
    photo = image_bytes("JPEG", (80, 60))
    letter = pdf_with_metadata([(250, 250, 250)])
    photo_id = upload(duty, ref, photo, "counter 4.jpg").json()["attachment"]["id"]
    letter_id = upload(duty, ref, letter, "letter.pdf").json()["attachment"]["id"]
    withdrawn = senior.post(
        f"{API}/{ref}/attachments/{letter_id}/withdraw",
        {"reason": "Wrong traveller's letter."},
        content_type="application/json",
    )
    assert withdrawn.status_code == 200, withdrawn.content
    downloaded = [original(senior, ref, photo_id), original(senior, ref, photo_id)]

    document = export(senior, ref, "json").json()
    files = {item["id"]: item for item in document["attachments"]}
    assert list(files) == [photo_id, letter_id]
    added = {
        e.payload["attachment_id"]: e
        for e in Event.objects.filter(stream__name=f"incident:{ref}", kind="attachment.added")
    }
    for aid, data, name, content_type in (
        (photo_id, photo, "counter 4.jpg", "image/jpeg"),
        (letter_id, letter, "letter.pdf", "application/pdf"),
    ):
        item = files[aid]
        assert item["sha256"] == hashlib.sha256(data).hexdigest()
        assert (item["filename"], item["content_type"], item["size"]) == (
            name,
            content_type,
            len(data),
        )
        assert (item["uploaded_by"], item["agency"]) == ("na-imm.duty", "NA-IMM")
        assert item["seq"] == added[aid].seq
        assert datetime.fromisoformat(item["created_at"]) == added[aid].at
    # The original download endpoint's bytes hash to the listed SHA-256.
    for data in downloaded:
        assert hashlib.sha256(data).hexdigest() == files[photo_id]["sha256"]
    assert files[photo_id]["withdrawn"] is None
    assert files[photo_id]["original_downloads"] == 2
    gone = files[letter_id]["withdrawn"]
    assert gone is not None
    assert (gone["by"], gone["agency"], gone["reason"]) == (
        "na-imm.senior",
        "NA-IMM",
        "Wrong traveller's letter.",
    )
    assert gone["seq"] > files[letter_id]["seq"]
    assert files[letter_id]["original_downloads"] == 0

    # A filter narrows the events, never the list of files.
    narrowed = export(senior, ref, "json", group="status").json()
    assert not any(row["kind"].startswith("attachment.") for row in narrowed["events"])
    assert [item["id"] for item in narrowed["attachments"]] == [photo_id, letter_id]

    # CSV of its own; the timeline CSV stays rows only.
    sheet = export(senior, ref, "attachments_csv")
    assert sheet["Content-Disposition"] == f'attachment; filename="{ref}-attachments.csv"'
    rows = list(csv.reader(io.StringIO(sheet.content.decode("utf-8-sig"))))
    assert rows[0] == ATTACHMENT_CSV_COLUMNS
    by_id = {int(row[0]): dict(zip(ATTACHMENT_CSV_COLUMNS, row, strict=True)) for row in rows[1:]}
    assert list(by_id) == [photo_id, letter_id]
    assert by_id[photo_id]["sha256"] == hashlib.sha256(photo).hexdigest()
    assert by_id[photo_id]["original_downloads"] == "2"
    assert by_id[photo_id]["withdrawn_at_utc"] == ""
    assert by_id[letter_id]["withdrawn_reason"] == "Wrong traveller's letter."
    assert by_id[letter_id]["timezone"] == "Africa/Windhoek"
    timeline = export(senior, ref, "csv").content.decode("utf-8-sig").splitlines()
    assert timeline[0].startswith("seq,at_utc")
    assert "sha256" not in timeline[0]

    html = export(senior, ref, "html").content.decode()
    assert 'id="evidence"' in html
    assert hashlib.sha256(photo).hexdigest() in html
    assert hashlib.sha256(letter).hexdigest() in html
    assert "Wrong traveller&#x27;s letter." in html


def test_the_list_matches_the_verified_record() -> None:
    ref = report("na-imm.duty", "WDH").ref
    data = image_bytes("PNG", (30, 20))
    aid = upload(client("na-imm.duty"), ref, data, "p.png").json()["attachment"]["id"]
    assert checkpoint_now() is not None
    document = json.loads(export(client("na-imm.senior"), ref, "json").content)
    assert verify_export(document, public_keys()).ok  # the section breaks nothing
    (item,) = document["attachments"]
    (entry,) = [e for e in document["record"]["events"] if e["kind"] == "attachment.added"]
    assert entry["seq"] == item["seq"]
    assert entry["payload"]["attachment_id"] == aid
    assert entry["payload"]["sha256"] == item["sha256"] == hashlib.sha256(data).hexdigest()
