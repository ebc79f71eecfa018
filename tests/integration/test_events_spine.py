"""The spine: emit, sequencing, hash chain, publish-after-commit, append-only, verify."""

from __future__ import annotations

import itertools
import json
from io import StringIO
from typing import Any

import pytest
import redis
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from hub.accounts.models import User
from hub.agencies.models import Agency
from hub.events.audit import verify
from hub.events.bus import parse_stream_message, stream_channel
from hub.events.chain import canonical_bytes, chain_hash
from hub.events.models import GENESIS_HASH, AppendOnlyViolation, Event, Stream
from hub.events.pipeline import EmitOutsideTransaction, emit
from hub.events.types import EVENT_TYPES, MessagePosted, validate_payload
from tests.factories import Api, officer, post, report

STREAM = "incident:WDH-2026-0999"


def _emit(body: str, stream: str = STREAM) -> Event:
    actor = officer("na-imm.duty")
    agency = Agency.objects.get(code="NA-IMM")
    with transaction.atomic():
        return emit(
            stream=stream,
            payload=MessagePosted(message_id=1, body=body),
            actor=actor,
            agency=agency,
        )


def test_every_event_kind_is_a_strict_model() -> None:
    assert len(EVENT_TYPES) >= 8
    for kind, model in EVENT_TYPES.items():
        assert kind == model.KIND
        assert model.model_config.get("extra") == "forbid", kind


@pytest.mark.usefixtures("demo")
def test_emit_allocates_gap_free_seqs_and_chains_hashes() -> None:
    events = [_emit(f"message {i}") for i in range(5)]
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == GENESIS_HASH
    for before, after in itertools.pairwise(events):
        assert after.prev_hash == before.hash
    stream = Stream.objects.get(name=STREAM)
    assert (stream.last_seq, stream.last_hash) == (5, events[-1].hash)
    first = events[0]
    assert first.hash == chain_hash(
        GENESIS_HASH,
        canonical_bytes(
            form=3,
            stream=STREAM,
            seq=1,
            kind="message.posted",
            actor_id=first.actor_id,
            agency_id=first.actor_agency_id,
            at=first.at,
            payload={"message_id": 1, "body": "message 0", "redacted": False, "mentions": []},
            salt=first.salt,
        ),
    )


@pytest.mark.django_db(transaction=True)
def test_emit_refuses_to_run_outside_a_transaction() -> None:
    from tests.factories import seed

    seed()
    actor = officer("na-imm.duty")
    with pytest.raises(EmitOutsideTransaction):
        emit(stream=STREAM, payload=MessagePosted(message_id=1, body="x"), actor=actor, agency=None)
    assert not Event.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_publish_happens_after_commit_only(published: list[tuple[str, str]]) -> None:
    from tests.factories import seed

    seed()
    actor = officer("na-imm.duty")
    with transaction.atomic():
        emit(
            stream=STREAM,
            payload=MessagePosted(message_id=1, body="hello"),
            actor=actor,
            agency=None,
        )
        assert published == [], "nothing may be published before commit"
    assert len(published) == 1
    channel, message = published[0]
    assert channel == stream_channel(STREAM)
    header, frame = parse_stream_message(message)
    assert header == "E1"
    decoded = json.loads(frame)
    assert decoded["type"] == "event"
    assert (decoded["stream"], decoded["seq"], decoded["kind"]) == (STREAM, 1, "message.posted")
    assert decoded["payload"] == {
        "message_id": 1,
        "body": "hello",
        "redacted": False,
        "mentions": [],
    }
    assert decoded["actor"]["username"] == "na-imm.duty"


@pytest.mark.django_db(transaction=True)
def test_rolled_back_transaction_publishes_nothing_and_writes_nothing(
    published: list[tuple[str, str]],
) -> None:
    from tests.factories import seed

    seed()
    actor = officer("na-imm.duty")

    class Abort(Exception):
        pass

    def doomed() -> None:
        with transaction.atomic():
            emit(
                stream=STREAM,
                payload=MessagePosted(message_id=1, body="never"),
                actor=actor,
                agency=None,
            )
            raise Abort

    with pytest.raises(Abort):
        doomed()
    assert published == []
    assert not Event.objects.exists()
    assert Stream.objects.filter(name=STREAM, last_seq__gt=0).count() == 0


@pytest.mark.django_db(transaction=True)
def test_publish_reaches_redis_subscribers(settings: Any, redis_url: str) -> None:
    from tests.factories import seed

    seed()
    settings.REDIS_URL = redis_url
    settings.HUB_REDIS_PREFIX = "test-spine"
    client = redis.Redis.from_url(redis_url)
    pubsub = client.pubsub()
    pubsub.subscribe(stream_channel(STREAM))
    confirmation = pubsub.get_message(timeout=2)
    assert confirmation is not None
    assert confirmation["type"] == "subscribe"
    _emit("over redis")
    message = pubsub.get_message(timeout=5)
    assert message is not None
    header, raw = parse_stream_message(message["data"].decode())
    assert header == "E1"
    frame = json.loads(raw)
    assert (frame["type"], frame["seq"], frame["payload"]["body"]) == ("event", 1, "over redis")
    pubsub.close()
    client.close()


