"""Evidence files on incidents: what is accepted, limits, custody events, serving.

Files are made in code (Pillow, bytes); nothing binary is checked in.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import uuid
import zipfile
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.core.cache import cache
from django.core.files.storage import storages
from django.db import connections
from django.test import Client
from PIL import Image

from hub.attachments.cleanup import walk
from hub.attachments.models import Attachment
from hub.events.models import Event
from hub.events.types import validate_payload
from tests.factories import officer, report

pytestmark = pytest.mark.usefixtures("demo", "attachment_storage")


@pytest.fixture(autouse=True)
def _fresh_rate_limit() -> None:
    cache.clear()


API = "/api/v1/incidents"


def image_bytes(fmt: str, size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format=fmt)
    return out.getvalue()


def pdf_bytes(extra: bytes = b"") -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R "
        + extra
        + b" >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
        b"trailer << /Root 1 0 R >>\n%%EOF\n"
    )


def zip_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("a.txt", "hello")
    return out.getvalue()


def client(username: str) -> Client:
    c = Client()
    c.force_login(officer(username))
    return c


def upload(
    c: Client, ref: str, data: bytes, name: str = "photo.jpg", cmid: str | None = None
) -> Any:
    f = io.BytesIO(data)
    f.name = name
    return c.post(
        f"{API}/{ref}/attachments", {"file": f, "client_msg_id": cmid or str(uuid.uuid4())}
    )


def events(ref: str, kind: str) -> list[Event]:
    return list(Event.objects.filter(stream__name=f"incident:{ref}", kind=kind).order_by("seq"))


@pytest.mark.parametrize(
    ("data", "name", "content_type"),
    [
        (image_bytes("JPEG"), "a.jpg", "image/jpeg"),
        (image_bytes("PNG"), "b.png", "image/png"),
        (image_bytes("WEBP"), "c.webp", "image/webp"),
        (pdf_bytes(), "crew list.pdf", "application/pdf"),
        # The name does not decide the type: a PNG called .jpg is a PNG.
        (image_bytes("PNG"), "renamed.jpg", "image/png"),
    ],
)
def test_accepted_types_and_the_event_hash(data: bytes, name: str, content_type: str) -> None:
    incident = report()
    response = upload(client("na-imm.duty"), incident.ref, data, name)
    assert response.status_code == 201, response.content
    body = response.json()["attachment"]
    assert body["content_type"] == content_type
    assert body["size"] == len(data)
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    (added,) = events(incident.ref, "attachment.added")
    payload = validate_payload(added.kind, added.payload)
    assert payload.model_dump()["sha256"] == hashlib.sha256(data).hexdigest()
    assert added.seq == body["seq"]
    stored = Attachment.objects.get(pk=body["id"])
    with storages["attachments"].open(stored.storage_name, "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == body["sha256"]


def truncated_jpeg() -> bytes:
    data = image_bytes("JPEG", (400, 300))
    return data[: len(data) // 2]


def bomb_png() -> bytes:
    # 9000 x 9000 = 81 Mpx of one colour: a few KiB compressed.
    out = io.BytesIO()
    Image.new("1", (9000, 9000)).save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "name", "code"),
    [
        (
            b"<!DOCTYPE html><html><script>alert(1)</script></html>",
            "x.jpg",
            "unsupported_file_type",
        ),
        (
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg">'
            b"<script>alert(1)</script></svg>",
            "x.svg",
            "unsupported_file_type",
        ),
        (
            pdf_bytes(b"/OpenAction << /S /JavaScript /JS (app.alert(1)) >>"),
            "x.pdf",
            "pdf_active_content",
        ),
        (pdf_bytes(b"/Names << /J#61vaScript 3 0 R >>"), "x.pdf", "pdf_active_content"),
        (pdf_bytes(b"/Names << /EmbeddedFiles 3 0 R >>"), "x.pdf", "pdf_active_content"),
        (zip_bytes(), "x.zip", "unsupported_file_type"),
        (b"MZ\x90\x00" + b"\x00" * 200, "x.exe", "unsupported_file_type"),
        (truncated_jpeg(), "x.jpg", "image_undecodable"),
        (bomb_png(), "x.png", "image_too_many_pixels"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "x.heic", "heic_not_supported"),
    ],
    ids=[
        "html",
        "svg",
        "pdf-js",
        "pdf-js-escaped",
        "pdf-embedded",
        "zip",
        "exe",
        "truncated-jpeg",
        "bomb",
        "heic",
    ],
)
def test_refused_types(data: bytes, name: str, code: str) -> None:
    incident = report()
    response = upload(client("na-imm.duty"), incident.ref, data, name)
    assert response.status_code == 415, response.content
    assert response.json()["code"] == code
    assert response.json()["detail"]
    assert not Attachment.objects.exists()
    assert not events(incident.ref, "attachment.added")


def test_oversized_file_is_refused_while_streaming(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The handler stops the parse past the limit: the rest of the body is never read."""
    from django.test import client as test_client

    settings.HUB_ATTACHMENT_MAX_BYTES = 100 * 1024
    incident = report()
    read = {"bytes": 0}
    original = test_client.FakePayload.read

    def counting(self: Any, size: int = -1) -> bytes:
        chunk: bytes = original(self, size)
        read["bytes"] += len(chunk)
        return chunk

    monkeypatch.setattr(test_client.FakePayload, "read", counting)
    # Within the envelope (limit + 64 KiB), so the handler, not the header, refuses.
    data = b"\xff\xd8\xff" + b"\x00" * (160 * 1024)
    response = upload(client("na-imm.duty"), incident.ref, data)
    assert response.status_code == 413, response.content
    assert response.json()["code"] == "file_too_large"
    assert read["bytes"] < len(data)
    assert not Attachment.objects.exists()


