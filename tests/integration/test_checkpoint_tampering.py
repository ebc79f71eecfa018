"""Each way of tampering with the record is detected and located, with checkpoints.

The cases run on SQLite and on PostgreSQL (``.ci/run`` runs the suite on both). On
PostgreSQL the append-only triggers are switched off for the tampering session, as
a superuser could (``session_replication_role = replica``); verification must
still catch every change, naming the stream, the seq and the checkpoint.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import connection

from hub.events.audit import BrokenLink, verify, verify_stream_checkpointed
from hub.events.chain import FORM_DIGEST, canonical_bytes, chain_hash
from hub.events.checkpoints import checkpoint_now
from hub.events.models import GENESIS_HASH, Checkpoint, Event, Stream
from hub.events.signing import current_key_id, raw_public
from hub.incidents.models import Incident
from hub.record.canonical import canonical_time, checkpoint_body, checkpoint_hash, key_id
from tests.factories import Api, post, report


def _tamper(sql: str, params: list[Any]) -> None:
    """Change rows behind the model's back, as a DBA with table privileges could."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = origin")


def _json_param() -> str:
    return "%s::jsonb" if connection.vendor == "postgresql" else "%s"


def _events(stream: str) -> list[Event]:
    return list(Event.objects.filter(stream__name=stream).order_by("seq"))


def _only(report_broken: list[BrokenLink]) -> BrokenLink:
    assert len(report_broken) == 1, report_broken
    return report_broken[0]


@pytest.fixture
def record(demo: None) -> tuple[Incident, Incident]:
    """Two incidents: A with 5 events (checkpoint 1 at seq 3, checkpoint 2 at seq 5),
    B with 1 event; both checkpoints verify."""
    a = report(title="A")
    b = report(title="B")
    post("na-imm.duty", a.ref, "one")
    post("na-imm.duty", a.ref, "two")
    assert checkpoint_now() is not None
    post("na-imm.duty", a.ref, "three")
    post("na-imm.duty", a.ref, "four")
    assert checkpoint_now() is not None
    assert Stream.objects.get(name=a.stream_name).last_seq == 5
    assert verify().ok
    return a, b


def test_an_intact_record_verifies_with_its_checkpoints(record: tuple[Incident, Incident]) -> None:
    result = verify()
    assert result.ok
    assert result.checkpoints_checked == 2
    assert result.events_checked == 6  # A: 5, B: 1


def test_edit_a_payload(record: tuple[Incident, Incident]) -> None:
    a, _ = record
    target = _events(a.stream_name)[2]
    payload = {**target.payload, "body": "edited"}
    _tamper(
        f"UPDATE events_event SET payload = {_json_param()} WHERE id = %s",
        [json.dumps(payload), target.pk],
    )
    link = _only(verify().broken)
    assert (link.stream, link.seq) == (a.stream_name, 3)
    assert "does not match its hash" in link.reason


def test_delete_an_event(record: tuple[Incident, Incident]) -> None:
    a, _ = record
    _tamper("DELETE FROM events_event WHERE id = %s", [_events(a.stream_name)[1].pk])
    link = _only(verify().broken)
    assert (link.stream, link.seq) == (a.stream_name, 2)
    assert "missing" in link.reason


def test_truncate_a_stream_and_its_head(record: tuple[Incident, Incident]) -> None:
    """The tail is deleted and the head set back to match: the chain alone is intact,
    the checkpoint that covered seq 5 is not."""
    a, _ = record
    events = _events(a.stream_name)
    _tamper("DELETE FROM events_event WHERE stream_id = %s AND seq > 2", [events[0].stream_id])
    _tamper(
        "UPDATE events_stream SET last_seq = 2, last_hash = %s WHERE id = %s",
        [events[1].hash, events[0].stream_id],
    )
    assert verify(checkpoints=False).ok, "the chain alone cannot see a clean truncation"
    link = _only(verify().broken)
    assert (link.stream, link.seq, link.checkpoint) == (a.stream_name, 5, 2)
    assert "went back" in link.reason