@pytest.mark.usefixtures("demo")
def test_events_refuse_update_and_delete_through_the_orm() -> None:
    event = _emit("immutable")
    event.payload = {"message_id": 1, "body": "changed"}
    with pytest.raises(AppendOnlyViolation):
        event.save()
    with pytest.raises(AppendOnlyViolation):
        event.delete()
    with pytest.raises(AppendOnlyViolation):
        Event.objects.filter(pk=event.pk).update(kind="x")
    with pytest.raises(AppendOnlyViolation):
        Event.objects.filter(pk=event.pk).delete()
    assert Event.objects.get(pk=event.pk).payload["body"] == "immutable"


def _forgery_of(event: Event, body: str) -> Event:
    """A new instance carrying an existing event's id (and key), with other content."""
    return Event(
        pk=event.pk,
        stream_id=event.stream_id,
        seq=event.seq,
        kind=event.kind,
        actor_id=event.actor_id,
        actor_agency_id=event.actor_agency_id,
        at=event.at,
        payload={"message_id": 1, "body": body, "redacted": False},
        prev_hash=event.prev_hash,
        hash=event.hash,
        salt=event.salt,
    )


@pytest.mark.usefixtures("demo")
def test_saving_a_new_instance_over_an_existing_event_is_refused() -> None:
    event = _emit("original")
    forged = _forgery_of(event, "forged")
    with pytest.raises(AppendOnlyViolation):
        forged.save()
    for kwargs in ({"force_update": True}, {"update_fields": ["payload"]}):
        with pytest.raises(AppendOnlyViolation):
            _forgery_of(event, "forged").save(**kwargs)
    assert Event.objects.get(pk=event.pk).payload["body"] == "original"


@pytest.mark.usefixtures("demo")
def test_event_save_always_inserts_even_if_the_existence_check_is_raced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without the pre-check the database still refuses: save never becomes an UPDATE."""
    from django.db import IntegrityError

    from hub.events.models import EventQuerySet

    event = _emit("original")
    monkeypatch.setattr(EventQuerySet, "exists", lambda self: False)
    with pytest.raises(IntegrityError), transaction.atomic():
        _forgery_of(event, "forged").save()
    assert Event.objects.get(pk=event.pk).payload["body"] == "original"


@pytest.mark.usefixtures("demo")
def test_bulk_create_cannot_overwrite_or_skip_existing_events() -> None:
    event = _emit("original")
    with pytest.raises(AppendOnlyViolation):
        Event.objects.bulk_create(
            [_forgery_of(event, "forged")],
            update_conflicts=True,
            unique_fields=["stream", "seq"],
            update_fields=["payload"],
        )
    with pytest.raises(AppendOnlyViolation):
        Event.objects.bulk_create([_forgery_of(event, "forged")], ignore_conflicts=True)
    with pytest.raises(AppendOnlyViolation):
        Event.objects.update_or_create(pk=event.pk, defaults={"kind": "x"})
    stored = Event.objects.get(pk=event.pk)
    assert (stored.kind, stored.payload["body"]) == ("message.posted", "original")
    assert Event.objects.count() == 1
    assert verify().ok


def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the append-only trigger exists on PostgreSQL (runs in the PostgreSQL pass)")


@pytest.mark.postgres
@pytest.mark.usefixtures("demo")
def test_postgres_trigger_refuses_raw_update_and_delete() -> None:
    _postgres_only()
    from django.db import DatabaseError

    event = _emit("guarded")
    for sql in (
        "UPDATE events_event SET kind = 'x' WHERE id = %s",
        "DELETE FROM events_event WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [event.pk])
    assert Event.objects.get(pk=event.pk).kind == "message.posted"


def _tamper(sql: str, params: list[Any]) -> None:
    """Change rows behind the model's back, as a DBA with table privileges could."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # A superuser can switch triggers off for a session; verify must still catch it.
            cursor.execute("SET session_replication_role = replica")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = origin")


@pytest.mark.usefixtures("demo")
def test_verify_is_ok_on_an_intact_record() -> None:
    incident = report()
    post("na-imm.duty", incident.ref)
    post("na-imm.duty", incident.ref, "second")
    report_ = verify()
    assert report_.ok
    assert report_.streams_checked == 1
    assert report_.events_checked == 3