def test_declared_length_beyond_the_limit_is_refused_unread(settings: Any) -> None:
    settings.HUB_ATTACHMENT_MAX_BYTES = 1024
    incident = report()
    response = upload(client("na-imm.duty"), incident.ref, b"\x89PNG" + b"\x00" * 200_000)
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def asgi_upload(
    path: str, body: bytes, *, declared: int, chunk: int = 8192
) -> tuple[int, dict[str, Any], int]:
    """Send ``body`` through the real ASGI application; count the chunks it pulled."""
    from hub.asgi import application

    chunks = [body[i : i + chunk] for i in range(0, len(body), chunk)] or [b""]
    pulled = {"n": 0}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        i = pulled["n"]
        pulled["n"] += 1
        if i >= len(chunks):
            await asyncio.sleep(3600)
        return {"type": "http.request", "body": chunks[i], "more_body": i < len(chunks) - 1}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"multipart/form-data; boundary=BOUNDARY"),
            (b"content-length", str(declared).encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }

    async def run() -> None:
        await application(scope, receive, send)
        await sync_to_async(connections.close_all)()

    asyncio.run(run())
    start = next(m for m in sent if m["type"] == "http.response.start")
    import json

    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(content), pulled["n"]


@pytest.mark.django_db(transaction=True)
def test_asgi_stops_reading_a_body_past_the_limit(settings: Any) -> None:
    settings.HUB_ATTACHMENT_MAX_BYTES = 16 * 1024
    body = b"x" * (400 * 1024)
    # Chunked (no honest length): the read stops once past the envelope.
    status, data, pulled = asgi_upload(f"{API}/WDH-2026-0001/attachments", body, declared=len(body))
    assert (status, data["code"]) == (413, "payload_too_large")
    assert pulled * 8192 < len(body)
    # A declared length above the envelope: nothing is read at all.
    status, data, pulled = asgi_upload(f"{API}/WDH-2026-0001/attachments", body, declared=10**9)
    assert (status, data["code"]) == (413, "payload_too_large")
    assert pulled == 0


@pytest.mark.django_db(transaction=True)
def test_asgi_refuses_a_body_that_disagrees_with_its_length() -> None:
    status, data, _ = asgi_upload(f"{API}/WDH-2026-0001/attachments", b"y" * 5000, declared=9000)
    assert (status, data["code"]) == (400, "content_length_mismatch")
    status, data, _ = asgi_upload(f"{API}/WDH-2026-0001/attachments", b"y" * 9000, declared=5000)
    assert (status, data["code"]) == (400, "content_length_mismatch")


