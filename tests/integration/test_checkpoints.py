"""Signed checkpoints: the log, the proof an export carries, and the signing key."""

from __future__ import annotations

import base64
import itertools
import json
import logging
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from pathlib import Path
from typing import Any, ClassVar

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, connections, transaction
from django.test import Client
from django.utils import timezone

from hub import keygen
from hub.config import generate_signing_key
from hub.events import signing
from hub.events.audit import verify, verify_witness
from hub.events.chain import canonical_bytes, chain_hash
from hub.events.checkpoints import checkpoint_document, checkpoint_now, public_keys, stream_proof
from hub.events.models import AppendOnlyViolation, Checkpoint, Event, Stream, WitnessDelivery
from hub.jobs.runner import sweep
from hub.record.canonical import (
    GENESIS_HASH,
    checkpoint_body,
    checkpoint_hash,
    key_id,
    leaf_data,
)
from hub.record.merkle import leaf_hash, verify_inclusion
from tests.factories import Api, post, report

BODY_FIELDS = ("number", "tree_size", "root", "at", "prev", "key_id")


@pytest.mark.usefixtures("demo")
def test_stream_proof_verifies_offline_against_the_signed_checkpoint() -> None:
    first = report()
    second = report(title="Second")
    post("na-imm.duty", first.ref, "one")
    assert stream_proof(first.stream_name) is None  # no checkpoint yet
    cp = checkpoint_now()
    assert cp is not None
    assert cp.number == 1
    assert cp.prev == GENESIS_HASH
    assert checkpoint_now() is None, "nothing moved: no new checkpoint"
    post("na-imm.duty", second.ref, "two")

    proof = stream_proof(first.stream_name)
    assert proof is not None
    assert set(proof.checkpoint) == {*BODY_FIELDS, "signature", "hash"}
    head = Stream.objects.get(name=first.stream_name)
    assert proof.leaf == {"stream": first.stream_name, "seq": head.last_seq, "hash": head.last_hash}
    body = checkpoint_body(**{k: proof.checkpoint[k] for k in BODY_FIELDS})
    assert checkpoint_hash(body) == proof.checkpoint["hash"]
    raw = base64.b64decode(str(proof.public_key["ed25519"]))
    assert len(raw) == 32
    assert public_keys()[proof.public_key["key_id"] or ""] == raw
    Ed25519PublicKey.from_public_bytes(raw).verify(
        base64.b64decode(proof.checkpoint["signature"]), body
    )
    leaf = leaf_hash(leaf_data(proof.leaf["stream"], proof.leaf["seq"], proof.leaf["hash"]))
    assert verify_inclusion(
        leaf,
        proof.leaf_index,
        proof.checkpoint["tree_size"],
        [bytes.fromhex(h) for h in proof.inclusion],
        bytes.fromhex(proof.checkpoint["root"]),
    )

    # The second stream moved: the next checkpoint chains to the first and covers it.
    cp2 = checkpoint_now()
    assert cp2 is not None
    assert (cp2.number, cp2.prev) == (2, cp.hash)
    proof2 = stream_proof(second.stream_name)
    assert proof2 is not None
    assert proof2.checkpoint["number"] == 2
    assert proof2.leaf["seq"] == Stream.objects.get(name=second.stream_name).last_seq
    assert Checkpoint.objects.count() == 2


@pytest.mark.usefixtures("demo")
def test_new_events_use_the_digest_form() -> None:
    incident = report()
    assert set(
        Event.objects.filter(stream__name=incident.stream_name).values_list("form", flat=True)
    ) == {3}


# --- the loop ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("demo")
def test_the_loop_checkpoints_after_n_events_and_after_the_interval(settings: Any) -> None:
    settings.HUB_CHECKPOINT_EVENTS = 4
    settings.HUB_CHECKPOINT_SECONDS = 300
    t0 = timezone.now()
    assert sweep(t0).checkpoints_signed == [], "no event yet: nothing to sign"
    incident = report()
    assert sweep(t0).checkpoints_signed == [1], "the first event makes the first checkpoint"
    assert sweep(t0 + timedelta(seconds=1)).checkpoints_signed == []
    for i in range(3):
        post("na-imm.duty", incident.ref, f"m{i}")
    assert sweep(t0 + timedelta(seconds=2)).checkpoints_signed == [], "3 events < 4"
    post("na-imm.duty", incident.ref, "m3")
    assert sweep(t0 + timedelta(seconds=3)).checkpoints_signed == [2], "4 new events"
    post("na-imm.duty", incident.ref, "m4")
    assert sweep(t0 + timedelta(seconds=200)).checkpoints_signed == []
    assert sweep(t0 + timedelta(seconds=304)).checkpoints_signed == [3], "the interval"
    # Nothing changed: no checkpoint, however long.
    assert sweep(t0 + timedelta(days=1)).checkpoints_signed == []
    assert list(Checkpoint.objects.values_list("number", flat=True)) == [1, 2, 3]
    assert verify().ok


