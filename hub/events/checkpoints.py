"""Signed checkpoints of the record: a signed tree head over every stream's head.

``checkpoint_now`` takes each stream's head ``(stream, seq, hash)`` (streams with at
least one event), orders them by the stream name's UTF-8 bytes, builds an RFC 6962
Merkle tree over ``leaf_data(stream, seq, hash)`` (``hub.record``), signs
``checkpoint_body(number, tree_size, root, at, prev, key_id)`` with the hub's
Ed25519 key (``hub.events.signing``) and appends a ``Checkpoint``. The checkpoints
form their own chain: ``prev`` is the previous checkpoint's hash. A checkpoint is
made only when some head moved since the last one.

Invariants:
- numbers run 1, 2, 3... with no gap: ``checkpoint_now`` holds a lock while it reads
  the last checkpoint and appends the next (a transaction-scoped advisory lock on
  PostgreSQL; SQLite's IMMEDIATE transactions serialise writers), and
  ``UNIQUE(number)`` backs it;
- a checkpoint covers only committed heads (one statement reads them all), so
  every leaf names an event that exists, with that hash, at that seq;
- each new checkpoint gets a pending ``WitnessDelivery`` per configured witness in
  the same transaction (``hub.events.witness`` delivers them).

``stream_proof`` is what an export carries to let anyone check a stream offline:
the latest checkpoint covering the stream, the stream's leaf, its inclusion proof
and the public key.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from hub.events import signing
from hub.events.models import Checkpoint, Stream, WitnessDelivery
from hub.record.canonical import (
    GENESIS_HASH,
    canonical_time,
    checkpoint_body,
    checkpoint_hash,
    leaf_data,
)
from hub.record.merkle import inclusion_proof, leaf_hash, root_from_hashes

# pg_advisory_xact_lock key of checkpoint_now ("ckpt" in ASCII).
CHECKPOINT_LOCK = 0x636B7074

Leaf = tuple[str, int, str]  # (stream, seq, head hash)

__all__ = [
    "StreamProof",
    "checkpoint_body_of",
    "checkpoint_document",
    "checkpoint_now",
    "current_leaves",
    "leaf_order",
    "public_keys",
    "root_of",
    "stream_proof",
]


def leaf_order(stream: str) -> bytes:
    """The sort key of a stream's leaf: its name's UTF-8 bytes."""
    return stream.encode("utf-8")


def current_leaves() -> list[Leaf]:
    """Every stream's committed head with seq > 0, in tree order (one statement)."""
    rows = Stream.objects.filter(last_seq__gt=0).values_list("name", "last_seq", "last_hash")
    return sorted(((n, int(s), h) for n, s, h in rows), key=lambda leaf: leaf_order(leaf[0]))


def leaf_hashes(leaves: list[Leaf] | list[list[Any]]) -> list[bytes]:
    return [leaf_hash(leaf_data(str(s), int(q), str(h))) for s, q, h in leaves]


def root_of(leaves: list[Leaf] | list[list[Any]]) -> str:
    return root_from_hashes(leaf_hashes(leaves)).hex()


def checkpoint_body_of(cp: Checkpoint) -> bytes:
    return checkpoint_body(
        number=cp.number,
        tree_size=cp.tree_size,
        root=cp.root,
        at=canonical_time(cp.at),
        prev=cp.prev,
        key_id=cp.key_id,
    )


def checkpoint_document(cp: Checkpoint) -> dict[str, Any]:
    """The checkpoint as exports and witnesses carry it: the body's fields, the
    signature (base64) and the hash."""
    return {
        "number": cp.number,
        "tree_size": cp.tree_size,
        "root": cp.root,
        "at": canonical_time(cp.at),
        "prev": cp.prev,
        "key_id": cp.key_id,
        "signature": cp.signature,
        "hash": cp.hash,
    }


def public_keys() -> dict[str, bytes]:
    """Every public key checkpoints may be signed with, by key id (raw 32 bytes)."""
    return signing.public_keys()


def _lock() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHECKPOINT_LOCK])


def checkpoint_now(*, now: datetime | None = None) -> Checkpoint | None:
    """Append a signed checkpoint of every stream's head; None when no head moved
    since the last checkpoint (or no stream has an event yet).

    Opens its own transaction; safe to call from several processes at once.
    """
    from hub.events.witness import configured_targets

    with transaction.atomic():
        _lock()
        last = Checkpoint.objects.order_by("-number").only("number", "hash", "root").first()
        leaves = current_leaves()
        if not leaves:
            return None
        root = root_of(leaves)
        if last is not None and last.root == root:
            return None
        at = now or timezone.now()
        number = last.number + 1 if last is not None else 1
        prev = last.hash if last is not None else GENESIS_HASH
        key = signing.current_key_id()
        body = checkpoint_body(
            number=number,
            tree_size=len(leaves),
            root=root,
            at=canonical_time(at),
            prev=prev,
            key_id=key,
        )
        cp = Checkpoint.objects.create(
            number=number,
            tree_size=len(leaves),
            root=root,
            at=at,
            prev=prev,
            key_id=key,
            signature=base64.b64encode(signing.sign(body)).decode("ascii"),
            hash=checkpoint_hash(body),
            leaves=[list(leaf) for leaf in leaves],
            events_total=sum(seq for _, seq, _ in leaves),
        )
        WitnessDelivery.objects.bulk_create(
            WitnessDelivery(checkpoint=cp, target=target) for target in configured_targets()
        )
    return cp


@dataclass(frozen=True)
class StreamProof:
    """A stream's head in a signed checkpoint, checkable offline.

    ``checkpoint``: number, tree_size, root, at, prev, key_id, signature (base64),
    hash. ``leaf``: {stream, seq, hash}, at ``leaf_index`` in the tree; ``inclusion``:
    the RFC 6962 audit path (hex sibling hashes, leaf upwards); ``public_key``:
    {key_id, ed25519: base64 of the 32 raw bytes, or None when the key is unknown}.
    """

    checkpoint: dict[str, Any]
    leaf_index: int
    leaf: dict[str, Any]
    inclusion: list[str]
    public_key: dict[str, str | None]


def _find_leaf(leaves: list[list[Any]], stream: str) -> int | None:
    """Binary search of ``stream`` in leaves sorted by UTF-8 bytes of the name."""
    target = leaf_order(stream)
    lo, hi = 0, len(leaves)
    while lo < hi:
        mid = (lo + hi) // 2
        if leaf_order(str(leaves[mid][0])) < target:
            lo = mid + 1
        else:
            hi = mid
    if lo < len(leaves) and leaves[lo][0] == stream:
        return lo
    return None


def stream_proof(stream: str) -> StreamProof | None:
    """The proof of ``stream``'s head in the latest checkpoint; None when that
    checkpoint does not cover the stream (its first event came later) or there is
    no checkpoint yet. Heads never go back, so no earlier checkpoint covers a
    stream the latest one lacks."""
    cp = Checkpoint.objects.order_by("-number").first()
    if cp is None:
        return None
    leaves: list[list[Any]] = cp.leaves
    index = _find_leaf(leaves, stream)
    if index is None:
        return None
    _, seq, head = leaves[index]
    raw = public_keys().get(cp.key_id)
    return StreamProof(
        checkpoint=checkpoint_document(cp),
        leaf_index=index,
        leaf={"stream": stream, "seq": int(seq), "hash": head},
        inclusion=[node.hex() for node in inclusion_proof(leaf_hashes(leaves), index)],
        public_key={
            "key_id": cp.key_id,
            "ed25519": base64.b64encode(raw).decode("ascii") if raw is not None else None,
        },
    )