def test_idempotent_retry_stores_one_file_and_a_changed_retry_conflicts() -> None:
    incident = report()
    c = client("na-imm.duty")
    cmid = str(uuid.uuid4())
    data = image_bytes("JPEG")
    first = upload(c, incident.ref, data, cmid=cmid)
    again = upload(c, incident.ref, data, cmid=cmid)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["attachment"]["id"] == first.json()["attachment"]["id"]
    assert again.json()["seq"] == first.json()["seq"]
    assert again.json()["duplicate"] is True
    assert Attachment.objects.count() == 1
    assert len(events(incident.ref, "attachment.added")) == 1
    stored = list(walk(storages["attachments"]))
    sha = first.json()["attachment"]["sha256"]
    assert len([name for name in stored if sha in name]) == 1
    # Bytes no other test stored (the storage directory lives for the whole run).
    out = io.BytesIO()
    Image.new("RGB", (13, 7), (1, 2, 3)).save(out, format="PNG")
    other_bytes = out.getvalue() + uuid.uuid4().bytes  # Pillow ignores bytes after IEND
    other = upload(c, incident.ref, other_bytes, cmid=cmid)
    assert other.status_code == 409
    assert other.json()["code"] == "client_msg_id_reused"
    # The refused repeat stored nothing either.
    other_sha = hashlib.sha256(other_bytes).hexdigest()
    assert not [name for name in walk(storages["attachments"]) if other_sha in name]


