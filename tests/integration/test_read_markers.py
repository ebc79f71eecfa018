"""Read markers ("seen by"): the service, its REST endpoints and IncidentOut.read_seq.

The incident is reported by ``na-imm.duty`` at WDH. With ``visibility="participants"``
only NA-IMM (and senior officials serving WDH) read it; NA-POL is deployed at WDH but
does not participate; ZA-IMM serves JNB only. The authorization matrix
(``test_authorization_matrix.py``) covers every role and relation; this file covers
what a marker does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from hub.errors import NotFound
from hub.events.bus import parse_stream_message, stream_channel
from hub.events.models import Event, ReadMarker
from hub.events.reads import read_seqs, stream_mark_read, stream_readers
from hub.incidents import services
from hub.realtime import protocol as p
from tests.factories import Api, officer, post, report

pytestmark = pytest.mark.usefixtures("demo")

Published = list[tuple[str, str]]
Capture = Callable[..., AbstractContextManager[list[Callable[[], Any]]]]


def seen_frames(published: Published, stream: str) -> list[dict[str, Any]]:
    frames = []
    for channel, message in published:
        header, body = parse_stream_message(message)
        if header == "S":
            assert channel == stream_channel(stream)
            p.SERVER_FRAME.validate_json(body)  # exactly the documented frame
            frames.append(json.loads(body))
    return frames


def marker(username: str, stream: str) -> int | None:
    found = ReadMarker.objects.filter(user__username=username, stream_name=stream).first()
    return None if found is None else found.seq


def incident_with_messages(count: int = 3, **fields: Any) -> str:
    incident = report("na-imm.duty", "WDH", **fields)
    for i in range(count):
        post("na-imm.duty", incident.ref, f"message {i}")
    return incident.ref


def test_marking_read_is_monotonic_and_clamped_to_the_head(
    published: Published, django_capture_on_commit_callbacks: Capture
) -> None:
    ref = incident_with_messages(3)  # seqs 1..4
    stream = f"incident:{ref}"
    coord = officer("na-imm.coord")
    with django_capture_on_commit_callbacks(execute=True):
        first = stream_mark_read(actor=coord, stream=stream, seq=2)
    assert (first.marker.seq, first.advanced, first.agency) == (2, True, "NA-IMM")
    with django_capture_on_commit_callbacks(execute=True):
        lower = stream_mark_read(actor=coord, stream=stream, seq=1)
    assert (lower.marker.seq, lower.advanced) == (2, False)  # never goes down
    with django_capture_on_commit_callbacks(execute=True):
        beyond = stream_mark_read(actor=coord, stream=stream, seq=1_000)
    assert (beyond.marker.seq, beyond.advanced) == (4, True)  # the head
    with django_capture_on_commit_callbacks(execute=True):
        again = stream_mark_read(actor=coord, stream=stream, seq=4)
    assert again.advanced is False
    assert marker("na-imm.coord", stream) == 4
    assert ReadMarker.objects.filter(user=coord).count() == 1
    user = {"user": "na-imm.coord", "name": coord.display_name, "agency": "NA-IMM"}
    # Only the moves are announced.
    assert seen_frames(published, stream) == [
        {"type": "seen", "stream": stream, "user": user, "seq": 2},
        {"type": "seen", "stream": stream, "user": user, "seq": 4},
    ]


def test_a_marker_is_not_an_event() -> None:
    ref = incident_with_messages(2)
    events = Event.objects.count()
    stream_mark_read(actor=officer("na-imm.duty"), stream=f"incident:{ref}", seq=3)
    assert Event.objects.count() == events


def test_only_readers_may_mark_or_list(
    published: Published, django_capture_on_commit_callbacks: Capture
) -> None:
    ref = incident_with_messages(1)
    stream = f"incident:{ref}"
    for username in ("na-pol.duty", "za-imm.duty", "na-imm.admin"):
        with django_capture_on_commit_callbacks(execute=True), pytest.raises(NotFound):
            stream_mark_read(actor=officer(username), stream=stream, seq=1)
        api = Api(username)
        assert api.post(f"/api/v1/streams/{stream}/read", {"seq": 1}).status_code == 404
        listed = api.get(f"/api/v1/streams/{stream}/reads")
        assert (listed.status_code, listed.json()["code"]) == (404, "not_found")
    for missing in ("incident:WDH-1999-0001", "nonsense", "crossing:ZZZ"):
        with pytest.raises(NotFound):
            stream_mark_read(actor=officer("na-imm.duty"), stream=missing, seq=1)
    assert not ReadMarker.objects.exists()
    assert seen_frames(published, stream) == []


def test_readers_are_those_who_can_still_read(
    django_capture_on_commit_callbacks: Capture,
) -> None:
    ref = incident_with_messages(2, visibility="crossing_point")  # seqs 1..3
    stream = f"incident:{ref}"
    stream_mark_read(actor=officer("na-imm.coord"), stream=stream, seq=3)
    stream_mark_read(actor=officer("na-pol.duty"), stream=stream, seq=2)
    stream_mark_read(actor=officer("na-imm.senior"), stream=stream, seq=0)  # read nothing yet
    readers = [(r.username, r.agency, r.seq) for r in stream_readers(stream)]
    assert readers == [("na-imm.coord", "NA-IMM", 3), ("na-pol.duty", "NA-POL", 2)]
    services.incident_update(
        actor=officer("na-imm.coord"), ref=ref, changes={"visibility": "participants"}
    )
    # NA-POL no longer reads the incident: its marker stays, but it is not shown.
    assert [r.username for r in stream_readers(stream)] == ["na-imm.coord"]
    assert marker("na-pol.duty", stream) == 2
    body = Api("na-imm.duty").get(f"/api/v1/streams/{stream}/reads").json()
    coord = officer("na-imm.coord")
    assert body["stream"] == stream
    assert body["head"] == 4
    assert [{k: v for k, v in r.items() if k != "updated_at"} for r in body["readers"]] == [
        {"user": "na-imm.coord", "name": coord.display_name, "agency": "NA-IMM", "seq": 3}
    ]
    assert body["readers"][0]["updated_at"]


def test_rest_post_returns_the_stored_marker() -> None:
    ref = incident_with_messages(2)  # seqs 1..3
    stream = f"incident:{ref}"
    api = Api("na-imm.duty")
    first = api.post(f"/api/v1/streams/{stream}/read", {"seq": 2})
    assert first.status_code == 200, first.content
    assert {k: v for k, v in first.json().items() if k != "updated_at"} == {
        "stream": stream,
        "seq": 2,
    }
    lower = api.post(f"/api/v1/streams/{stream}/read", {"seq": 1})
    assert lower.json()["seq"] == 2
    assert lower.json()["updated_at"] == first.json()["updated_at"]
    beyond = api.post(f"/api/v1/streams/{stream}/read", {"seq": 99})
    assert beyond.json()["seq"] == 3
    for bad in ({"seq": -1}, {"seq": "2"}, {"seq": True}, {}, {"seq": 1, "x": 1}):
        refused = api.post(f"/api/v1/streams/{stream}/read", bad)
        assert (refused.status_code, refused.json()["code"]) == (422, "invalid_request"), bad
    assert marker("na-imm.duty", stream) == 3


def test_incident_out_carries_the_callers_read_seq() -> None:
    refs = [incident_with_messages(2) for _ in range(3)]  # each at seq 3
    duty, coord = officer("na-imm.duty"), officer("na-imm.coord")
    stream_mark_read(actor=duty, stream=f"incident:{refs[0]}", seq=2)
    stream_mark_read(actor=duty, stream=f"incident:{refs[1]}", seq=3)
    stream_mark_read(actor=coord, stream=f"incident:{refs[2]}", seq=1)  # not duty's
    api = Api("na-imm.duty")
    with CaptureQueriesContext(connection) as queries:
        listed = api.get("/api/v1/incidents", {"limit": 50})
    assert listed.status_code == 200
    read = {i["ref"]: (i["seq"], i["read_seq"]) for i in listed.json()["items"]}
    assert read == {refs[0]: (3, 2), refs[1]: (3, 3), refs[2]: (3, 0)}
    marker_queries = [q for q in queries.captured_queries if "events_readmarker" in q["sql"]]
    assert len(marker_queries) == 1  # one query for the whole page
    detail = api.get(f"/api/v1/incidents/{refs[0]}").json()
    assert (detail["seq"], detail["read_seq"]) == (3, 2)
    assert Api("na-imm.coord").get(f"/api/v1/incidents/{refs[2]}").json()["read_seq"] == 1
    # Write responses carry it too.
    changed = Api("na-imm.coord").patch(f"/api/v1/incidents/{refs[2]}", {"severity": "high"})
    assert (changed.json()["seq"], changed.json()["read_seq"]) == (4, 1)


def test_read_seqs_defaults_to_zero() -> None:
    ref = incident_with_messages(1)
    duty = officer("na-imm.duty")
    assert read_seqs(user_id=duty.pk, streams=[f"incident:{ref}", "incident:X"]) == {
        f"incident:{ref}": 0,
        "incident:X": 0,
    }
