"""Canonical bytes of the record: events (both forms), checkpoint leaves, checkpoint
bodies, key ids. Pure: no Django, so an auditor's verifier (and ours, offline) can
import it alone. ``docs/record.md`` is the specification; this is its reference.

- JSON is canonical: keys sorted, no whitespace, UTF-8 (not ASCII-escaped), no NaN.
- Times are UTC ISO 8601 with microseconds: ``2026-12-04T15:55:11.123456+00:00``.
- Hashes are SHA-256, written as 64 lower-case hex digits; an event's
  ``hash = SHA-256(ascii(prev_hash) || canonical_event)``.

Event forms:

- form 2 (events recorded before checkpoints): the canonical event holds the
  payload itself, and its ``salt`` when it has one (none before salting);
- form 3 (every new event): the canonical event holds ``payload_digest =
  SHA-256(salt_bytes || canonical_json(payload))`` and ``"form": 3``; so an export
  can show a payload with its salt where the reader may see it, and only the digest
  where they may not, and either way anyone can recompute the chain.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

FORM_LEGACY = 2
FORM_DIGEST = 3
GENESIS_HASH = "0" * 64


def canonical_json(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def canonical_time(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def payload_digest(salt: str, payload: dict[str, Any]) -> str:
    """SHA-256(salt bytes || canonical payload), hex. ``salt`` is hex."""
    return hashlib.sha256(bytes.fromhex(salt) + canonical_json(payload)).hexdigest()


def event_canonical(
    *,
    form: int,
    stream: str,
    seq: int,
    kind: str,
    actor: int | None,
    agency: int | None,
    at: str,
    payload: dict[str, Any] | None = None,
    salt: str = "",
    digest: str | None = None,
) -> bytes:
    """The bytes an event's hash commits to. ``at`` is ``canonical_time``'s string.

    Form 3 takes ``digest`` (or computes it from ``payload`` and ``salt``); form 2
    needs the payload (and the salt, if the event has one).
    """
    document: dict[str, Any] = {
        "stream": stream,
        "seq": seq,
        "kind": kind,
        "actor": actor,
        "agency": agency,
        "at": at,
    }
    if form == FORM_DIGEST:
        if digest is None:
            if payload is None:
                raise ValueError("a form-3 event needs its payload and salt, or its digest")
            digest = payload_digest(salt, payload)
        document["payload_digest"] = digest
        document["form"] = FORM_DIGEST
    elif form == FORM_LEGACY:
        if payload is None:
            raise ValueError("a form-2 event needs its payload")
        document["payload"] = payload
        if salt:  # unsalted (older) events keep the canonical form they were hashed with
            document["salt"] = salt
    else:
        raise ValueError(f"unknown event form {form}")
    return canonical_json(document)


def event_hash(prev_hash: str, canonical: bytes) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical).hexdigest()


def leaf_data(stream: str, seq: int, head_hash: str) -> bytes:
    """A checkpoint's leaf: one stream's head."""
    return canonical_json({"stream": stream, "seq": seq, "hash": head_hash})


def checkpoint_body(
    *, number: int, tree_size: int, root: str, at: str, prev: str, key_id: str
) -> bytes:
    """What a checkpoint's signature covers, and its hash (``checkpoint_hash``) is of.
    ``prev`` is the previous checkpoint's hash (``GENESIS_HASH`` for number 1)."""
    return canonical_json(
        {
            "number": number,
            "tree_size": tree_size,
            "root": root,
            "at": at,
            "prev": prev,
            "key_id": key_id,
        }
    )


def checkpoint_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def key_id(public_key_raw: bytes) -> str:
    """An Ed25519 public key's id: the first 8 bytes of SHA-256 of its 32 raw bytes, hex."""
    return hashlib.sha256(public_key_raw).hexdigest()[:16]