def test_download_headers_event_withdraw_and_404_sameness() -> None:
    incident = report()
    data = image_bytes("JPEG")
    created = upload(client("na-imm.duty"), incident.ref, data, name='ev"il/../näme.jpg').json()
    attachment_id = created["attachment"]["id"]
    url = f"{API}/{incident.ref}/attachments/{attachment_id}"
    senior = client("na-imm.senior")
    response = senior.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data  # type: ignore[attr-defined]
    assert response["Content-Type"] == "image/jpeg"
    assert response["Content-Disposition"].startswith("attachment; filename*=UTF-8''")
    assert "/" not in created["attachment"]["filename"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert response["Cache-Control"] == "private, no-store"
    (downloaded,) = events(incident.ref, "attachment.original_downloaded")
    assert downloaded.actor.username == "na-imm.senior"  # type: ignore[union-attr]
    # A participant who is not lead coordinator or senior: 403 on the original.
    duty = client("na-imm.duty").get(url)
    assert (duty.status_code, duty.json()["code"]) == (403, "original_restricted")
    # Not yours and does not exist answer alike.
    foreign = client("za-imm.senior").get(url)
    missing = senior.get(f"{API}/{incident.ref}/attachments/999999")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()
    # Withdraw: the uploader may; then nobody is served the file, the list says so.
    withdrawn = client("na-imm.duty").post(
        f"{url}/withdraw", {"reason": "Wrong person"}, content_type="application/json"
    )
    assert withdrawn.status_code == 200, withdrawn.content
    assert len(events(incident.ref, "attachment.withdrawn")) == 1
    assert senior.get(url).status_code == 404
    listed = senior.get(f"{API}/{incident.ref}/attachments").json()["items"]
    assert [(a["id"], a["withdrawn"], a["withdrawn_reason"]) for a in listed] == [
        (attachment_id, True, "Wrong person")
    ]
    stored = Attachment.objects.get(pk=attachment_id)
    assert storages["attachments"].exists(stored.storage_name)


@pytest.fixture
def one_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    """The uploads of a test fall in one rate-limit window, even across a minute boundary."""
    monkeypatch.setattr("hub.attachments.services._minute", lambda: 29_000_000)


@pytest.mark.usefixtures("one_minute")
def test_rate_limit(settings: Any) -> None:
    settings.HUB_ATTACHMENT_UPLOADS_PER_MINUTE = 2
    settings.REDIS_URL = None  # counted in this process
    incident = report()
    c = client("na-imm.duty")
    codes = [upload(c, incident.ref, image_bytes("PNG")).status_code for _ in range(3)]
    assert codes == [201, 201, 429]


@pytest.mark.usefixtures("one_minute")
def test_rate_limit_is_shared_by_the_workers_through_redis(settings: Any, redis_url: str) -> None:
    settings.HUB_ATTACHMENT_UPLOADS_PER_MINUTE = 2
    settings.REDIS_URL = redis_url
    settings.HUB_REDIS_PREFIX = f"test-{uuid.uuid4().hex[:8]}"
    incident = report()
    c = client("na-imm.duty")
    codes = []
    for _ in range(3):
        cache.clear()  # as if each upload reached another worker
        codes.append(upload(c, incident.ref, image_bytes("PNG")).status_code)
    assert codes == [201, 201, 429]


def test_a_message_refers_to_files_of_its_incident_only() -> None:
    incident = report()
    other = report()
    c = client("na-imm.duty")
    mine = upload(c, incident.ref, image_bytes("PNG")).json()["attachment"]["id"]
    theirs = upload(c, other.ref, image_bytes("JPEG")).json()["attachment"]["id"]
    gone = upload(c, incident.ref, pdf_bytes()).json()["attachment"]["id"]
    c.post(
        f"{API}/{incident.ref}/attachments/{gone}/withdraw",
        {"reason": "Wrong file"},
        content_type="application/json",
    )

    def send(ids: list[int]) -> Any:
        return c.post(
            f"{API}/{incident.ref}/messages",
            {"body": "Visa foil attached.", "client_msg_id": str(uuid.uuid4()), "attachments": ids},
            content_type="application/json",
        )

    before = Event.objects.filter(stream__name=f"incident:{incident.ref}").count()
    for ids, status, code in [
        ([theirs], 422, "attachment_unknown"),
        ([999999], 422, "attachment_unknown"),
        ([mine, gone], 409, "attachment_withdrawn"),
    ]:
        refused = send(ids)
        assert (refused.status_code, refused.json()["code"]) == (status, code), refused.content
    assert Event.objects.filter(stream__name=f"incident:{incident.ref}").count() == before
    posted = send([mine])
    assert posted.status_code == 201, posted.content
    assert posted.json()["message"]["attachments"] == [mine]
    (event,) = events(incident.ref, "message.posted")
    assert event.payload["attachments"] == [mine]
    assert validate_payload(event.kind, event.payload).model_dump()["attachments"] == [mine]
    # A message without files keeps the payload shape it always had.
    plain = c.post(
        f"{API}/{incident.ref}/messages",
        {"body": "No files.", "client_msg_id": str(uuid.uuid4())},
        content_type="application/json",
    )
    assert plain.json()["message"]["attachments"] == []
    assert "attachments" not in events(incident.ref, "message.posted")[-1].payload


def test_a_message_of_files_only_needs_no_text_and_one_without_files_does() -> None:
    incident = report()
    c = client("na-imm.duty")
    photo = upload(c, incident.ref, image_bytes("PNG")).json()["attachment"]["id"]

    def send(body: str, ids: list[int]) -> Any:
        return c.post(
            f"{API}/{incident.ref}/messages",
            {"body": body, "client_msg_id": str(uuid.uuid4()), "attachments": ids},
            content_type="application/json",
        )

    empty = send("  ", [])
    assert (empty.status_code, empty.json()["code"]) == (422, "invalid_request"), empty.content
    assert "body" in empty.json()["detail"]
    pasted = send("", [photo])
    assert pasted.status_code == 201, pasted.content
    assert (pasted.json()["message"]["body"], pasted.json()["message"]["attachments"]) == (
        "",
        [photo],
    )


def test_a_resent_withdrawal_answers_like_the_first_and_records_one() -> None:
    incident = report()
    c = client("na-imm.duty")
    file_id = upload(c, incident.ref, pdf_bytes()).json()["attachment"]["id"]
    url = f"{API}/{incident.ref}/attachments/{file_id}/withdraw"
    cmid = str(uuid.uuid4())
    first = c.post(url, {"reason": "Wrong file", "client_msg_id": cmid}, "application/json")
    again = c.post(url, {"reason": "Wrong file", "client_msg_id": cmid}, "application/json")
    assert (first.status_code, again.status_code) == (200, 200), again.content
    assert (first.json()["seq"], first.json()["duplicate"]) == (again.json()["seq"], False)
    assert again.json()["duplicate"] is True
    assert len(events(incident.ref, "attachment.withdrawn")) == 1
    # Without an id (or with a new one) a second withdrawal is still refused.
    other = c.post(
        url, {"reason": "Wrong file", "client_msg_id": str(uuid.uuid4())}, "application/json"
    )
    assert (other.status_code, other.json()["code"]) == (409, "attachment_withdrawn")
