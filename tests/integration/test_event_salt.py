"""The per-event salt: stored, random per event, hashed, and never shown.

Hashes are public (the timeline API and exports carry them) and every other
input of a hash is guessable, so without a secret per-event salt anyone could
confirm a guess of a redacted message's text by recomputing its hash.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import connection, connections

from hub.events.audit import verify
from hub.events.bus import local_bus
from hub.events.chain import canonical_bytes, chain_hash
from hub.events.models import Event, Stream
from hub.events.pipeline import encode_event_frame
from hub.events.selectors import envelopes_for, events_after
from hub.incidents import services
from hub.realtime.hub import reset_hub
from tests.factories import Api, officer, post, report, seed
from tests.realtime_support import Socket

HEX32 = re.compile(r"^[0-9a-f]{32}$")
PHONE = "+264 81 555 0123"


def _tamper(sql: str, params: list[Any]) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = origin")


def _recompute(event: Event, *, salt: str) -> str:
    return chain_hash(
        event.prev_hash,
        canonical_bytes(
            form=event.form,
            stream=event.stream.name,
            seq=event.seq,
            kind=event.kind,
            actor_id=event.actor_id,
            agency_id=event.actor_agency_id,
            at=event.at,
            payload=event.payload,
            salt=salt,
        ),
    )


def _redacted_incident() -> tuple[str, list[str]]:
    """An incident whose channel holds a redacted phone number; returns (ref, salts)."""
    incident = report()
    message = post("na-imm.duty", incident.ref, f"Call the sponsor on {PHONE}").message
    services.message_redact(
        actor=officer("na-imm.coord"), ref=incident.ref, message_id=message.pk, reason="PII"
    )
    salts = list(
        Event.objects.filter(stream__name=incident.stream_name).values_list("salt", flat=True)
    )
    return incident.ref, salts


@pytest.mark.usefixtures("demo")
def test_every_event_stores_a_fresh_random_salt_that_its_hash_covers() -> None:
    incident = report()
    for i in range(4):
        post("na-imm.duty", incident.ref, "same text")  # identical payloads, all but seq
        post("na-imm.coord", incident.ref, f"message {i}")
    events = list(Event.objects.filter(stream__name=incident.stream_name).select_related("stream"))
    salts = [e.salt for e in events]
    assert all(HEX32.fullmatch(s) for s in salts), salts
    assert len(set(salts)) == len(salts) == 9
    for event in events:
        assert _recompute(event, salt=event.salt) == event.hash
        assert _recompute(event, salt="") != event.hash
    assert verify().ok


@pytest.mark.usefixtures("demo")
def test_changing_a_salt_breaks_the_chain_at_that_event() -> None:
    incident = report()
    for i in range(3):
        post("na-imm.duty", incident.ref, f"message {i}")
    target = Event.objects.get(stream__name=incident.stream_name, seq=3)
    _tamper("UPDATE events_event SET salt = %s WHERE id = %s", ["0" * 32, target.pk])
    first = verify().first_broken
    assert first is not None
    assert (first.stream, first.seq) == (incident.stream_name, 3)
    assert "does not match its hash" in first.reason
    _tamper("UPDATE events_event SET salt = %s WHERE id = %s", ["", target.pk])
    assert verify().first_broken == first


@pytest.mark.usefixtures("demo")
def test_events_recorded_before_salting_still_verify(monkeypatch: pytest.MonkeyPatch) -> None:
    """A legacy (unsalted) event's canonical form has no salt key: old chains stay valid."""
    monkeypatch.setattr("hub.events.pipeline.new_salt", lambda: "")
    incident = report()
    post("na-imm.duty", incident.ref)
    monkeypatch.undo()
    post("na-imm.duty", incident.ref, "salted from here on")
    salts = list(
        Event.objects.filter(stream__name=incident.stream_name)
        .order_by("seq")
        .values_list("salt", flat=True)
    )
    assert salts[:2] == ["", ""]
    assert HEX32.fullmatch(salts[2])
    first = Event.objects.select_related("stream").get(stream__name=incident.stream_name, seq=1)
    legacy = canonical_bytes(
        form=2,
        stream=first.stream.name,
        seq=1,
        kind=first.kind,
        actor_id=first.actor_id,
        agency_id=first.actor_agency_id,
        at=first.at,
        payload=first.payload,
        salt="",
    )
    assert b'"salt"' not in legacy
    report_ = verify()
    assert report_.ok
    assert report_.events_checked == 3


def _assert_hidden(text: str, salts: list[str], where: str) -> None:
    for salt in salts:
        assert salt not in text, f"a salt leaks through {where}"
    assert '"salt"' not in text, f"a salt field appears in {where}"
    assert PHONE not in text, f"the redacted text leaks through {where}"


