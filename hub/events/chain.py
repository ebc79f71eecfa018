"""Canonical form and hash chain of events.

``hash = sha256(prev_hash || canonical)`` where ``canonical`` is the event's JSON
with sorted keys, no whitespace, UTF-8, and the time in UTC with microseconds.
Identifiers (actor and agency ids, not names) are hashed so that renaming a
user or an agency never breaks a chain.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any


def canonical_time(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_bytes(
    *,
    stream: str,
    seq: int,
    kind: str,
    actor_id: int | None,
    agency_id: int | None,
    at: datetime,
    payload: dict[str, Any],
) -> bytes:
    document = {
        "stream": stream,
        "seq": seq,
        "kind": kind,
        "actor": actor_id,
        "agency": agency_id,
        "at": canonical_time(at),
        "payload": payload,
    }
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def chain_hash(prev_hash: str, canonical: bytes) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical).hexdigest()
