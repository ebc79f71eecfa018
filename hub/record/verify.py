"""The offline verifier of a stream export: what anyone can check with nothing but the
export file and the hub's public key (no database, no settings, no Django).

``verify_export(document, public_keys)`` checks, in this order, and stops at the
first problem, naming where it is:

1. the entries (``record.events``): a complete stream from seq 1, each seq the one
   after the last (nothing missing, reordered or inserted), each ``prev_hash`` the
   hash of the entry before (``GENESIS_HASH`` for seq 1), each hash recomputed from
   the entry (form 3: from its payload and salt, or from its ``payload_digest`` when
   the payload is withheld; form 2: from its payload and salt; a form-2 entry whose
   payload is withheld cannot be recomputed and is reported as *taken as stated*,
   never as proven), and the last entry the export's stated head;
2. the checkpoint's key: ``key_id`` must name a key the caller gave, or, when the
   caller gave none, the key embedded in the file (whose id must be its own); an
   embedded key alone proves only that the file is self-consistent, and the result
   says so;
3. the Ed25519 signature over the checkpoint's body (``canonical.checkpoint_body``),
   then the checkpoint's hash of that body;
4. the proof's leaf (stream, seq, hash) equals the exported entry at that seq;
5. the inclusion proof (RFC 6962) leads from that leaf to the signed root.

Events after the checkpointed seq are verified by the chain only; the result says
so. ``python -m hub.record.verify FILE [--public-key PEM]`` prints the result
and exits 0 (verified) or 1 (the first problem). ``docs/record.md`` is the
specification; the browser's verifier (``frontend/src/review/verify.ts``) says the
same sentences (``MESSAGES`` here equal ``review.verify.*`` in its English locale).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

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
from hub.record.merkle import leaf_hash, root_from_inclusion

HEX64 = re.compile(r"[0-9a-f]{64}")
HEX_SALT = re.compile(r"(?:[0-9a-f]{2})*")
EXPORT_FORMAT = "hub-record-export/1"

# The sentences of a result, by code; ICU-style placeholders. The web app's
# review.en.json holds the same text under ``review.verify.<code>`` (a test checks).
MESSAGES: dict[str, str] = {
    # what was proved
    "ok": "Verified: {stream}, events 1 to {head_seq}, head hash {head_hash}.",
    "checkpoint": (
        "Checkpoint {number} of {at}, signed by key {key_id}, includes this stream "
        "at seq {seq}; its Ed25519 signature and inclusion proof hold."
    ),
    "keyGiven": "Checked with the public key you gave (key id {key_id}).",
    "keyEmbedded": (
        "Checked only with the public key embedded in the file (key id {key_id}): this "
        "proves the file is self-consistent, not that the hub signed it. Check again "
        "with the hub public key."
    ),
    "chainOnly": (
        "Events after seq {seq} (up to {head_seq}) are verified by the chain only: "
        "no checkpoint in this file covers them."
    ),
    "withheld": (
        "Shown by digest only (payload withheld), their hashes recomputed from the "
        "digest: seq {seqs}."
    ),
    "takenAsStated": (
        "Taken as stated, not proven: the hashes of older (form 2) entries whose "
        "payload is withheld, at seq {seqs}; the chain links through them."
    ),
    # the first problem
    "notVerified": "Not verified: {problem}",
    "fail.document": "the file is not a hub record export ({detail}).",
    "fail.empty": "the record holds no events.",
    "fail.entry": "entry {position} (seq {seq}): {detail}.",
    "fail.seq": (
        "entry {position} has seq {seq}, expected {expected}: an entry is missing, "
        "reordered or inserted."
    ),
    "fail.prev": "entry {position} (seq {seq}): its prev_hash does not link to the entry before.",
    "fail.hash": "entry {position} (seq {seq}): its hash does not recompute from its contents.",
    "fail.head": "the record ends at seq {seq}, but the export states its head is seq {head}.",
    "fail.noCheckpoint": (
        "the file carries no signed checkpoint: its chain of {count} events recomputes, "
        "but nothing signed vouches for it."
    ),
    "fail.keyUnknown": (
        "key id {key_id}: the checkpoint names a key that is not among the public keys given."
    ),
    "fail.keyMismatch": (
        "key id {key_id}: the checkpoint names a key other than the one embedded in the file "
        "({embedded})."
    ),
    "fail.keyId": "key id {key_id}: the embedded public key has the id {actual}.",
    "fail.signature": (
        "signature: the signature of checkpoint {number} does not verify with key {key_id}."
    ),
    "fail.checkpointHash": "checkpoint {number}: its hash does not match its body.",
    "fail.checkpoint": "checkpoint: {detail}.",
    "fail.leaf": "proof leaf: it states {detail}, which does not match entry seq {seq}.",
    "fail.proofNode": "proof node {node}: not a 64-digit hex hash.",
    "fail.proofLength": (
        "inclusion proof: its length is {count}; leaf {leaf} of a tree of {size} needs a "
        "proof of length {expected}."
    ),
    "fail.inclusion": (
        "inclusion proof: its nodes 0 to {last} do not lead from the leaf to the root of "
        "checkpoint {number}."
    ),
}


@dataclass(frozen=True)
class Message:
    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        return MESSAGES[self.code].format(**self.params)


@dataclass(frozen=True)
class Problem:
    """The first problem: ``where`` is ``entry`` (``index`` from 0 in the list; the
    sentence says ``position``, from 1; ``seq``), ``proof`` (``node``
    when one node is malformed), ``leaf``, ``signature``, ``key``, ``checkpoint``,
    ``document`` or ``head``."""

    code: str
    where: str
    params: dict[str, Any]
    index: int | None = None
    seq: int | None = None
    node: int | None = None

    @property
    def message(self) -> Message:
        return Message(self.code, self.params)

    def text(self) -> str:
        return Message("notVerified", {"problem": self.message.text()}).text()


@dataclass
class Result:
    ok: bool = False
    stream: str = ""
    events: int = 0
    head_seq: int = 0
    head_hash: str = ""
    checkpoint_number: int | None = None
    checkpoint_at: str | None = None
    checkpoint_seq: int | None = None  # the stream's seq the checkpoint covers
    key_id: str | None = None
    key_source: str | None = None  # "given" or "embedded"
    withheld: list[int] = field(default_factory=list)  # form 3, digest only
    taken_as_stated: list[int] = field(default_factory=list)  # form 2, payload withheld
    problem: Problem | None = None

    @property
    def messages(self) -> list[Message]:
        """What the result says, in order (the command prints one line each)."""
        if self.problem is not None:
            return [Message("notVerified", {"problem": self.problem.message.text()})]
        out = [
            Message(
                "ok",
                {
                    "stream": self.stream,
                    "count": self.events,
                    "head_seq": self.head_seq,
                    "head_hash": self.head_hash,
                },
            ),
            Message(
                "checkpoint",
                {
                    "number": self.checkpoint_number,
                    "at": self.checkpoint_at,
                    "key_id": self.key_id,
                    "seq": self.checkpoint_seq,
                },
            ),
            Message("keyGiven" if self.key_source == "given" else "keyEmbedded",
                    {"key_id": self.key_id}),
        ]  # fmt: skip
        if self.checkpoint_seq is not None and self.checkpoint_seq < self.head_seq:
            after = {"seq": self.checkpoint_seq, "head_seq": self.head_seq}
            out.append(Message("chainOnly", after))
        if self.withheld:
            out.append(Message("withheld", {"seqs": _seqs(self.withheld)}))
        if self.taken_as_stated:
            out.append(Message("takenAsStated", {"seqs": _seqs(self.taken_as_stated)}))
        return out

    def lines(self) -> list[str]:
        return [m.text() for m in self.messages]


def _seqs(seqs: list[int]) -> str:
    """``1, 4-7, 9``: runs of consecutive seqs shortened."""
    runs: list[list[int]] = []
    for seq in seqs:
        if runs and seq == runs[-1][1] + 1:
            runs[-1][1] = seq
        else:
            runs.append([seq, seq])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


class _Stop(Exception):
    def __init__(self, problem: Problem) -> None:
        self.problem = problem


def _fail(code: str, where: str, **params: Any) -> _Stop:
    if where == "entry":
        params["position"] = params["index"] + 1  # entries are counted from 1 in words
    return _Stop(
        Problem(
            code,
            where,
            params,
            index=params.get("index") if where == "entry" else None,
            seq=params.get("seq") if where in ("entry", "leaf") else None,
            node=params.get("node"),
        )
    )


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _hex64(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and HEX64.fullmatch(value) is not None


def _entry_hash(entry: dict[str, Any], stream: str, index: int, seq: int) -> tuple[str, str]:
    """(recomputed hash, how: "payload" | "digest" | "stated"). Raises _Stop."""

    def bad(detail: str) -> _Stop:
        return _fail("fail.entry", "entry", index=index, seq=seq, detail=detail)

    form = entry.get("form")
    if form not in (FORM_LEGACY, FORM_DIGEST) or not _is_int(form):
        raise bad(f"unknown form {form!r}")
    kind, at = entry.get("kind"), entry.get("at")
    actor, agency = entry.get("actor"), entry.get("agency")
    if not isinstance(kind, str) or not isinstance(at, str):
        raise bad("kind and at must be strings")
    if not (actor is None or _is_int(actor)) or not (agency is None or _is_int(agency)):
        raise bad("actor and agency must be integers or null")
    has_payload = "payload" in entry
    payload: Any = entry.get("payload")
    salt = entry.get("salt", "")
    digest = entry.get("payload_digest")
    if has_payload and not isinstance(payload, dict):
        raise bad("payload must be an object")
    if not isinstance(salt, str) or HEX_SALT.fullmatch(salt) is None:
        raise bad("salt must be hex")
    if "salt" in entry and not has_payload:
        raise bad("a salt without its payload")
    if digest is not None and not _hex64(digest):
        raise bad("payload_digest must be a 64-digit hex hash")
    common: dict[str, Any] = {
        "stream": stream,
        "seq": seq,
        "kind": kind,
        "actor": actor,
        "agency": agency,
        "at": at,
    }
    if form == FORM_DIGEST:
        if has_payload:
            canonical = event_canonical(form=form, payload=payload, salt=salt, **common)
            computed = event_hash(entry["prev_hash"], canonical)
            # Both shown: they must be the same commitment.
            if digest is not None and payload_digest(salt, payload) != digest:
                raise bad("its payload and salt do not make its payload_digest")
            return computed, "payload"
        if digest is None:
            raise bad("a form-3 entry needs its payload and salt, or its payload_digest")
        canonical = event_canonical(form=form, digest=digest, **common)
        return event_hash(entry["prev_hash"], canonical), "digest"
    if digest is not None:
        raise bad("a form-2 entry has no payload_digest")
    if not has_payload:
        return str(entry.get("hash")), "stated"
    canonical = event_canonical(form=form, payload=payload, salt=salt, **common)
    return event_hash(entry["prev_hash"], canonical), "payload"


def _check_chain(record: dict[str, Any], result: Result) -> list[dict[str, Any]]:
    stream = record.get("stream")
    events = record.get("events")
    if not isinstance(stream, str) or not stream:
        raise _fail("fail.document", "document", detail="record.stream is missing")
    if not isinstance(events, list):
        raise _fail("fail.document", "document", detail="record.events is missing")
    if not events:
        raise _fail("fail.empty", "document")
    result.stream = stream
    prev = GENESIS_HASH
    for index, entry in enumerate(events):
        if not isinstance(entry, dict):
            raise _fail("fail.entry", "entry", index=index, seq=None, detail="not an object")
        seq = entry.get("seq")
        if not _is_int(seq) or seq != index + 1:
            raise _fail("fail.seq", "entry", index=index, seq=seq, expected=index + 1)
        if not _hex64(entry.get("prev_hash")) or not _hex64(entry.get("hash")):
            raise _fail(
                "fail.entry",
                "entry",
                index=index,
                seq=seq,
                detail="prev_hash and hash must be 64-digit hex hashes",
            )
        if entry["prev_hash"] != prev:
            raise _fail("fail.prev", "entry", index=index, seq=seq)
        computed, how = _entry_hash(entry, stream, index, seq)
        if computed != entry["hash"]:
            raise _fail("fail.hash", "entry", index=index, seq=seq)
        if how == "digest":
            result.withheld.append(seq)
        elif how == "stated":
            result.taken_as_stated.append(seq)
        prev = entry["hash"]
    result.events = len(events)
    result.head_seq = len(events)
    result.head_hash = prev
    head = record.get("head")
    if head is not None and (
        not isinstance(head, dict)
        or not _is_int(head.get("seq"))
        or head.get("seq") != result.head_seq
        or head.get("hash") != result.head_hash
    ):
        stated = head.get("seq") if isinstance(head, dict) else head
        raise _fail("fail.head", "head", seq=result.head_seq, head=stated)
    return events


def _resolve_key(
    checkpoint: dict[str, Any], record: dict[str, Any], public_keys: dict[str, bytes] | None
) -> tuple[str, bytes, str]:
    named = checkpoint.get("key_id")
    if not isinstance(named, str):
        raise _fail("fail.checkpoint", "checkpoint", detail="key_id is missing")
    if public_keys:
        raw = public_keys.get(named)
        if raw is None:
            raise _fail("fail.keyUnknown", "key", key_id=named)
        return named, raw, "given"
    embedded = record.get("public_key")
    if not isinstance(embedded, dict):
        raise _fail("fail.keyUnknown", "key", key_id=named)
    raw = _base64(embedded.get("ed25519"))
    if len(raw) != 32:
        raise _fail("fail.keyId", "key", key_id=embedded.get("key_id"), actual="(no valid key)")
    actual = key_id(raw)
    if embedded.get("key_id") != actual:
        raise _fail("fail.keyId", "key", key_id=embedded.get("key_id"), actual=actual)
    if named != actual:
        raise _fail("fail.keyMismatch", "key", key_id=named, embedded=actual)
    return named, raw, "embedded"


def _base64(value: Any) -> bytes:
    """Standard base64 in its one canonical spelling (padded, unused bits zero), else b""."""
    if not isinstance(value, str):
        return b""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return b""
    return raw if base64.b64encode(raw).decode("ascii") == value else b""


def _signature_holds(raw_key: bytes, signature: bytes, body: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(raw_key).verify(signature, body)
    except (InvalidSignature, ValueError):
        return False
    return True


def proof_length(index: int, size: int) -> int:
    """How many nodes an RFC 6962 inclusion proof of leaf ``index`` in a tree of
    ``size`` has (the walk of RFC 9162 §2.1.3.2)."""
    fn, sn, count = index, size - 1, 0
    while sn != 0:
        if (fn & 1 or fn == sn) and not fn & 1:
            while fn & 1 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        fn >>= 1
        sn >>= 1
        count += 1
    return count


def _check_proof(
    record: dict[str, Any],
    events: list[dict[str, Any]],
    public_keys: dict[str, bytes] | None,
    result: Result,
) -> None:
    proof = record.get("proof")
    if not isinstance(proof, dict):
        raise _fail("fail.noCheckpoint", "checkpoint", count=len(events))
    checkpoint = proof.get("checkpoint")
    if not isinstance(checkpoint, dict):
        raise _fail("fail.noCheckpoint", "checkpoint", count=len(events))
    number, tree_size = checkpoint.get("number"), checkpoint.get("tree_size")
    root, at, prev = checkpoint.get("root"), checkpoint.get("at"), checkpoint.get("prev")
    if not (_is_int(number) and _is_int(tree_size) and isinstance(at, str)):
        raise _fail("fail.checkpoint", "checkpoint", detail="number, tree_size and at are needed")
    if not (_hex64(root) and _hex64(prev)):
        raise _fail("fail.checkpoint", "checkpoint", detail="root and prev must be hex hashes")
    named, raw_key, source = _resolve_key(checkpoint, record, public_keys)
    body = checkpoint_body(
        number=number, tree_size=tree_size, root=root, at=at, prev=prev, key_id=named
    )
    signature = _base64(checkpoint.get("signature"))
    if len(signature) != 64 or not _signature_holds(raw_key, signature, body):
        raise _fail("fail.signature", "signature", number=number, key_id=named)
    if checkpoint.get("hash") != checkpoint_hash(body):
        raise _fail("fail.checkpointHash", "checkpoint", number=number)

    leaf = proof.get("leaf")
    if not isinstance(leaf, dict):
        raise _fail("fail.leaf", "leaf", detail="nothing", seq=None)
    leaf_stream, leaf_seq, leaf_head = leaf.get("stream"), leaf.get("seq"), leaf.get("hash")
    stated = f"{leaf_stream} seq {leaf_seq} hash {leaf_head}"
    if (
        leaf_stream != result.stream
        or not _is_int(leaf_seq)
        or not 1 <= leaf_seq <= len(events)
        or leaf_head != events[leaf_seq - 1]["hash"]
    ):
        raise _fail("fail.leaf", "leaf", detail=stated, seq=leaf_seq)

    index, nodes = proof.get("leaf_index"), proof.get("inclusion")
    if not _is_int(index) or not 0 <= index < tree_size:
        raise _fail("fail.checkpoint", "proof", detail=f"leaf_index {index!r} is outside the tree")
    if not isinstance(nodes, list):
        raise _fail("fail.checkpoint", "proof", detail="the inclusion proof is missing")
    for node, value in enumerate(nodes):
        if not _hex64(value):
            raise _fail("fail.proofNode", "proof", node=node)
    expected = proof_length(index, tree_size)
    if len(nodes) != expected:
        raise _fail(
            "fail.proofLength", "proof", count=len(nodes), leaf=index, size=tree_size,
            expected=expected,
        )  # fmt: skip
    start = leaf_hash(leaf_data(result.stream, leaf_seq, leaf_head))
    reached = root_from_inclusion(start, index, tree_size, [bytes.fromhex(n) for n in nodes])
    if reached.hex() != root:
        raise _fail("fail.inclusion", "proof", last=max(len(nodes) - 1, 0), number=number)

    result.checkpoint_number = number
    result.checkpoint_at = at
    result.checkpoint_seq = leaf_seq
    result.key_id = named
    result.key_source = source


def verify_export(document: Any, public_keys: dict[str, bytes] | None = None) -> Result:
    """Verify an export (the whole JSON document, or its ``record``) against
    ``public_keys`` (key id -> raw 32-byte Ed25519 key); with none, against the key
    embedded in the file (self-consistency only). Never raises on bad input."""
    result = Result()
    try:
        if not isinstance(document, dict):
            raise _fail("fail.document", "document", detail="not a JSON object")
        record = document.get("record", document)
        if not isinstance(record, dict):
            raise _fail("fail.document", "document", detail="record is not an object")
        if record.get("format") != EXPORT_FORMAT:
            raise _fail("fail.document", "document", detail=f"record.format is not {EXPORT_FORMAT}")
        events = _check_chain(record, result)
        _check_proof(record, events, public_keys, result)
    except _Stop as stop:
        result.problem = stop.problem
        return result
    result.ok = True
    return result


def load_public_key(data: bytes) -> bytes:
    """A public key file's raw 32 bytes: PEM (SubjectPublicKeyInfo), or the raw key
    in base64 or hex on one line."""
    text = data.strip()
    if text.startswith(b"-----BEGIN"):
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
        from cryptography.hazmat.primitives.serialization import (
            Encoding,
            PublicFormat,
            load_pem_public_key,
        )

        key = load_pem_public_key(text)
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("not an Ed25519 public key")
        return key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    if len(text) == 64:
        return bytes.fromhex(text.decode("ascii"))
    raw = base64.b64decode(text, validate=True)
    if len(raw) != 32:
        raise ValueError("not a 32-byte Ed25519 public key")
    return raw


def run(file: str, public_key_files: list[str], out: Any = None) -> int:
    """Read, verify, print one line per sentence; 0 if verified, 1 otherwise."""
    out = out or sys.stdout
    keys: dict[str, bytes] | None = None
    if public_key_files:
        keys = {}
        for name in public_key_files:
            raw = load_public_key(Path(name).read_bytes())
            keys[key_id(raw)] = raw
    try:
        document = json.loads(Path(file).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        problem = Message("fail.document", {"detail": str(error)}).text()
        out.write(Message("notVerified", {"problem": problem}).text() + "\n")
        return 1
    result = verify_export(document, keys)
    for line in result.lines():
        out.write(line + "\n")
    return 0 if result.ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hub.record.verify",
        description="Verify a hub export offline: its chain, checkpoint signature and "
        "inclusion proof. Exit 0: verified; 1: the first problem is named.",
    )
    parser.add_argument("file", help="the JSON export")
    parser.add_argument(
        "--public-key",
        action="append",
        default=[],
        help="the hub's Ed25519 public key (PEM); repeat for older keys. Without it, "
        "only the key embedded in the file is used (self-consistency only).",
    )
    args = parser.parse_args(argv)
    return run(args.file, args.public_key)


if __name__ == "__main__":
    sys.exit(main())