@pytest.mark.usefixtures("demo")
def test_checkpoint_now_is_serialised_numbers_stay_gap_free() -> None:
    """Two calls with no change in between make one checkpoint; the numbers and the
    prev links form one chain."""
    incident = report()
    first = checkpoint_now()
    assert checkpoint_now() is None
    post("na-imm.duty", incident.ref)
    second = checkpoint_now()
    assert first is not None
    assert second is not None
    assert (second.number, second.prev) == (first.number + 1, first.hash)


# --- the append-only trigger ------------------------------------------------------------------


@pytest.mark.usefixtures("demo")
def test_checkpoints_are_append_only() -> None:
    report()
    cp = checkpoint_now()
    assert cp is not None
    with pytest.raises(AppendOnlyViolation):
        Checkpoint.objects.filter(pk=cp.pk).update(root="0" * 64)
    with pytest.raises(AppendOnlyViolation):
        cp.delete()
    with pytest.raises(AppendOnlyViolation):
        cp.save()


@pytest.mark.usefixtures("demo")
def test_postgres_trigger_refuses_update_and_delete_of_checkpoints() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the append-only trigger exists on PostgreSQL (runs in the PostgreSQL pass)")
    report()
    cp = checkpoint_now()
    assert cp is not None
    for sql in (
        "UPDATE events_checkpoint SET root = 'x' WHERE id = %s",
        "DELETE FROM events_checkpoint WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [cp.pk])


# --- key rotation -----------------------------------------------------------------------------


def _write_key(path: Path) -> Path:
    generate_signing_key(path)
    return path


@pytest.mark.usefixtures("demo")
def test_old_checkpoints_verify_after_a_key_rotation(settings: Any, tmp_path: Path) -> None:
    old = _write_key(tmp_path / "old.pem")
    new = _write_key(tmp_path / "new.pem")
    settings.HUB_SIGNING_KEY_FILE = old
    incident = report()
    first = checkpoint_now()
    assert first is not None
    settings.HUB_SIGNING_KEY_FILE = new
    settings.HUB_SIGNING_PUBLIC_KEYS = []
    post("na-imm.duty", incident.ref)
    second = checkpoint_now()
    assert second is not None
    assert second.key_id != first.key_id
    broken = verify().broken
    assert [(b.checkpoint, "unknown key" in b.reason) for b in broken] == [(1, True)]
    # The old public key, kept after the rotation (here as its PEM file).
    public = tmp_path / "keys"
    public.mkdir()
    code = keygen.main(["--public", str(old)])
    assert code == 0
    kid, pem = keygen.public_pem(old)
    (public / f"{kid}.pem").write_text(pem)
    settings.HUB_SIGNING_PUBLIC_KEYS = sorted(public.iterdir())
    assert verify().ok
    assert set(public_keys()) == {first.key_id, second.key_id}


@pytest.mark.usefixtures("demo")
def test_the_api_lists_the_public_keys_for_offline_checks(settings: Any, tmp_path: Path) -> None:
    """GET /audit/keys: the current key and the ones kept after a rotation, each as raw
    base64 and PEM with the id checkpoints name; officers only (401 signed out)."""
    old = _write_key(tmp_path / "old.pem")
    settings.HUB_SIGNING_KEY_FILE = _write_key(tmp_path / "new.pem")
    kid_old, pem_old = keygen.public_pem(old)
    (tmp_path / "kept.pem").write_text(pem_old)
    settings.HUB_SIGNING_PUBLIC_KEYS = [tmp_path / "kept.pem"]
    assert Client().get("/api/v1/audit/keys").status_code == 401
    response = Api("na-imm.duty").get("/api/v1/audit/keys")
    assert response.status_code == 200
    keys = {k["key_id"]: k for k in response.json()}
    assert set(keys) == set(public_keys()) == {kid_old, signing.current_key_id()}
    assert [k for k, v in keys.items() if v["current"]] == [signing.current_key_id()]
    for kid, key in keys.items():
        raw = base64.b64decode(key["ed25519"])
        assert key_id(raw) == kid
        loaded = serialization.load_pem_public_key(key["pem"].encode())
        assert isinstance(loaded, Ed25519PublicKey)
        assert (
            loaded.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw) == raw
        )
    assert keys[kid_old]["pem"] == pem_old


