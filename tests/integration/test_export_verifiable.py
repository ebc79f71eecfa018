"""The JSON export anyone can verify offline: a real incident through the services,
a signed checkpoint, the export a senior official downloads, ``manage.py
verify_export`` on it (exit 0) and on altered copies (exit 1, the position named).
A redacted message is in the record by its digest only; its text is in no byte of
the file. A filtered export still carries every event of the chain, the filtered
out ones by digest."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hub.events.checkpoints import checkpoint_now, public_keys
from hub.incidents import services
from hub.record.verify import verify_export
from tests.factories import Api, officer, post, report

pytestmark = pytest.mark.usefixtures("demo")
SECRET = "Passport N0493221, mobile +264 81 555 0142"
ROOT = Path(__file__).resolve().parents[2]


def incident_with_a_redaction() -> Any:
    incident = report()
    post("na-imm.duty", incident.ref, "Two adults, three minors at counter 4.")
    secret = post("na-imm.duty", incident.ref, SECRET).message
    services.message_redact(
        actor=officer("na-imm.coord"), ref=incident.ref, message_id=secret.pk,
        reason="Personal data", client_msg_id=uuid.uuid4(),
    )  # fmt: skip
    return incident


def download(ref: str, **params: str) -> bytes:
    response = Api("na-imm.senior").get(
        f"/api/v1/incidents/{ref}/export", {"format": "json", **params}
    )
    assert response.status_code == 200, response.content
    return bytes(response.content)


def pem_of_the_hub(tmp_path: Path) -> Path:
    (_kid, raw), *_ = public_keys().items()
    pem = tmp_path / "hub.pub"
    pem.write_bytes(
        Ed25519PublicKey.from_public_bytes(raw).public_bytes(
            Encoding.PEM, PublicFormat.SubjectPublicKeyInfo
        )
    )
    return pem


def verify_command(file: Path, pem: Path) -> subprocess.CompletedProcess[str]:
    # A separate process with no database at all: the settings point nowhere.
    return subprocess.run(
        [sys.executable, "manage.py", "verify_export", str(file), "--public-key", str(pem)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "DATABASE_URL": "postgres://nobody@127.0.0.1:9/none",
             "DJANGO_SETTINGS_MODULE": "hub.settings", "HUB_ENV": "development"},
    )  # fmt: skip


def test_the_json_export_verifies_offline_and_an_altered_copy_does_not(tmp_path: Path) -> None:
    incident = incident_with_a_redaction()
    report(title="Another incident, so the tree has more than one leaf")
    assert checkpoint_now() is not None
    post("na-imm.duty", incident.ref, "After the checkpoint.")
    content = download(incident.ref)
    assert SECRET.encode() not in content
    assert b"N0493221" not in content
    document = json.loads(content)
    record = document["record"]
    assert record["stream"] == incident.stream_name
    assert [e["seq"] for e in record["events"]] == list(range(1, document["incident"]["head"] + 1))
    hidden = [e for e in record["events"] if "payload_digest" in e]
    assert [e["kind"] for e in hidden] == ["message.posted"]
    assert not any("salt" in e for e in hidden)
    assert all("payload" in e and "salt" in e for e in record["events"] if e not in hidden)

    result = verify_export(document, public_keys())
    assert result.ok, result.lines()
    assert result.key_source == "given"
    assert result.checkpoint_seq == document["incident"]["head"] - 1  # the post came after

    file = tmp_path / f"{incident.ref}-timeline.json"
    file.write_bytes(content)
    pem = pem_of_the_hub(tmp_path)
    done = verify_command(file, pem)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(f"Verified: {incident.stream_name}, events 1 to ")
    assert "verified by the chain only" in done.stdout

    altered = tmp_path / "altered.json"
    altered.write_bytes(content.replace(b"three minors", b"two minors"))
    failed = verify_command(altered, pem)
    assert failed.returncode == 1
    assert failed.stdout.startswith("Not verified: entry 2 (seq 2): its hash does not recompute")

    forged = json.loads(content)
    assert forged["record"]["proof"]["inclusion"], "two streams: the proof has a node"
    forged["record"]["proof"]["inclusion"][0] = "0" * 64
    altered.write_text(json.dumps(forged))
    failed = verify_command(altered, pem)
    assert failed.returncode == 1
    assert failed.stdout.startswith("Not verified: inclusion proof: its nodes 0 to ")


def test_a_filtered_export_carries_the_whole_chain_and_the_hidden_rows_by_digest() -> None:
    incident = incident_with_a_redaction()
    checkpoint_now()
    document = json.loads(download(incident.ref, group="status"))
    shown_rows = {row["seq"] for row in document["events"]}
    record = document["record"]
    assert len(record["events"]) == document["incident"]["head"] > len(shown_rows)
    for entry in record["events"]:
        assert ("payload" in entry) == (entry["seq"] in shown_rows), entry
    assert verify_export(document, public_keys()).ok


def test_the_printable_report_shows_the_checkpoint_and_how_to_check(tmp_path: Path) -> None:
    incident = incident_with_a_redaction()
    checkpoint = checkpoint_now()
    assert checkpoint is not None
    response = Api("na-imm.senior").get(
        f"/api/v1/incidents/{incident.ref}/export", {"format": "html"}
    )
    html = response.content.decode()
    assert "Signed checkpoint and inclusion proof" in html
    assert checkpoint.root in html
    assert checkpoint.signature in html
    assert f"python manage.py verify_export {incident.ref}-timeline.json" in html
    assert SECRET not in html
