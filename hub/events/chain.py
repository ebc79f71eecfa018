"""Canonical form and hash chain of events: the hub's side of ``hub.record.canonical``.

``hash = sha256(prev_hash || canonical)``; the canonical bytes are defined once, in
``hub.record.canonical`` (pure, so offline verifiers use the very same code), and
this module only adapts a row's fields to it. Identifiers (actor and agency ids,
not names) are hashed so that renaming a user or an agency never breaks a chain.

Every event carries a random ``salt`` (``new_salt``: 16 bytes as hex). Hashes are
public (the timeline API and exports carry them) and every other input is
guessable, so without the salt anyone could confirm a guess of a redacted
message's text offline by recomputing the hash. Two canonical forms exist:

- form 3 (every event ``emit`` writes): the canonical event commits to
  ``payload_digest = sha256(salt || canonical payload)``, so an export can show a
  payload with its salt, or only its digest, and anyone can recompute the chain;
- form 2 (events from before form 3): the canonical event holds the payload and
  its salt; events recorded before salting have an empty salt and no ``salt`` key.

The salt is never shown by the hub's APIs, frames or the review page; only an
export decides where a reader may see a payload together with its salt.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from hub.record.canonical import (
    FORM_DIGEST,
    FORM_LEGACY,
    canonical_time,
    event_canonical,
    event_hash,
    payload_digest,
)

__all__ = [
    "FORM_DIGEST",
    "FORM_LEGACY",
    "SALT_BYTES",
    "canonical_bytes",
    "canonical_time",
    "chain_hash",
    "new_salt",
    "payload_digest",
]

SALT_BYTES = 16


def new_salt() -> str:
    """A fresh per-event salt: 16 random bytes from the OS CSPRNG, as 32 hex digits."""
    return secrets.token_hex(SALT_BYTES)


def canonical_bytes(
    *,
    form: int,
    stream: str,
    seq: int,
    kind: str,
    actor_id: int | None,
    agency_id: int | None,
    at: datetime,
    payload: dict[str, Any],
    salt: str,
) -> bytes:
    """The bytes an event row's hash commits to, in canonical ``form`` (2 or 3)."""
    return event_canonical(
        form=form,
        stream=stream,
        seq=seq,
        kind=kind,
        actor=actor_id,
        agency=agency_id,
        at=canonical_time(at),
        payload=payload,
        salt=salt,
    )


def chain_hash(prev_hash: str, canonical: bytes) -> str:
    return event_hash(prev_hash, canonical)
