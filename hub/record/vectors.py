"""The test vectors of ``docs/record.md`` (``docs/record-vectors.json``), built
deterministically: a published, test-only Ed25519 key (the RFC 8032 §7.1 TEST 1
secret key), fixed salts and times. Regenerate with
``python -m hub.record.vectors > docs/record-vectors.json`` (then paste the file
into docs/record.md; ``tests/unit/test_record_vectors.py`` checks both).

Never sign anything real with this key: its private half is public.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from hub.record.build import Log
from hub.record.canonical import (
    FORM_LEGACY,
    canonical_json,
    checkpoint_body,
    event_canonical,
    leaf_data,
    payload_digest,
)
from hub.record.merkle import leaf_hash

TEST_KEY_SEED = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
STREAM = "incident:TST-2026-0001"
REDACTED_TEXT = "Driver's passport P<TST1234567, phone +99 555 0100"


def build_log() -> Log:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    log = Log(Ed25519PrivateKey.from_private_bytes(bytes.fromhex(TEST_KEY_SEED)))
    a, b, c = STREAM, "crossing:TST", "operation:TST-OP-0001"
    log.append(
        a, kind="incident.reported", at="2026-03-02T10:00:00.000000+00:00", actor=7, agency=2,
        form=FORM_LEGACY,
        payload={"title": "Forged visas in a minibus", "severity": "high", "people": 4},
    )  # fmt: skip
    log.append(
        b, kind="alert.issued", at="2026-03-02T10:01:30.250000+00:00", actor=7, agency=2,
        form=FORM_LEGACY, salt="00112233445566778899aabbccddeeff",
        payload={"alert_id": 3, "title": "Forged Schengen visas", "targets": ["CUS", "POL"]},
    )  # fmt: skip
    log.append(
        a, kind="incident.agency_invited", at="2026-03-02T10:02:00.000000+00:00", actor=7,
        agency=2, form=FORM_LEGACY, salt="0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        payload={"agency": "POL", "note": "two suspects"},
    )  # fmt: skip
    log.checkpoint("2026-03-02T10:05:00.000000+00:00")
    log.append(
        a, kind="message.posted", at="2026-03-02T10:06:00.123456+00:00", actor=9, agency=4,
        salt="a1a2a3a4a5a6a7a8a9aaabacadaeafb0",
        payload={"message_id": 11, "body": "Suspects held at lane 3; interpreter (اردو) needed"},
    )  # fmt: skip
    log.append(
        a, kind="message.posted", at="2026-03-02T10:07:00.000001+00:00", actor=9, agency=4,
        salt="b1b2b3b4b5b6b7b8b9babbbcbdbebfc0",
        payload={"message_id": 12, "body": REDACTED_TEXT}, hidden=True,
    )  # fmt: skip
    log.append(
        a, kind="message.redacted", at="2026-03-02T10:09:00.000000+00:00", actor=7, agency=2,
        salt="c1c2c3c4c5c6c7c8c9cacbcccdcecfd0",
        payload={"message_id": 12, "reason": "personal data"},
    )  # fmt: skip
    log.append(
        b, kind="alert.acknowledged", at="2026-03-02T10:09:30.000000+00:00", actor=9, agency=4,
        salt="d1d2d3d4d5d6d7d8d9dadbdcdddedfe0", payload={"alert_id": 3, "agency": "POL"},
    )  # fmt: skip
    log.append(
        c, kind="operation.started", at="2026-03-02T10:09:45.000000+00:00", actor=7, agency=2,
        salt="e1e2e3e4e5e6e7e8e9eaebecedeeeff0",
        payload={"ref": "TST-OP-0001", "title": "Search of the minibus", "tasks": []},
    )  # fmt: skip
    log.checkpoint("2026-03-02T10:10:00.000000+00:00")
    log.append(
        a, kind="incident.transitioned", at="2026-03-02T10:11:00.000000+00:00", actor=7,
        agency=2, salt="f1f2f3f4f5f6f7f8f9fafbfcfdfeff00",
        payload={"from_status": "reported", "to_status": "triaged", "ratio": 0.5},
    )  # fmt: skip
    return log


# Single changes to the export and the first problem each must be named with.
# ``path`` is a JSON path into the export document; ``value`` replaces what is there
# (``"$drop"`` removes a list item, ``"$swap"`` swaps it with the next one).
MUTATIONS: list[dict[str, Any]] = [
    {"name": "payload changed", "path": ["record", "events", 2, "payload", "body"],
     "value": "Suspects held at lane 4; interpreter (اردو) needed",
     "code": "fail.hash", "where": "entry", "seq": 3},
    {"name": "salt changed", "path": ["record", "events", 2, "salt"],
     "value": "a1a2a3a4a5a6a7a8a9aaabacadaeafb1", "code": "fail.hash", "where": "entry", "seq": 3},
    {"name": "entry removed", "path": ["record", "events", 2], "value": "$drop",
     "code": "fail.seq", "where": "entry", "seq": 4},
    {"name": "entries reordered", "path": ["record", "events", 3], "value": "$swap",
     "code": "fail.seq", "where": "entry", "seq": 5},
    {"name": "entry inserted", "path": ["record", "events", 3], "value": "$dup",
     "code": "fail.seq", "where": "entry", "seq": 4},
    {"name": "digest changed", "path": ["record", "events", 3, "payload_digest"],
     "value": "0" * 64, "code": "fail.hash", "where": "entry", "seq": 4},
    {"name": "hash changed", "path": ["record", "events", 5, "hash"], "value": "f" * 64,
     "code": "fail.hash", "where": "entry", "seq": 6},
    {"name": "prev_hash changed", "path": ["record", "events", 4, "prev_hash"],
     "value": "e" * 64, "code": "fail.prev", "where": "entry", "seq": 5},
    {"name": "legacy payload changed", "path": ["record", "events", 0, "payload", "people"],
     "value": 3, "code": "fail.hash", "where": "entry", "seq": 1},
    {"name": "legacy payload withheld", "path": ["record", "events", 0, "payload"],
     "value": "$delete", "code": None, "where": None, "seq": None, "taken_as_stated": [1]},
    {"name": "proof node changed", "path": ["record", "proof", "inclusion", 0],
     "value": "1" * 64, "code": "fail.inclusion", "where": "proof", "seq": None},
    {"name": "proof node malformed", "path": ["record", "proof", "inclusion", 1],
     "value": "not a hash", "code": "fail.proofNode", "where": "proof", "seq": None},
    {"name": "proof node removed", "path": ["record", "proof", "inclusion", 0],
     "value": "$drop", "code": "fail.proofLength", "where": "proof", "seq": None},
    {"name": "signature changed", "path": ["record", "proof", "checkpoint", "signature"],
     "value": "AAAA" + "A" * 84, "code": "fail.signature", "where": "signature", "seq": None},
    {"name": "root changed", "path": ["record", "proof", "checkpoint", "root"],
     "value": "2" * 64, "code": "fail.signature", "where": "signature", "seq": None},
    {"name": "checkpoint hash changed", "path": ["record", "proof", "checkpoint", "hash"],
     "value": "3" * 64, "code": "fail.checkpointHash", "where": "checkpoint", "seq": None},
    {"name": "key id changed", "path": ["record", "proof", "checkpoint", "key_id"],
     "value": "0123456789abcdef", "code": "fail.keyUnknown", "where": "key", "seq": None},
    {"name": "leaf changed", "path": ["record", "proof", "leaf", "seq"], "value": 4,
     "code": "fail.leaf", "where": "leaf", "seq": 4},
    {"name": "head changed", "path": ["record", "head", "seq"], "value": 5,
     "code": "fail.head", "where": "head", "seq": None},
]  # fmt: skip


def mutate(document: Any, mutation: dict[str, Any]) -> Any:
    """A deep copy of ``document`` with ``mutation`` applied."""
    changed = json.loads(json.dumps(document))
    *parents, last = mutation["path"]
    target = changed
    for step in parents:
        target = target[step]
    value = mutation["value"]
    if value == "$drop" or value == "$delete":
        del target[last]
    elif value == "$swap":
        target[last], target[last + 1] = target[last + 1], target[last]
    elif value == "$dup":
        target.insert(last, json.loads(json.dumps(target[last])))
    else:
        target[last] = value
    return changed


def build_vectors() -> dict[str, Any]:
    log = build_log()
    events = []
    for e in log.streams[STREAM]:
        canonical = event_canonical(
            form=e.form, stream=STREAM, seq=e.seq, kind=e.kind, actor=e.actor, agency=e.agency,
            at=e.at, payload=e.payload, salt=e.salt,
        )  # fmt: skip
        item: dict[str, Any] = {"seq": e.seq, "form": e.form}
        if e.form == 3:
            item["payload_json"] = canonical_json(e.payload).decode("utf-8")
            item["payload_digest"] = payload_digest(e.salt, e.payload)
        item["canonical"] = canonical.decode("utf-8")
        item["hash"] = e.hash
        events.append(item)
    checkpoints = []
    for cp, heads in zip(log.checkpoints, log.covered, strict=True):
        body = checkpoint_body(
            number=cp["number"], tree_size=cp["tree_size"], root=cp["root"], at=cp["at"],
            prev=cp["prev"], key_id=cp["key_id"],
        )  # fmt: skip
        checkpoints.append(
            {
                "leaves": [
                    {
                        "data": leaf_data(*h).decode("utf-8"),
                        "leaf_hash": leaf_hash(leaf_data(*h)).hex(),
                    }
                    for h in heads
                ],
                "body": body.decode("utf-8"),
                "checkpoint": cp,
            }
        )
    document = {"record": log.export(STREAM)}
    proof = document["record"]["proof"]
    return {
        "about": "Test vectors of docs/record.md. The private key is published: test only.",
        "key": {
            "ed25519_private_seed_hex": TEST_KEY_SEED,
            "ed25519_public_hex": log.public_raw.hex(),
            **log.public_key,
        },
        "stream": STREAM,
        "redacted_text": REDACTED_TEXT,
        "events": events,
        "checkpoints": checkpoints,
        "expected": {
            "ok": True,
            "events": len(log.streams[STREAM]),
            "head_seq": len(log.streams[STREAM]),
            "head_hash": log.streams[STREAM][-1].hash,
            "checkpoint_number": proof["checkpoint"]["number"],
            "checkpoint_seq": proof["leaf"]["seq"],
            "withheld": [e.seq for e in log.streams[STREAM] if e.hidden and e.form == 3],
            "lines": [],  # filled below
        },
        "export": document,
        "mutations": MUTATIONS,
    }


# JSON texts and their canonical form (what another language's canonical JSON must
# reproduce): key order by code point, numbers as Python writes them, escapes.
CANONICAL_INPUTS = [
    '{"b": 1, "a": [true, false, null], "A": {"z": "", "é": "ü"}}',
    '{"\\uff01": 1, "\\ud83d\\ude00": 2, "~": 3, "\\u00e9": 4}',
    "[1.0, 1e-05, 0.0001, 1e16, 1.5e+300, 0.1, -0.0, 123456789012345.6, 2.5e-7, 100.0]",
    "[12345678901234567890, -0, -12, 0]",
    '["tab\\tnew\\nline", "\\u0001\\u001f", "quote\\" back\\\\", "\\u2028\\u2029\\u007f"]',
    '["</script>", "اردو", "\\ud83d\\ude00", "a\\/b"]',
]


def vectors_json() -> str:
    from hub.record.verify import verify_export

    vectors = build_vectors()
    keys = {vectors["key"]["key_id"]: bytes.fromhex(vectors["key"]["ed25519_public_hex"])}
    vectors["expected"]["lines"] = verify_export(vectors["export"], keys).lines()
    for mutation in vectors["mutations"]:
        mutation["lines"] = verify_export(mutate(vectors["export"], mutation), keys).lines()
    vectors["canonical_json"] = [
        {"input": text, "canonical": canonical_json(json.loads(text)).decode("utf-8")}
        for text in CANONICAL_INPUTS
    ]
    return json.dumps(vectors, ensure_ascii=False, indent=2) + "\n"


if __name__ == "__main__":
    sys.stdout.write(vectors_json())
