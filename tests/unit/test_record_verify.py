"""The offline verifier (hub.record.verify): every altered byte class of an export is
refused with its position named; a redacted message verifies through its digest and
its text is in no byte of the file; keys given win over the embedded one; the
command line and ``manage.py verify_export`` (which touches no database)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.core.management import call_command

from hub.record import verify as verifier
from hub.record.build import Log
from hub.record.canonical import FORM_LEGACY, key_id
from hub.record.vectors import REDACTED_TEXT, build_log, mutate
from hub.record.verify import proof_length, verify_export

STREAM = "incident:TST-2026-0001"


@pytest.fixture
def log() -> Log:
    return build_log()


def keys_of(log: Log) -> dict[str, bytes]:
    return {key_id(log.public_raw): log.public_raw}


def problem_of(document: dict[str, Any], keys: dict[str, bytes] | None) -> tuple[Any, ...]:
    result = verify_export(document, keys)
    assert not result.ok
    assert result.problem is not None
    p = result.problem
    return (p.code, p.where, p.index, p.seq, p.node)


def test_the_export_verifies_and_says_what_it_proved(log: Log) -> None:
    result = verify_export({"record": log.export(STREAM)}, keys_of(log))
    assert result.ok, result.lines()
    assert (result.stream, result.events, result.head_seq) == (STREAM, 6, 6)
    assert (result.checkpoint_number, result.checkpoint_seq) == (2, 5)
    assert result.key_source == "given"
    assert result.withheld == [4]
    assert result.taken_as_stated == []
    lines = result.lines()
    assert lines[0].startswith(f"Verified: {STREAM}, events 1 to 6, head hash ")
    assert "Events after seq 5 (up to 6) are verified by the chain only" in lines[3]


def test_a_redacted_message_verifies_through_its_digest_and_its_text_is_not_in_the_file(
    log: Log,
) -> None:
    document = {"record": log.export(STREAM)}
    text = json.dumps(document, ensure_ascii=False)
    assert REDACTED_TEXT not in text
    assert "P<TST1234567" not in text
    assert "555 0100" not in text
    hidden = document["record"]["events"][3]
    assert set(hidden) >= {"payload_digest"}
    assert not {"payload", "salt"} & set(hidden)
    assert verify_export(document, keys_of(log)).ok


HASH_3 = ("fail.hash", "entry", 2, 3, None)
NONE = (None, None, None)
SIGNATURE = ("fail.signature", "signature", *NONE)


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        # an entry: payload changed, removed, reordered, inserted, hash changed
        (["events", 2, "payload", "body"], "changed", ("fail.hash", "entry", 2, 3, None)),
        (["events", 2, "kind"], "message.edited", ("fail.hash", "entry", 2, 3, None)),
        (["events", 2, "actor"], 8, ("fail.hash", "entry", 2, 3, None)),
        (["events", 2, "at"], "2026-03-02T10:06:00.123457+00:00", HASH_3),
        (["events", 2, "form"], 2, ("fail.hash", "entry", 2, 3, None)),
        (["events", 1], "$drop", ("fail.seq", "entry", 1, 3, None)),
        (["events", 1], "$swap", ("fail.seq", "entry", 1, 3, None)),
        (["events", 1], "$dup", ("fail.seq", "entry", 2, 2, None)),
        (["events", 5], "$drop", ("fail.head", "head", None, None, None)),
        (["events", 4, "hash"], "a" * 64, ("fail.hash", "entry", 4, 5, None)),
        (["events", 3, "payload_digest"], "b" * 64, ("fail.hash", "entry", 3, 4, None)),
        (["events", 2, "payload"], "$delete", ("fail.entry", "entry", 2, 3, None)),
        # a proof node: changed, malformed, removed
        (["proof", "inclusion", 0], "c" * 64, ("fail.inclusion", "proof", None, None, None)),
        (["proof", "inclusion", 1], "C" * 64, ("fail.proofNode", "proof", None, None, 1)),
        (["proof", "inclusion", 1], "$drop", ("fail.proofLength", "proof", None, None, None)),
        (["proof", "leaf_index"], 0, ("fail.inclusion", "proof", None, None, None)),
        (["proof", "leaf", "hash"], "d" * 64, ("fail.leaf", "leaf", None, 5, None)),
        # the signature, the checkpoint it covers, the key id
        (["proof", "checkpoint", "signature"], "$flip", SIGNATURE),
        (["proof", "checkpoint", "tree_size"], 4, SIGNATURE),
        (["proof", "checkpoint", "at"], "2026-03-02T10:10:01.000000+00:00", SIGNATURE),
        (["proof", "checkpoint", "hash"], "e" * 64, ("fail.checkpointHash", "checkpoint", *NONE)),
        (["proof", "checkpoint", "key_id"], "0000000000000000", ("fail.keyUnknown", "key", *NONE)),
    ],
)  # fmt: skip
def test_every_altered_byte_class_is_refused_with_its_position(
    log: Log, path: list[Any], value: Any, expected: tuple[Any, ...]
) -> None:
    document = {"record": log.export(STREAM)}
    if value == "$flip":
        signature = base64.b64decode(document["record"]["proof"]["checkpoint"]["signature"])
        flipped = bytes([signature[0] ^ 1]) + signature[1:]
        value = base64.b64encode(flipped).decode()
    changed = mutate(document, {"path": ["record", *path], "value": value})
    assert problem_of(changed, keys_of(log)) == expected


def test_a_signature_spelled_another_way_in_base64_is_refused(log: Log) -> None:
    document = {"record": log.export(STREAM)}
    signature = document["record"]["proof"]["checkpoint"]["signature"]
    assert signature.endswith("==")
    # The last character before the padding carries 4 unused bits; another spelling
    # of the same bytes is still a change to the file.
    last = signature[-3]
    other = "ABCD"[("ABCD".index(last) + 1) % 4] if last in "ABCD" else "A"
    changed = mutate(
        document, {"path": ["record", "proof", "checkpoint", "signature"],
                   "value": signature[:-3] + other + "=="}
    )  # fmt: skip
    assert problem_of(changed, keys_of(log))[:2] == ("fail.signature", "signature")


def test_a_checkpoint_forged_with_another_key(log: Log) -> None:
    forger = Log(Ed25519PrivateKey.generate())
    for event in log.streams[STREAM]:
        forger.append(
            STREAM, kind=event.kind, at=event.at, payload=event.payload, salt=event.salt,
            form=event.form, actor=event.actor, agency=event.agency, hidden=event.hidden,
        )  # fmt: skip
    forger.checkpoint("2026-03-02T10:10:00.000000+00:00")
    forged = {"record": forger.export(STREAM)}
    # Self-consistent with its own embedded key, and says only that:
    alone = verify_export(forged, None)
    assert alone.ok
    assert alone.key_source == "embedded"
    assert "self-consistent, not that the hub signed it" in alone.lines()[2]
    # Against the hub's key: its key id is unknown.
    assert problem_of(forged, keys_of(log))[:2] == ("fail.keyUnknown", "key")
    # Naming the hub's key id does not help: the signature fails.
    hub_kid = key_id(log.public_raw)
    forged["record"]["proof"]["checkpoint"]["key_id"] = hub_kid
    assert problem_of(forged, keys_of(log))[:2] == ("fail.signature", "signature")


def test_the_embedded_key_must_be_the_one_named_and_have_its_own_id(log: Log) -> None:
    document = {"record": log.export(STREAM)}
    other = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    swapped = mutate(document, {"path": ["record", "public_key", "ed25519"],
                                "value": base64.b64encode(other).decode()})  # fmt: skip
    assert problem_of(swapped, None)[:2] == ("fail.keyId", "key")
    renamed = mutate(document, {"path": ["record", "public_key", "key_id"], "value": "1" * 16})
    assert problem_of(renamed, None)[:2] == ("fail.keyId", "key")
    # The key given wins: a swapped embedded key is then irrelevant.
    assert verify_export(swapped, keys_of(log)).ok


def test_without_a_checkpoint_nothing_signed_vouches_for_the_chain() -> None:
    log = Log(Ed25519PrivateKey.generate())
    log.append(STREAM, kind="incident.reported", at="2026-03-02T10:00:00.000000+00:00",
               payload={"title": "x"}, salt="00")  # fmt: skip
    result = verify_export({"record": log.export(STREAM)}, keys_of(log))
    assert result.problem is not None
    assert result.problem.code == "fail.noCheckpoint"
    assert result.lines() == [
        "Not verified: the file carries no signed checkpoint: its chain of 1 events "
        "recomputes, but nothing signed vouches for it."
    ]


def test_a_legacy_entry_whose_payload_is_withheld_is_taken_as_stated_never_proven() -> None:
    log = Log(Ed25519PrivateKey.generate())
    log.append(STREAM, kind="incident.reported", at="2026-03-02T10:00:00.000000+00:00",
               payload={"title": "x"}, form=FORM_LEGACY)  # fmt: skip
    log.append(STREAM, kind="message.posted", at="2026-03-02T10:01:00.000000+00:00",
               payload={"message_id": 1, "body": "secret"}, salt="ab" * 16, form=FORM_LEGACY,
               hidden=True)  # fmt: skip
    log.checkpoint("2026-03-02T10:05:00.000000+00:00")
    document = {"record": log.export(STREAM)}
    assert "secret" not in json.dumps(document)
    assert "ab" * 16 not in json.dumps(document)
    result = verify_export(document, keys_of(log))
    assert result.ok
    assert result.taken_as_stated == [2]
    assert result.lines()[-1] == (
        "Taken as stated, not proven: the hashes of older (form 2) entries whose payload "
        "is withheld, at seq 2; the chain links through them."
    )


def test_malformed_documents_are_named_not_raised() -> None:
    empty = {"format": verifier.EXPORT_FORMAT, "stream": "s", "events": []}
    documents: list[Any] = [None, [], {"record": []}, {"record": {"format": "x"}}]
    documents.append({"record": empty})
    for document in documents:
        result = verify_export(document, None)
        assert not result.ok
        assert result.problem is not None
        assert result.problem.where == "document"


@pytest.mark.parametrize("size", range(1, 40))
def test_proof_length_matches_the_proofs_merkle_makes(size: int) -> None:
    from hub.record.merkle import inclusion_proof, leaf_hash

    leaves = [leaf_hash(bytes([i])) for i in range(size)]
    for index in range(size):
        assert proof_length(index, size) == len(inclusion_proof(leaves, index))


def _files(tmp_path: Path, log: Log) -> tuple[Path, Path, Path]:
    export = tmp_path / "export.json"
    export.write_text(json.dumps({"record": log.export(STREAM)}, indent=2), encoding="utf-8")
    pem = tmp_path / "hub.pub"
    pem.write_bytes(log.private_key.public_key().public_bytes(
        Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))  # fmt: skip
    altered = tmp_path / "altered.json"
    altered.write_text(
        export.read_text().replace("Suspects held at lane 3", "Suspects held at lane 8")
    )
    return export, pem, altered


def test_the_command_line(tmp_path: Path, log: Log, capsys: pytest.CaptureFixture[str]) -> None:
    export, pem, altered = _files(tmp_path, log)
    assert verifier.main([str(export), "--public-key", str(pem)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Verified: {STREAM}, events 1 to 6")
    assert f"Checked with the public key you gave (key id {key_id(log.public_raw)})" in out
    assert verifier.main([str(altered), "--public-key", str(pem)]) == 1
    assert capsys.readouterr().out == (
        "Not verified: entry 3 (seq 3): its hash does not recompute from its contents.\n"
    )


def test_manage_py_verify_export_touches_no_database(
    tmp_path: Path, log: Log, capsys: pytest.CaptureFixture[str]
) -> None:
    # No django_db mark: any query would fail this test.
    export, pem, altered = _files(tmp_path, log)
    call_command("verify_export", str(export), "--public-key", str(pem))
    assert capsys.readouterr().out.startswith(f"Verified: {STREAM}")
    with pytest.raises(SystemExit) as exit_:
        call_command("verify_export", str(altered), "--public-key", str(pem))
    assert exit_.value.code == 1
    assert "entry 3 (seq 3)" in capsys.readouterr().out
