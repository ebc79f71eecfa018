"""The test vectors of docs/record.md: the file the doc reproduces verbatim
(docs/record-vectors.json) agrees with the doc and with what hub/record/vectors.py
makes; every value in it recomputes from the specification; the pure verifier gives
the expected result and, for each mutation, the expected first problem and line; and
the verifier's sentences are the web app's (review.verify.* in review.en.json)."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hub.record.canonical import (
    GENESIS_HASH,
    canonical_json,
    checkpoint_body,
    checkpoint_hash,
    event_hash,
    key_id,
    payload_digest,
)
from hub.record.merkle import leaf_hash, root_from_hashes
from hub.record.vectors import mutate, vectors_json
from hub.record.verify import MESSAGES, verify_export

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "record.md"
FILE = ROOT / "docs" / "record-vectors.json"
VECTORS: dict[str, Any] = json.loads(FILE.read_text(encoding="utf-8"))


def keys() -> dict[str, bytes]:
    return {VECTORS["key"]["key_id"]: bytes.fromhex(VECTORS["key"]["ed25519_public_hex"])}


def test_the_doc_reproduces_the_file_verbatim_and_the_file_is_what_the_code_makes() -> None:
    doc = DOC.read_text(encoding="utf-8")
    found = re.search(
        r"<!-- record-vectors.json:begin -->\n```json\n(.*?)```\n<!-- record-vectors.json:end -->",
        doc,
        re.S,
    )
    assert found is not None, "docs/record.md must include docs/record-vectors.json"
    assert found.group(1) == FILE.read_text(encoding="utf-8")
    assert vectors_json() == FILE.read_text(encoding="utf-8"), (
        "regenerate: python -m hub.record.vectors > docs/record-vectors.json"
    )
    for event in VECTORS["events"]:
        assert f"| {event['seq']} | {event['form']} | `{event['hash']}` |" in doc


def test_the_key_is_the_published_test_key() -> None:
    key = VECTORS["key"]
    private = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(key["ed25519_private_seed_hex"]))
    raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert raw.hex() == key["ed25519_public_hex"]
    assert base64.b64decode(key["ed25519"]) == raw
    assert key_id(raw) == key["key_id"]
    assert VECTORS["export"]["record"]["public_key"] == {"key_id": key["key_id"],
                                                        "ed25519": key["ed25519"]}  # fmt: skip


def test_every_event_hash_recomputes_from_its_canonical_bytes() -> None:
    prev = GENESIS_HASH
    entries = VECTORS["export"]["record"]["events"]
    for event, entry in zip(VECTORS["events"], entries, strict=True):
        canonical = event["canonical"].encode("utf-8")
        assert event_hash(prev, canonical) == event["hash"] == entry["hash"]
        assert entry["prev_hash"] == prev
        document = json.loads(canonical)
        assert canonical_json(document) == canonical
        if event["form"] == 3:
            assert document["payload_digest"] == event["payload_digest"]
            assert document["form"] == 3
            if "payload" in entry:
                assert payload_digest(entry["salt"], entry["payload"]) == event["payload_digest"]
                assert canonical_json(entry["payload"]).decode() == event["payload_json"]
            else:
                assert entry["payload_digest"] == event["payload_digest"]
                assert VECTORS["redacted_text"] in event["payload_json"]
        else:
            assert document["payload"] == entry["payload"]
            assert document.get("salt", "") == entry.get("salt", "")
        prev = event["hash"]


def test_every_checkpoint_recomputes_and_its_signature_holds() -> None:
    public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(VECTORS["key"]["ed25519_public_hex"]))
    prev = GENESIS_HASH
    for item in VECTORS["checkpoints"]:
        cp = item["checkpoint"]
        leaves = [bytes.fromhex(leaf["leaf_hash"]) for leaf in item["leaves"]]
        for leaf in item["leaves"]:
            assert leaf_hash(leaf["data"].encode()).hex() == leaf["leaf_hash"]
        names = [json.loads(leaf["data"])["stream"] for leaf in item["leaves"]]
        assert names == sorted(names, key=lambda n: n.encode("utf-8"))
        assert root_from_hashes(leaves).hex() == cp["root"]
        assert cp["tree_size"] == len(leaves)
        assert cp["prev"] == prev
        body = checkpoint_body(
            number=cp["number"], tree_size=cp["tree_size"], root=cp["root"], at=cp["at"],
            prev=cp["prev"], key_id=cp["key_id"],
        )  # fmt: skip
        assert body.decode() == item["body"]
        assert checkpoint_hash(body) == cp["hash"]
        public.verify(base64.b64decode(cp["signature"]), body)
        prev = cp["hash"]
    assert VECTORS["export"]["record"]["proof"]["checkpoint"] == VECTORS["checkpoints"][-1][
        "checkpoint"]  # fmt: skip


def test_the_pure_verifier_gives_the_expected_result() -> None:
    result = verify_export(VECTORS["export"], keys())
    expected = VECTORS["expected"]
    assert result.ok
    assert (result.events, result.head_seq, result.head_hash) == (
        expected["events"], expected["head_seq"], expected["head_hash"])  # fmt: skip
    assert (result.checkpoint_number, result.checkpoint_seq) == (
        expected["checkpoint_number"], expected["checkpoint_seq"])  # fmt: skip
    assert result.withheld == expected["withheld"]
    assert result.lines() == expected["lines"]
    assert VECTORS["redacted_text"] not in json.dumps(VECTORS["export"], ensure_ascii=False)


@pytest.mark.parametrize("mutation", VECTORS["mutations"], ids=lambda m: m["name"])
def test_each_mutation_gives_its_first_problem(mutation: dict[str, Any]) -> None:
    result = verify_export(mutate(VECTORS["export"], mutation), keys())
    problem = result.problem
    got = (problem.code, problem.where, problem.seq) if problem else (None, None, None)
    assert got == (mutation["code"], mutation["where"], mutation["seq"])
    assert result.lines() == mutation["lines"]
    if mutation.get("taken_as_stated"):
        assert result.taken_as_stated == mutation["taken_as_stated"]


def test_the_sentences_are_the_web_apps() -> None:
    locales = ROOT / "frontend" / "src" / "i18n" / "locales"
    english = json.loads((locales / "review.en.json").read_text(encoding="utf-8"))
    urdu = json.loads((locales / "review.ur.json").read_text(encoding="utf-8"))
    for code, text in MESSAGES.items():
        assert english[f"review.verify.{code}"] == text, code
        placeholders = set(re.findall(r"\{(\w+)\}", text))
        assert set(re.findall(r"\{(\w+)\}", urdu[f"review.verify.{code}"])) == placeholders, code
        assert "'" not in text, "an apostrophe is an escape in ICU messages"
