"""Replay, resume and the timeline build envelopes from plain rows (``EventRow``): the
same envelopes as from the Event instances, in a few queries whatever the page size.
Replay frames and REST pages are built as plain dicts (``envelope_dicts_for``): the
same JSON as the pydantic envelopes, on every event of the demo record."""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pydantic import TypeAdapter

from hub.events.models import Event
from hub.events.pipeline import actor_ref
from hub.events.selectors import (
    envelope_dicts_for,
    envelopes_after,
    envelopes_for,
    events_after,
    json_time,
)
from hub.events.types import EventEnvelope
from hub.incidents import services
from hub.incidents.selectors import present_incident_events
from hub.realtime.selectors import frames_between
from tests.factories import officer, post, report, seed

pytestmark = pytest.mark.django_db


def busy_incident() -> str:
    """Messages by two agencies, an edit, a redaction, mentions, a status move."""
    seed()
    incident = report()
    ref = incident.ref
    services.incident_invite_agency(actor=officer("na-imm.coord"), ref=ref, agency="NA-POL")
    first = post("na-imm.duty", ref, "Passenger held at desk 4 @NA-POL")
    post("na-pol.duty", ref, "On my way.")
    services.message_edit(
        actor=officer("na-imm.duty"),
        ref=ref,
        message_id=first.message.pk,
        body="Passenger held at desk 5 @NA-POL",
        client_msg_id=uuid.uuid4(),
    )
    secret = post("na-imm.duty", ref, "Name and passport number of the witness")
    services.message_redact(
        actor=officer("na-imm.duty"),
        ref=ref,
        message_id=secret.message.pk,
        reason="Personal data posted by mistake",
    )
    for i in range(30):
        post("na-pol.duty" if i % 2 else "na-imm.duty", ref, f"update {i}")
    return incident.stream_name


def from_instances(stream: str, after: int, until: int | None) -> list[EventEnvelope]:
    """The envelopes as built from Event instances (how they were built before rows)."""
    events = Event.objects.filter(stream__name=stream, seq__gt=after).order_by("seq")
    if until is not None:
        events = events.filter(seq__lte=until)
    page = list(events.select_related("actor", "actor_agency", "stream"))
    return [
        EventEnvelope(
            stream=e.stream.name,
            seq=e.seq,
            kind=e.kind,
            at=e.at,
            actor=actor_ref(e.actor, e.actor_agency),
            payload=payload,
        )
        for e, payload in zip(page, present_incident_events(page), strict=True)
    ]


def test_envelopes_from_rows_equal_the_ones_from_instances_redactions_included() -> None:
    stream = busy_incident()
    for after, until in [(0, None), (3, None), (0, 7), (10, 20)]:
        expected = from_instances(stream, after, until)
        assert expected
        assert envelopes_after(stream, after=after, limit=500, until=until) == expected
    redacted = [e for e in envelopes_after(stream, after=0, limit=500) if e.payload.get("redacted")]
    assert redacted
    assert all(e.payload["body"] == "" for e in redacted)
    assert {e.actor.agency for e in envelopes_after(stream, after=0, limit=500) if e.actor} == {
        "NA-IMM",
        "NA-POL",
    }


def test_a_replay_page_costs_the_same_few_queries_at_any_size() -> None:
    stream = busy_incident()
    with CaptureQueriesContext(connection) as small:
        assert len(frames_between(stream, after=0, upto=3)) == 3
    with CaptureQueriesContext(connection) as large:
        assert len(frames_between(stream, after=0)) > 30
    # The stream id, the rows, the actors, the agencies, the redacted messages.
    assert len(large.captured_queries) == len(small.captured_queries) <= 5


def test_the_rest_page_is_the_documented_event_page_with_the_frames_times() -> None:
    from hub.events.api import EventPage
    from tests.factories import Api

    stream = busy_incident()
    response = Api("na-imm.duty").get(f"/api/v1/streams/{stream}/events", {"limit": 500})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    page = EventPage.model_validate(response.json())
    stored = list(Event.objects.filter(stream__name=stream).order_by("seq"))
    assert [e.seq for e in page.events] == [e.seq for e in stored]
    assert [(e.at, e.hash, e.prev_hash) for e in page.events] == [
        (e.at, e.hash, e.prev_hash) for e in stored
    ]
    # The same text as the socket's replay frames (microseconds kept).
    frames = [json.loads(f) for _, f in frames_between(stream, after=0)]
    assert [e["at"] for e in response.json()["events"]] == [f["at"] for f in frames]


@pytest.mark.parametrize(
    "at",
    [
        datetime(2026, 12, 6, 4, 9, 18, 641000, tzinfo=UTC),
        datetime(2026, 12, 6, 4, 9, 18, tzinfo=UTC),
        datetime(2026, 12, 6, 4, 9, 18, 1, tzinfo=ZoneInfo("UTC")),
        datetime(2026, 12, 6, 6, 9, 18, 500, tzinfo=ZoneInfo("Africa/Windhoek")),
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=-3, minutes=-30))),
    ],
)
def test_json_time_is_pydantics_form_of_the_time(at: datetime) -> None:
    assert json_time(at) == TypeAdapter(datetime).dump_python(at, mode="json")


def test_envelope_dicts_and_frames_equal_the_models_on_every_demo_stream() -> None:
    """Every stream of the demo record (incidents, crossing points with alerts,
    operations, templates) and a redacted message."""
    from django.core.management import call_command

    from hub.events.models import Stream
    from hub.events.pipeline import encode_event_frame

    busy_incident()
    call_command("seed_demo", "--quiet-logins", stdout=io.StringIO())
    kinds: set[str] = set()
    streams = list(Stream.objects.values_list("name", flat=True))
    assert len(streams) > 10
    for name in streams:
        rows = events_after(name, after=0, limit=2000)
        models = envelopes_for(rows, present_stream=name)
        assert envelope_dicts_for(rows, present_stream=name) == [
            m.model_dump(mode="json") for m in models
        ], name
        assert frames_between(name, after=0) == [
            (m.seq, encode_event_frame(m)) for m in models[:500]
        ], name
        kinds.update(row.kind for row in rows)
    assert {"message.posted", "message.redacted", "alert.issued", "incident.reported"} <= kinds
