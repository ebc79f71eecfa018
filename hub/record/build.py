"""Building the ``record`` section of an export (and, for tests and test vectors,
whole logs with signed checkpoints) from the canonical forms. Pure: no Django.

An entry shows its payload (with its salt, when it has one) only where the
reader may see it. Otherwise a form-3 entry carries its ``payload_digest`` and a
form-2 entry carries neither payload nor salt (the verifier takes its hash as
stated). A salt never travels without its payload: alone it is useless to a
verifier, and with a guessed payload it would confirm the guess.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from hub.record.canonical import (
    FORM_DIGEST,
    FORM_LEGACY,
    GENESIS_HASH,
    checkpoint_body,
    checkpoint_hash,
    event_canonical,
    event_hash,
    key_id,
    leaf_data,
    payload_digest,
)
from hub.record.merkle import inclusion_proof, leaf_hash, root_from_hashes
from hub.record.verify import EXPORT_FORMAT


def record_entry(
    *,
    form: int,
    seq: int,
    kind: str,
    at: str,
    actor: int | None,
    agency: int | None,
    prev_hash: str,
    hash: str,
    payload: dict[str, Any],
    salt: str,
    show: bool,
) -> dict[str, Any]:
    """One exported entry. ``show``: the reader may see this payload (as stored)."""
    entry: dict[str, Any] = {
        "seq": seq,
        "kind": kind,
        "at": at,
        "actor": actor,
        "agency": agency,
        "form": form,
        "prev_hash": prev_hash,
        "hash": hash,
    }
    if show:
        entry["payload"] = payload
        if salt:
            entry["salt"] = salt
    elif form == FORM_DIGEST:
        entry["payload_digest"] = payload_digest(salt, payload)
    return entry


def record_document(
    *,
    stream: str,
    entries: list[dict[str, Any]],
    proof: dict[str, Any] | None,
    public_key: dict[str, str] | None,
) -> dict[str, Any]:
    """The export's ``record`` section: the stream's entries from seq 1 to its head,
    the inclusion proof of a checkpointed head (or None) and the public key."""
    head = entries[-1] if entries else None
    return {
        "format": EXPORT_FORMAT,
        "stream": stream,
        "head": {"seq": head["seq"], "hash": head["hash"]} if head else None,
        "events": entries,
        "proof": proof,
        "public_key": public_key,
    }


# --- whole logs, for tests and test vectors ---------------------------------------------------


@dataclass
class LoggedEvent:
    seq: int
    kind: str
    at: str
    actor: int | None
    agency: int | None
    payload: dict[str, Any]
    salt: str
    form: int
    prev_hash: str
    hash: str
    hidden: bool = False  # a reader may not see the payload (a redacted message)


@dataclass
class Log:
    """Streams of events and the checkpoints over their heads, built like the hub
    builds them (leaves in stream-name order)."""

    private_key: Any  # cryptography Ed25519PrivateKey
    streams: dict[str, list[LoggedEvent]] = field(default_factory=dict)
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    covered: list[list[tuple[str, int, str]]] = field(default_factory=list)

    @property
    def public_raw(self) -> bytes:
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        raw: bytes = self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return raw

    @property
    def public_key(self) -> dict[str, str]:
        raw = self.public_raw
        return {"key_id": key_id(raw), "ed25519": base64.b64encode(raw).decode("ascii")}

    def append(
        self,
        stream: str,
        *,
        kind: str,
        at: str,
        payload: dict[str, Any],
        salt: str = "",
        form: int = FORM_DIGEST,
        actor: int | None = None,
        agency: int | None = None,
        hidden: bool = False,
    ) -> LoggedEvent:
        events = self.streams.setdefault(stream, [])
        seq = len(events) + 1
        prev = events[-1].hash if events else GENESIS_HASH
        canonical = event_canonical(
            form=form, stream=stream, seq=seq, kind=kind, actor=actor, agency=agency, at=at,
            payload=payload, salt=salt,
        )  # fmt: skip
        event = LoggedEvent(
            seq, kind, at, actor, agency, payload, salt, form, prev, event_hash(prev, canonical),
            hidden,
        )  # fmt: skip
        events.append(event)
        return event

    def checkpoint(self, at: str) -> dict[str, Any]:
        heads = [(name, ev[-1].seq, ev[-1].hash) for name, ev in sorted(self.streams.items()) if ev]
        leaves = [leaf_hash(leaf_data(*head)) for head in heads]
        prev = self.checkpoints[-1]["hash"] if self.checkpoints else GENESIS_HASH
        kid = key_id(self.public_raw)
        number = len(self.checkpoints) + 1
        root = root_from_hashes(leaves).hex()
        body = checkpoint_body(
            number=number, tree_size=len(leaves), root=root, at=at, prev=prev, key_id=kid
        )
        checkpoint = {
            "number": number,
            "tree_size": len(leaves),
            "root": root,
            "at": at,
            "prev": prev,
            "key_id": kid,
            "signature": base64.b64encode(self.private_key.sign(body)).decode("ascii"),
            "hash": checkpoint_hash(body),
        }
        self.checkpoints.append(checkpoint)
        self.covered.append(heads)
        return checkpoint

    def proof(self, stream: str, number: int | None = None) -> dict[str, Any] | None:
        """The inclusion proof of ``stream``'s head in checkpoint ``number`` (the latest
        that covers it, when None)."""
        for i in reversed(range(len(self.checkpoints))):
            if number is not None and i + 1 != number:
                continue
            heads = self.covered[i]
            names = [h[0] for h in heads]
            if stream not in names:
                continue
            index = names.index(stream)
            leaves = [leaf_hash(leaf_data(*h)) for h in heads]
            _, seq, head_hash = heads[index]
            return {
                "checkpoint": dict(self.checkpoints[i]),
                "leaf_index": index,
                "leaf": {"stream": stream, "seq": seq, "hash": head_hash},
                "inclusion": [node.hex() for node in inclusion_proof(leaves, index)],
            }
        return None

    def export(self, stream: str, *, number: int | None = None) -> dict[str, Any]:
        """The ``record`` section of ``stream``'s export: hidden payloads withheld."""
        entries = [
            record_entry(
                form=e.form,
                seq=e.seq,
                kind=e.kind,
                at=e.at,
                actor=e.actor,
                agency=e.agency,
                prev_hash=e.prev_hash,
                hash=e.hash,
                payload=e.payload,
                salt=e.salt,
                show=not e.hidden,
            )
            for e in self.streams[stream]
        ]
        return record_document(
            stream=stream,
            entries=entries,
            proof=self.proof(stream, number),
            public_key=self.public_key,
        )


__all__ = ["FORM_DIGEST", "FORM_LEGACY", "Log", "LoggedEvent", "record_document", "record_entry"]