def test_reorder_two_events(record: tuple[Incident, Incident]) -> None:
    a, _ = record
    events = _events(a.stream_name)
    second, third = events[1], events[2]
    _tamper("UPDATE events_event SET seq = 1000 WHERE id = %s", [second.pk])
    _tamper("UPDATE events_event SET seq = 2 WHERE id = %s", [third.pk])
    _tamper("UPDATE events_event SET seq = 3 WHERE id = %s", [second.pk])
    link = _only(verify().broken)
    assert (link.stream, link.seq) == (a.stream_name, 2)
    assert "prev_hash" in link.reason


def _rewrite_from(stream: str, seq: int, body: str) -> None:
    """Edit event ``seq``'s body and recompute every hash from there, as an insider
    with the database (and the salt) could: each link recomputes afterwards."""
    running = GENESIS_HASH
    for event in _events(stream):
        payload = event.payload
        if event.seq == seq:
            payload = {**payload, "body": body}
        if event.seq >= seq:
            new_hash = chain_hash(
                running,
                canonical_bytes(
                    form=FORM_DIGEST,
                    stream=stream,
                    seq=event.seq,
                    kind=event.kind,
                    actor_id=event.actor_id,
                    agency_id=event.actor_agency_id,
                    at=event.at,
                    payload=payload,
                    salt=event.salt,
                ),
            )
            _tamper(
                "UPDATE events_event SET payload = "
                + _json_param()
                + ", prev_hash = %s, hash = %s WHERE id = %s",
                [json.dumps(payload), running, new_hash, event.pk],
            )
            running = new_hash
        else:
            running = event.hash
    _tamper("UPDATE events_stream SET last_hash = %s WHERE name = %s", [running, stream])


def test_rewrite_a_whole_chain_with_recomputed_hashes(record: tuple[Incident, Incident]) -> None:
    a, _ = record
    _rewrite_from(a.stream_name, 2, "rewritten")
    assert verify(checkpoints=False).ok, "every hash recomputes"
    link = _only(verify().broken)
    # Checkpoint 1 recorded seq 3: the first checkpointed hash the rewrite changed.
    assert (link.stream, link.seq, link.checkpoint) == (a.stream_name, 3, 1)
    assert "rewritten after it" in link.reason


def test_restore_an_older_copy_of_the_database(record: tuple[Incident, Incident]) -> None:
    """The stream as it was at checkpoint 1 (seq 3) while checkpoint 2 recorded seq 5:
    the stream went back."""
    a, _ = record
    events = _events(a.stream_name)
    _tamper("DELETE FROM events_event WHERE stream_id = %s AND seq > 3", [events[0].stream_id])
    _tamper(
        "UPDATE events_stream SET last_seq = 3, last_hash = %s WHERE id = %s",
        [events[2].hash, events[0].stream_id],
    )
    link = _only(verify().broken)
    assert (link.stream, link.seq, link.checkpoint) == (a.stream_name, 5, 2)
    assert "restored backup" in link.reason


def test_delete_a_checkpoint(record: tuple[Incident, Incident]) -> None:
    a, _ = record
    post("na-imm.duty", a.ref, "five")
    assert checkpoint_now() is not None  # 3
    _tamper("DELETE FROM events_checkpoint WHERE number = 2", [])
    result = verify()
    link = _only(result.broken)
    assert (link.stream, link.checkpoint) == ("", 2)
    assert link.reason == "checkpoint 2 is missing (next stored is 3)"
    assert result.checkpoints_checked == 2


def _forge(*, signer: Ed25519PrivateKey, claimed_key_id: str) -> Checkpoint:
    """Checkpoint 3, chained to 2 and over the real heads, signed by ``signer``."""
    last = Checkpoint.objects.get(number=2)
    at = last.at
    body = checkpoint_body(
        number=3,
        tree_size=last.tree_size,
        root=last.root,
        at=canonical_time(at),
        prev=last.hash,
        key_id=claimed_key_id,
    )
    return Checkpoint.objects.create(
        number=3,
        tree_size=last.tree_size,
        root=last.root,
        at=at,
        prev=last.hash,
        key_id=claimed_key_id,
        signature=base64.b64encode(signer.sign(body)).decode(),
        hash=checkpoint_hash(body),
        leaves=last.leaves,
        events_total=last.events_total,
    )