# --- the witness ------------------------------------------------------------------------------


@pytest.mark.usefixtures("demo")
def test_file_witness_gets_one_line_per_checkpoint(settings: Any, tmp_path: Path) -> None:
    witness = tmp_path / "witness" / "checkpoints.jsonl"
    settings.HUB_WITNESS_FILE = witness
    settings.HUB_WITNESS_URL = None
    incident = report()
    t0 = timezone.now()
    assert sweep(t0).witnessed == [(1, "file")]
    post("na-imm.duty", incident.ref)
    cp2 = checkpoint_now()
    assert cp2 is not None
    assert sweep(t0).witnessed == [(2, "file")]
    lines = [json.loads(line) for line in witness.read_text().splitlines()]
    assert lines == [checkpoint_document(cp) for cp in Checkpoint.objects.order_by("number")]
    assert "salt" not in witness.read_text()
    out = StringIO()
    call_command("audit_verify", "--witness", str(witness), stdout=out)
    assert "the checkpoints match the witness" in out.getvalue()
    # The database rewritten, the witness kept elsewhere: each difference is named.
    _tamper_checkpoint_root(2)
    post("na-imm.duty", incident.ref)
    assert checkpoint_now() is not None  # 3: in the database, not (yet) in the file
    lines.append({**lines[0], "number": 9})  # in the file, not in the database
    witness.write_text("".join(json.dumps(line) + "\n" for line in lines))
    findings = {(b.checkpoint, b.reason) for b in verify_witness(witness)}
    assert findings == {
        (2, "differs from the witness file in root"),
        (3, "in the database but not in the witness file"),
        (9, "in the witness file but missing from the database"),
    }
    out = StringIO()
    with pytest.raises(CommandError, match="first broken link: checkpoint 2"):
        call_command("audit_verify", "--witness", str(witness), stdout=out)
    assert "WITNESS checkpoint 9: in the witness file but missing from the database" in (
        out.getvalue()
    )


def _tamper_checkpoint_root(number: int) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        cursor.execute(
            "UPDATE events_checkpoint SET root = %s WHERE number = %s", ["f" * 64, number]
        )
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = origin")


