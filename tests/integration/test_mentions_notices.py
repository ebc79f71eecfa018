"""Mentions in messages (services and REST) and the notices services publish after commit.

The incident is reported by ``na-imm.duty`` at WDH with ``visibility="participants"``;
NA-CUS is invited, so NA-IMM and NA-CUS participate and NA-POL (deployed at WDH) does
not. Notices are observed on the in-process bus (the ``published`` fixture): incident
notices on the ``crossing:WDH`` channel behind an ``N`` header, mention notices on the
control channel. How the live layer turns them into frames, and to whom, is covered
in ``test_ws_notices_reads.py``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.db import transaction

from hub.agencies.models import Agency
from hub.agencies.selectors import access_for
from hub.errors import Conflict, Forbidden
from hub.events.audit import verify
from hub.events.bus import control_channel, parse_stream_message, stream_channel
from hub.events.chain import canonical_bytes, chain_hash, new_salt
from hub.events.models import Event, Stream
from hub.events.selectors import stream_events_for
from hub.events.types import validate_payload
from hub.incidents import services
from hub.incidents.models import Incident, Message
from tests.factories import Api, officer, post, report

pytestmark = pytest.mark.usefixtures("demo")

Published = list[tuple[str, str]]
Capture = Callable[..., AbstractContextManager[list[Callable[[], Any]]]]

CUS = {"kind": "agency", "key": "NA-CUS", "name": "Namibia Customs and Excise"}


def officer_mention(username: str) -> dict[str, str]:
    return {"kind": "officer", "key": username, "name": officer(username).display_name}


def user_ids(*usernames: str) -> list[int]:
    return sorted(officer(u).pk for u in usernames)


def incident_with_customs(**fields: Any) -> Incident:
    incident = report("na-imm.duty", "WDH", **fields)
    services.incident_invite_agency(
        actor=officer("na-imm.coord"), ref=incident.ref, agency="NA-CUS"
    )
    return incident


def incident_notices(published: Published) -> list[dict[str, Any]]:
    found = []
    for channel, message in published:
        header, body = parse_stream_message(message)
        if header == "N":
            assert channel == stream_channel("crossing:WDH"), channel
            found.append(json.loads(body))
    return found


def mention_notices(published: Published) -> list[dict[str, Any]]:
    found = []
    for channel, message in published:
        if channel == control_channel():
            data = json.loads(message)
            if data.get("type") == "mention_notice":
                found.append(data)
    return found


def last_payload(incident: Incident) -> dict[str, Any]:
    event = Event.objects.filter(stream__name=incident.stream_name).order_by("-seq").first()
    assert event is not None
    return dict(event.payload)


BODY = (
    "@na-cus please hold the cargo; @NA-POL too. cc @na-imm.coord and @na-pol.duty, "
    "mail ops@na-imm.senior, and @nobody.here. Me: @na-imm.duty"
)


# --- mentions ----------------------------------------------------------------------------


def test_post_records_the_mentions_that_resolve(
    published: Published, django_capture_on_commit_callbacks: Capture
) -> None:
    incident = incident_with_customs()
    with django_capture_on_commit_callbacks(execute=True):
        result = post("na-imm.duty", incident.ref, BODY)
    # NA-POL does not participate, na-pol.duty may not read the incident, ops@... is an
    # address and nobody.here does not exist: none of them is a mention.
    expected = [CUS, officer_mention("na-imm.coord"), officer_mention("na-imm.duty")]
    payload = last_payload(incident)
    assert payload["mentions"] == expected
    validate_payload("message.posted", payload)
    assert Message.objects.get(pk=result.message.pk).mentions == expected
    (notice,) = mention_notices(published)
    # The officer named and NA-CUS's duty officer and coordinator; never the author,
    # and not NA-CUS's senior official (agency mentions reach operational roles).
    assert notice["recipients"] == user_ids("na-imm.coord", "na-cus.duty", "na-cus.coord")
    author = officer("na-imm.duty")
    assert notice["notice"] == {
        "type": "notice",
        "kind": "mention",
        "crossing_point": "WDH",
        "ref": incident.ref,
        "stream": incident.stream_name,
        "seq": result.seq,
        "by": {"user": "na-imm.duty", "name": author.display_name, "agency": "NA-IMM"},
        "excerpt": BODY[:140],
    }


def test_a_mentioned_officer_must_be_able_to_read_the_incident() -> None:
    incident = incident_with_customs(visibility="crossing_point")
    post("na-imm.duty", incident.ref, "@na-pol.duty can you look? @za-imm.duty too")
    # With crossing-point visibility NA-POL reads it; ZA-IMM (JNB) never does.
    assert last_payload(incident)["mentions"] == [officer_mention("na-pol.duty")]


def test_usernames_match_case_insensitively_when_unambiguous() -> None:
    incident = incident_with_customs()
    post("na-imm.duty", incident.ref, "@NA-IMM.COORD please")
    assert last_payload(incident)["mentions"] == [officer_mention("na-imm.coord")]


def test_an_inactive_agency_is_not_mentioned() -> None:
    incident = incident_with_customs()
    Agency.objects.filter(code="NA-CUS").update(is_active=False)
    post("na-imm.duty", incident.ref, "@NA-CUS?")
    assert last_payload(incident)["mentions"] == []


def test_no_mentions_means_no_notice(
    published: Published, django_capture_on_commit_callbacks: Capture
) -> None:
    incident = incident_with_customs()
    with django_capture_on_commit_callbacks(execute=True):
        post("na-imm.duty", incident.ref, "Nothing to see, mail duty@na-cus.example")
    assert last_payload(incident)["mentions"] == []
    assert mention_notices(published) == []
    # A self-mention is a mention, but nobody is notified of it.
    with django_capture_on_commit_callbacks(execute=True):
        post("na-imm.duty", incident.ref, "note to @na-imm.duty")
    assert last_payload(incident)["mentions"] == [officer_mention("na-imm.duty")]
    assert mention_notices(published) == []


def test_edit_recomputes_mentions_and_notifies_only_the_new_ones(
    published: Published, django_capture_on_commit_callbacks: Capture
) -> None:
    incident = incident_with_customs()
    with django_capture_on_commit_callbacks(execute=True):
        result = post("na-imm.duty", incident.ref, "@na-imm.coord look")
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        edited = services.message_edit(
            actor=officer("na-imm.duty"),
            ref=incident.ref,
            message_id=result.message.pk,
            body="@na-imm.coord look, and @NA-CUS",
        )
    payload = last_payload(incident)
    assert payload["mentions"] == [officer_mention("na-imm.coord"), CUS]
    validate_payload("message.edited", payload)
    assert Message.objects.get(pk=result.message.pk).mentions == payload["mentions"]
    (notice,) = mention_notices(published)
    assert notice["recipients"] == user_ids("na-cus.duty", "na-cus.coord")
    assert notice["notice"]["seq"] == edited.seq
    # Taking a mention out notifies nobody, and the row follows the text.
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.message_edit(
            actor=officer("na-imm.duty"),
            ref=incident.ref,
            message_id=result.message.pk,
            body="never mind",
        )
    assert last_payload(incident)["mentions"] == []
    assert Message.objects.get(pk=result.message.pk).mentions == []
    assert mention_notices(published) == []


def test_a_rolled_back_post_publishes_no_notice(
    published: Published, django_capture_on_commit_callbacks: Capture
) -> None:
    incident = incident_with_customs()
    cmid = uuid.uuid4()
    services.message_post(
        actor=officer("na-imm.duty"), ref=incident.ref, body="@NA-CUS first", client_msg_id=cmid
    )
    published.clear()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Conflict):
        # The same client_msg_id with another body: refused, nothing written.
        services.message_post(
            actor=officer("na-imm.duty"),
            ref=incident.ref,
            body="@NA-CUS second",
            client_msg_id=cmid,
        )
    assert mention_notices(published) == []


def test_rest_messages_carry_mentions_and_redaction_empties_them() -> None:
    incident = incident_with_customs()
    api = Api("na-imm.duty")
    created = api.post(
        f"/api/v1/incidents/{incident.ref}/messages",
        {"body": "@NA-CUS and @na-imm.coord", "client_msg_id": str(uuid.uuid4())},
    )
    assert created.status_code == 201, created.content
    message = created.json()["message"]
    assert message["mentions"] == [CUS, officer_mention("na-imm.coord")]
    edited = api.patch(
        f"/api/v1/incidents/{incident.ref}/messages/{message['id']}", {"body": "@NA-CUS only"}
    )
    assert edited.json()["message"]["mentions"] == [CUS]
    listed = api.get(f"/api/v1/incidents/{incident.ref}/messages").json()["items"]
    assert [m["mentions"] for m in listed] == [[CUS]]

    redacted = api.post(
        f"/api/v1/incidents/{incident.ref}/messages/{message['id']}/redact",
        {"reason": "Personal data."},
    )
    assert redacted.status_code == 200, redacted.content
    assert redacted.json()["message"]["mentions"] == []
    listed = api.get(f"/api/v1/incidents/{incident.ref}/messages").json()["items"]
    assert [(m["body"], m["mentions"]) for m in listed] == [(None, [])]
    # The timeline masks both the post and the edit; the record keeps them.
    timeline = api.get(f"/api/v1/streams/{incident.stream_name}/events").json()["events"]
    shown = [e["payload"] for e in timeline if e["kind"] in ("message.posted", "message.edited")]
    assert [(p["body"], p["redacted"], p["mentions"]) for p in shown] == [("", True, [])] * 2
    stored = Event.objects.filter(stream__name=incident.stream_name, kind="message.edited").get()
    assert stored.payload["mentions"] == [CUS]


def append_legacy(stream_name: str, payload: dict[str, Any], actor_username: str) -> Event:
    """Append an event the way emit did before mentions existed: no ``mentions`` key."""
    actor = officer(actor_username)
    agency = Agency.objects.get(code="NA-IMM")
    with transaction.atomic():
        row = Stream.objects.select_for_update().get(name=stream_name)
        seq = row.last_seq + 1
        at = Event.objects.filter(stream=row).order_by("-seq").values_list("at", flat=True)[0]
        salt = new_salt()
        digest = chain_hash(
            row.last_hash,
            canonical_bytes(
                form=2,
                stream=stream_name,
                seq=seq,
                kind="message.posted",
                actor_id=actor.pk,
                agency_id=agency.pk,
                at=at,
                payload=payload,
                salt=salt,
            ),
        )
        event = Event.objects.create(
            stream=row,
            seq=seq,
            kind="message.posted",
            actor=actor,
            actor_agency=agency,
            at=at,
            payload=payload,
            prev_hash=row.last_hash,
            hash=digest,
            salt=salt,
        )
        Stream.objects.filter(pk=row.pk).update(last_seq=seq, last_hash=digest)
    return event


def test_events_recorded_before_mentions_still_verify_and_read_the_same() -> None:
    incident = incident_with_customs()
    legacy = {"message_id": 999, "body": "from before mentions", "redacted": False}
    append_legacy(incident.stream_name, legacy, "na-imm.duty")
    post("na-imm.duty", incident.ref, "@NA-CUS after")
    report_ = verify([incident.stream_name])
    assert report_.ok, report_.broken
    events, envelopes, _ = stream_events_for(
        access_for(officer("na-imm.duty")), incident.stream_name, after=0, limit=100
    )
    old = next(e for e in events if e.payload.get("message_id") == 999)
    assert "mentions" not in old.payload  # the record is as it was hashed
    shown = {env.seq: env.payload for env in envelopes}
    assert shown[old.seq]["mentions"] == []  # readers see one shape
    for event in events:
        validate_payload(event.kind, event.payload)
    assert shown[max(shown)]["mentions"] == [CUS]


# --- incident notices ----------------------------------------------------------------------


def test_incident_changes_publish_incident_notices(
    published: Published, django_capture_on_commit_callbacks: Capture
) -> None:
    coord = officer("na-imm.coord")
    with django_capture_on_commit_callbacks(execute=True):
        incident = report("na-imm.duty", "WDH")
    ref = incident.ref
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("invite", lambda: services.incident_invite_agency(actor=coord, ref=ref, agency="NA-CUS")),
        (
            "visibility",
            lambda: services.incident_update(
                actor=coord, ref=ref, changes={"visibility": "crossing_point"}
            ),
        ),
        ("lead", lambda: services.incident_set_lead(actor=coord, ref=ref, agency="NA-CUS")),
        ("status", lambda: services.incident_transition(actor=coord, ref=ref, to_status="triaged")),
    ]
    for _, step in steps:
        with django_capture_on_commit_callbacks(execute=True):
            step()
    notices = incident_notices(published)
    heads = [1, 2, 3, 4, 5]  # reported, invited, updated (visibility), lead, transitioned
    assert notices == [
        {
            "type": "notice",
            "kind": "incident",
            "crossing_point": "WDH",
            "ref": ref,
            "stream": f"incident:{ref}",
            "seq": seq,
        }
        for seq in heads
    ]
    kinds = list(
        Event.objects.filter(stream__name=f"incident:{ref}").order_by("seq").values_list("kind")
    )
    assert [k for (k,) in kinds] == [
        "incident.reported",
        "incident.agency_invited",
        "incident.updated",
        "incident.lead_changed",
        "incident.transitioned",
    ]


def test_other_changes_publish_no_incident_notice(
    published: Published, django_capture_on_commit_callbacks: Capture
) -> None:
    incident = report("na-imm.duty", "WDH")
    with django_capture_on_commit_callbacks(execute=True):
        services.incident_update(
            actor=officer("na-imm.coord"), ref=incident.ref, changes={"severity": "high"}
        )
        post("na-imm.duty", incident.ref, "no board change")
    assert incident_notices(published) == []
    # A refused change publishes nothing either.
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Forbidden):
        services.incident_transition(
            actor=officer("na-imm.duty"), ref=incident.ref, to_status="triaged"
        )
    assert incident_notices(published) == []