def test_forge_a_checkpoint_with_another_key(record: tuple[Incident, Incident]) -> None:
    other = Ed25519PrivateKey.generate()
    _forge(signer=other, claimed_key_id=key_id(raw_public(other.public_key())))
    link = _only(verify().broken)
    assert (link.stream, link.checkpoint) == ("", 3)
    assert "unknown key" in link.reason


def test_forge_a_checkpoint_in_the_hubs_key_name(record: tuple[Incident, Incident]) -> None:
    _forge(signer=Ed25519PrivateKey.generate(), claimed_key_id=current_key_id())
    link = _only(verify().broken)
    assert link.checkpoint == 3
    assert "signature does not verify" in link.reason


def test_edit_a_checkpoint_root(record: tuple[Incident, Incident]) -> None:
    _tamper("UPDATE events_checkpoint SET root = %s WHERE number = 1", ["0" * 64])
    link = _only(verify().broken)
    assert link.checkpoint == 1
    assert "hash" in link.reason


# --- the review page's check: the chain against the latest checkpoint covering it ------


def test_the_review_check_of_an_intact_stream_names_its_checkpoint(
    record: tuple[Incident, Incident],
) -> None:
    a, b = record
    found = verify_stream_checkpointed(a.stream_name)
    assert (found.broken, found.events_checked) == (None, 5)
    assert (found.checkpoint, found.checkpoint_seq, found.key_id) == (2, 5, current_key_id())
    review = Api("na-imm.senior").get(f"/api/v1/incidents/{a.ref}/review").json()
    assert review["verification"]["ok"] is True
    assert review["verification"]["checkpoint"] == 2
    assert review["verification"]["checkpoint_seq"] == 5
    # A stream that appeared after the last checkpoint: its chain only.
    c = report(title="C")
    later = verify_stream_checkpointed(c.stream_name)
    assert (later.broken, later.checkpoint) == (None, None)
    assert verify_stream_checkpointed(b.stream_name).checkpoint == 2


def test_the_review_check_catches_a_rewrite_and_a_rewind(
    record: tuple[Incident, Incident],
) -> None:
    a, _ = record
    _rewrite_from(a.stream_name, 2, "rewritten")
    found = verify_stream_checkpointed(a.stream_name)
    assert found.broken is not None
    assert (found.broken.seq, found.broken.checkpoint) == (5, 2)
    assert "rewritten after it" in found.broken.reason
    review = Api("na-imm.senior").get(f"/api/v1/incidents/{a.ref}/review").json()
    assert review["verification"]["ok"] is False
    assert review["verification"]["broken_seq"] == 5


def test_the_review_check_catches_a_rewind(record: tuple[Incident, Incident]) -> None:
    a, _ = record
    events = _events(a.stream_name)
    _tamper("DELETE FROM events_event WHERE stream_id = %s AND seq > 3", [events[0].stream_id])
    _tamper(
        "UPDATE events_stream SET last_seq = 3, last_hash = %s WHERE id = %s",
        [events[2].hash, events[0].stream_id],
    )
    found = verify_stream_checkpointed(a.stream_name)
    assert found.broken is not None
    assert (found.broken.seq, found.broken.checkpoint) == (5, 2)
    assert "restored backup" in found.broken.reason


def test_the_review_check_refuses_a_forged_latest_checkpoint(
    record: tuple[Incident, Incident],
) -> None:
    a, _ = record
    _forge(signer=Ed25519PrivateKey.generate(), claimed_key_id=current_key_id())
    found = verify_stream_checkpointed(a.stream_name)
    assert found.broken is not None
    assert found.broken.checkpoint == 3
    assert "signature does not verify" in found.broken.reason