class _Witness(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []
    up: ClassVar[bool] = True

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if not type(self).up:
            self.send_response(503)
            self.end_headers()
            return
        type(self).received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def http_witness(settings: Any) -> Iterator[type[_Witness]]:
    handler = type("Witness", (_Witness,), {"received": [], "up": True})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.HUB_WITNESS_URL = f"http://127.0.0.1:{server.server_address[1]}/checkpoints"
    settings.HUB_WITNESS_FILE = None
    settings.HUB_WITNESS_TIMEOUT = 2.0
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.usefixtures("demo")
def test_http_witness_down_gets_retries_and_receives_everything_in_order_when_back(
    http_witness: type[_Witness], caplog: pytest.LogCaptureFixture, client: Client
) -> None:
    incident = report()
    t0 = timezone.now()
    http_witness.up = False
    with caplog.at_level(logging.WARNING, logger="hub.audit"):
        result = sweep(t0)
    assert result.checkpoints_signed == [1]
    assert result.witnessed == []
    assert any("witness http did not take checkpoint 1" in r.getMessage() for r in caplog.records)
    # Checkpointing goes on while the witness is down; each sweep retries.
    post("na-imm.duty", incident.ref)
    assert checkpoint_now() is not None
    assert sweep(t0 + timedelta(seconds=15)).witnessed == []
    pending = WitnessDelivery.objects.order_by("checkpoint__number")
    assert [(d.checkpoint.number, d.attempts, d.delivered_at) for d in pending] == [
        (1, 2, None),
        (2, 0, None),
    ], "in order: 2 waits for 1"
    assert "HTTPError: HTTP 503" in pending[0].last_error
    ready = client.get("/readyz")
    assert ready.status_code == 200, "a witness that is down does not make the hub unready"
    detail = ready.json()["detail"]["witness"]["http"]
    assert detail.startswith(
        "2 checkpoint(s) undelivered from 1, 2 attempt(s), last error HTTPError"
    )
    assert "127.0.0.1" not in json.dumps(ready.json())

    http_witness.up = True
    assert sweep(t0 + timedelta(seconds=30)).witnessed == [(1, "http"), (2, "http")]
    assert http_witness.received == [
        checkpoint_document(cp) for cp in Checkpoint.objects.order_by("number")
    ]
    assert client.get("/readyz").json()["detail"] == {"witness": {"http": "ok"}}
    assert sweep(t0 + timedelta(seconds=45)).witnessed == [], "sent once"


@pytest.mark.usefixtures("demo")
def test_http_witness_that_does_not_listen_is_retried(settings: Any) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.HUB_WITNESS_URL = f"http://127.0.0.1:{port}/"
    settings.HUB_WITNESS_FILE = None
    report()
    result = sweep(timezone.now())
    assert result.checkpoints_signed == [1]
    assert result.witnessed == []
    delivery = WitnessDelivery.objects.get()
    assert delivery.attempts == 1
    assert delivery.last_error.startswith("URLError")


# --- concurrency ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_checkpoints_never_share_a_number() -> None:
    """Two loops checkpointing while officers write: numbers 1..n, chained, verified."""
    from tests.factories import seed

    seed()
    incident = report()
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def checkpointer() -> None:
        try:
            start.wait()
            for _ in range(8):
                checkpoint_now()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    def writer() -> None:
        try:
            start.wait()
            for i in range(8):
                post("na-imm.duty", incident.ref, f"concurrent {i}")
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=t) for t in (checkpointer, checkpointer, writer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    checkpoint_now()
    rows = list(Checkpoint.objects.order_by("number").values_list("number", "prev", "hash"))
    assert [n for n, _, _ in rows] == list(range(1, len(rows) + 1))
    assert all(prev == before[2] for before, (_, prev, _) in itertools.pairwise(rows))
    result = verify()
    assert result.ok, result.broken
    assert result.checkpoints_checked == len(rows)


# --- both canonical forms -----------------------------------------------------------------------


def _append_form2(stream_name: str, *, salt: str) -> Event:
    """An event as recorded before form 3 (form 2, with or without a salt)."""
    with transaction.atomic():
        row = Stream.objects.select_for_update().get(name=stream_name)
        at = timezone.now()
        payload = {"message_id": 0, "body": "legacy", "redacted": False, "mentions": []}
        digest = chain_hash(
            row.last_hash,
            canonical_bytes(
                form=2,
                stream=stream_name,
                seq=row.last_seq + 1,
                kind="message.posted",
                actor_id=None,
                agency_id=None,
                at=at,
                payload=payload,
                salt=salt,
            ),
        )
        event = Event.objects.create(
            stream=row,
            seq=row.last_seq + 1,
            kind="message.posted",
            at=at,
            payload=payload,
            prev_hash=row.last_hash,
            hash=digest,
            salt=salt,
        )
        Stream.objects.filter(pk=row.pk).update(last_seq=event.seq, last_hash=digest)
    return event


@pytest.mark.usefixtures("demo")
def test_a_chain_of_both_forms_verifies_and_each_form_is_checked() -> None:
    incident = report()  # seq 1: form 3
    unsalted = _append_form2(incident.stream_name, salt="")
    salted = _append_form2(incident.stream_name, salt="ab" * 16)
    post("na-imm.duty", incident.ref)  # seq 4: form 3
    forms = Event.objects.filter(stream__name=incident.stream_name).order_by("seq")
    assert list(forms.values_list("form", flat=True)) == [3, 2, 2, 3]
    assert (unsalted.form, salted.form) == (2, 2)
    assert checkpoint_now() is not None
    assert verify().ok
    # A form-3 event passed off as form 2 no longer recomputes.
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        cursor.execute(
            "UPDATE events_event SET form = 2 WHERE stream_id = %s AND seq = 4",
            [unsalted.stream_id],
        )
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = origin")
    [link] = verify().broken
    assert (link.stream, link.seq) == (incident.stream_name, 4)
