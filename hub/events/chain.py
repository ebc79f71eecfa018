"""Canonical form and hash chain of events.

``hash = sha256(prev_hash || canonical)`` where ``canonical`` is the event's JSON
with sorted keys, no whitespace, UTF-8, and the time in UTC with microseconds.
Identifiers (actor and agency ids, not names) are hashed so that renaming a
user or an agency never breaks a chain.

Every event carries a random ``salt`` (``new_salt``: 16 bytes as hex) that is
part of its canonical form and is never shown outside the database. Hashes are
public (the timeline API and exports carry them) and every other input is
guessable, so without the salt anyone could confirm a guess of a redacted
message's text (a phone number, a name) offline by recomputing the hash. Events
recorded before salting have an empty salt, and their canonical form has no
``salt`` key, so old chains still verify.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import UTC, datetime
from typing import Any


def canonical_time(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


SALT_BYTES = 16


def new_salt() -> str:
    """A fresh per-event salt: 16 random bytes from the OS CSPRNG, as 32 hex digits."""
    return secrets.token_hex(SALT_BYTES)


def canonical_bytes(
    *,
    stream: str,
    seq: int,
    kind: str,
    actor_id: int | None,
    agency_id: int | None,
    at: datetime,
    payload: dict[str, Any],
    salt: str,
) -> bytes:
    document: dict[str, Any] = {
        "stream": stream,
        "seq": seq,
        "kind": kind,
        "actor": actor_id,
        "agency": agency_id,
        "at": canonical_time(at),
        "payload": payload,
    }
    if salt:  # unsalted (legacy) events keep the canonical form they were hashed with
        document["salt"] = salt
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def chain_hash(prev_hash: str, canonical: bytes) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical).hexdigest()
