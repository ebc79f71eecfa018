"""Signed checkpoints: the log, the proof an export carries, and the signing key."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hub.events.checkpoints import checkpoint_now, public_keys, stream_proof
from hub.events.models import Checkpoint, Event, Stream
from hub.record.canonical import GENESIS_HASH, checkpoint_body, checkpoint_hash, leaf_data
from hub.record.merkle import leaf_hash, verify_inclusion
from tests.factories import post, report

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