@pytest.mark.usefixtures("demo")
def test_edit_through_raw_sql_is_named_by_verify_and_audit_verify() -> None:
    incident = report()
    for i in range(4):
        post("na-imm.duty", incident.ref, f"message {i}")
    target = Event.objects.get(stream__name=incident.stream_name, seq=3)
    _tamper(
        "UPDATE events_event SET payload = %s WHERE id = %s",
        [
            json.dumps(
                {"message_id": target.payload["message_id"], "body": "forged", "redacted": False}
            ),
            target.pk,
        ],
    )
    result = verify()
    assert not result.ok
    first = result.first_broken
    assert first is not None
    assert (first.stream, first.seq) == (incident.stream_name, 3)
    assert "does not match its hash" in first.reason
    out = StringIO()
    with pytest.raises(CommandError, match=f"{incident.stream_name} seq 3"):
        call_command("audit_verify", stdout=out)
    assert f"BROKEN {incident.stream_name} seq 3" in out.getvalue()


@pytest.mark.usefixtures("demo")
def test_deletion_through_raw_sql_is_named_by_verify() -> None:
    incident = report()
    for i in range(4):
        post("na-imm.duty", incident.ref, f"message {i}")
    target = Event.objects.get(stream__name=incident.stream_name, seq=2)
    _tamper("DELETE FROM events_event WHERE id = %s", [target.pk])
    first = verify().first_broken
    assert first is not None
    assert (first.stream, first.seq) == (incident.stream_name, 2)
    assert "missing" in first.reason
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("audit_verify", "--json", stdout=out)
    report_json = json.loads(out.getvalue())
    assert report_json["ok"] is False
    assert report_json["broken"][0] == {
        "stream": incident.stream_name,
        "seq": 2,
        "reason": first.reason,
        "checkpoint": None,
    }


@pytest.mark.usefixtures("demo")
def test_deleting_the_last_event_is_detected() -> None:
    incident = report()
    post("na-imm.duty", incident.ref)
    last = Event.objects.get(stream__name=incident.stream_name, seq=2)
    _tamper("DELETE FROM events_event WHERE id = %s", [last.pk])
    first = verify().first_broken
    assert first is not None
    assert (first.stream, first.seq) == (incident.stream_name, 2)


@pytest.mark.usefixtures("demo")
def test_audit_verify_command_reports_ok_with_counts() -> None:
    incident = report()
    post("na-imm.duty", incident.ref)
    out = StringIO()
    call_command("audit_verify", stdout=out)
    assert "OK: 1 streams, 2 events, 0 checkpoints verified." in out.getvalue()


@pytest.mark.usefixtures("demo")
def test_verify_endpoint_names_the_broken_link_for_a_senior_official() -> None:
    incident = report()
    post("na-imm.duty", incident.ref)
    api = Api("na-imm.senior")
    ok = api.get("/api/v1/audit/verify")
    assert ok.status_code == 200
    assert ok.json() == {
        "ok": True,
        "streams_checked": 1,
        "events_checked": 2,
        "checkpoints_checked": 0,
        "first_broken": None,
        "broken": [],
    }
    target = Event.objects.get(stream__name=incident.stream_name, seq=1)
    _tamper(
        "UPDATE events_event SET at = at + interval '1 second' WHERE id = %s"
        if connection.vendor == "postgresql"
        else "UPDATE events_event SET kind = 'incident.reported ' WHERE id = %s",
        [target.pk],
    )
    broken = api.get("/api/v1/audit/verify", {"stream": incident.stream_name}).json()
    assert broken["ok"] is False
    assert broken["first_broken"]["stream"] == incident.stream_name
    assert broken["first_broken"]["seq"] == 1


@pytest.mark.usefixtures("demo")
def test_stored_payloads_validate_against_their_models() -> None:
    incident = report()
    post("na-imm.duty", incident.ref)
    for event in Event.objects.all():
        validate_payload(event.kind, event.payload)


@pytest.mark.usefixtures("demo")
def test_events_page_is_keyset_paginated() -> None:
    incident = report()
    for i in range(7):
        post("na-imm.duty", incident.ref, f"m{i}")
    api = Api("na-imm.duty")
    path = f"/api/v1/streams/{incident.stream_name}/events"
    first = api.get(path, {"after": 0, "limit": 3}).json()
    assert [e["seq"] for e in first["events"]] == [1, 2, 3]
    assert first["head"] == 8
    assert first["next_after"] == 3
    second = api.get(path, {"after": first["next_after"], "limit": 3}).json()
    assert [e["seq"] for e in second["events"]] == [4, 5, 6]
    last = api.get(path, {"after": 6, "limit": 3}).json()
    assert [e["seq"] for e in last["events"]] == [7, 8]
    assert last["next_after"] is None
    assert all(e["hash"] and e["prev_hash"] for e in last["events"])
    only_messages = api.get(path, {"kind": "message."}).json()
    assert {e["kind"] for e in only_messages["events"]} == {"message.posted"}


@pytest.mark.usefixtures("demo")
def test_user_with_events_cannot_be_deleted() -> None:
    from django.db.models import ProtectedError

    incident = report()
    user: User = officer("na-imm.duty")
    with pytest.raises(ProtectedError):
        user.delete()
    assert Event.objects.filter(stream__name=incident.stream_name).count() == 1