@pytest.mark.usefixtures("demo")
def test_no_api_export_or_frame_contains_a_salt(
    settings: Any,
    django_capture_on_commit_callbacks: Callable[..., AbstractContextManager[Any]],
) -> None:
    settings.REDIS_URL = None  # the in-process bus, so this test sees every published frame
    seen: list[str] = []

    def listener(channel: str, message: str) -> None:
        seen.append(message)

    local_bus().add_listener(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            ref, salts = _redacted_incident()
    finally:
        local_bus().remove_listener(listener)
    stream = f"incident:{ref}"
    assert len(salts) == 3
    assert all(salts)
    # Live frames (the bus carries the encoded WebSocket frames, and notices
    # such as "a new incident at this crossing point").
    assert len([m for m in seen if '{"type":"event"' in m]) == 3, seen
    for message in seen:
        for salt in salts:
            assert salt not in message
        assert '"salt"' not in message
    # Replay frames, as the realtime layer builds them.
    events = events_after(stream, after=0, limit=100)
    for envelope in envelopes_for(events, present_stream=stream):
        _assert_hidden(encode_event_frame(envelope), salts, "a replayed frame")
    # REST: the timeline, the incident, its messages, verification.
    senior = Api("na-imm.senior")
    page = senior.get(f"/api/v1/streams/{stream}/events", {"limit": 500})
    assert page.status_code == 200
    assert [e["seq"] for e in page.json()["events"]] == [1, 2, 3]
    assert all(set(e) == set(page.json()["events"][0]) for e in page.json()["events"])
    assert "salt" not in page.json()["events"][0]
    _assert_hidden(page.content.decode(), salts, "GET /streams/{stream}/events")
    for path in (f"/api/v1/incidents/{ref}", f"/api/v1/incidents/{ref}/messages"):
        response = senior.get(path)
        assert response.status_code == 200
        _assert_hidden(response.content.decode(), salts, path)
    verified = senior.get("/api/v1/audit/verify", {"stream": stream})
    assert verified.json()["ok"] is True
    _assert_hidden(verified.content.decode(), salts, "/audit/verify")
    # Exports: CSV and the printable report carry no salt at all.
    for fmt in ("csv", "html"):
        exported = senior.get(f"/api/v1/incidents/{ref}/export", {"format": fmt})
        assert exported.status_code == 200, exported.content
        text = exported.content.decode("utf-8-sig")
        assert Event.objects.get(stream__name=stream, seq=2).hash[:16] in text  # html cuts it
        _assert_hidden(text, salts, f"the {fmt} export")
    # The JSON export's verifiable record shows a salt only beside the payload it
    # salts, so anyone can recompute that event's digest; the redacted message's
    # event carries its digest alone: neither its text nor its salt is in the file.
    exported = senior.get(f"/api/v1/incidents/{ref}/export")
    text = exported.content.decode("utf-8")
    document = json.loads(text)
    assert all("salt" not in row for row in document["events"])
    redacted_salt = Event.objects.get(stream__name=stream, seq=2).salt
    assert redacted_salt not in text
    assert PHONE not in text
    entries = {e["seq"]: e for e in document["record"]["events"]}
    assert set(entries) == {1, 2, 3}
    assert "payload" not in entries[2]
    assert "salt" not in entries[2]
    assert entries[2]["payload_digest"]
    for seq in (1, 3):
        assert entries[seq]["salt"] == salts[seq - 1]
        assert "payload" in entries[seq]


@pytest.fixture
async def live(settings: Any) -> AsyncIterator[None]:
    settings.REDIS_URL = None
    await sync_to_async(seed)()
    yield
    await reset_hub()
    await sync_to_async(connections.close_all)()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("live")
async def test_websocket_replay_and_live_frames_carry_no_salt() -> None:
    ref, salts = await sync_to_async(_redacted_incident)()
    socket = await Socket.open("na-imm.duty")
    try:
        frames = await socket.subscribe(f"incident:{ref}")
        events = [f for f in frames if f["type"] == "event"]
        assert [f["seq"] for f in events] == [1, 2, 3]
        await sync_to_async(post)("na-imm.duty", ref, "live one")
        live_frame = await socket.recv_until("event")
        events.append(live_frame[-1])
        assert events[-1]["seq"] == 4
        salts += await sync_to_async(
            lambda: [Event.objects.get(stream__name=f"incident:{ref}", seq=4).salt]
        )()
        for frame in events:
            assert "salt" not in frame
            _assert_hidden(json.dumps(frame), salts, "a WebSocket frame")
    finally:
        await socket.close()
    assert await sync_to_async(lambda: Stream.objects.get(name=f"incident:{ref}").last_seq)() == 4
