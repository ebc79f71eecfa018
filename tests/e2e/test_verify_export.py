"""A senior official checks an export file in the browser (issue 12, §5).

After a signed checkpoint, NA-IMM's senior official downloads the demo incident's
JSON export from the review page and drops it on "Check an export file": the
browser verifies it with WebCrypto (Ed25519, SHA-256) and says what
``manage.py verify_export`` says: "Verified: incident:…, events 1 to N", the
checkpoint, and that it was checked with the hub's own public key (GET /audit/keys).
An altered copy (one word of a message changed) is refused, naming the entry; so is
a copy whose checkpoint was re-signed with another key (and that key embedded in the
file): self-consistent, but not signed by this hub. axe finds nothing serious;
var/e2e/verify-export.png shows the verified file.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from playwright.sync_api import expect

from hub.events import signing
from hub.events.checkpoints import checkpoint_now, public_keys
from hub.events.models import Event
from hub.record.canonical import checkpoint_body, checkpoint_hash, key_id
from hub.record.verify import verify_export
from tests.e2e.conftest import Hub
from tests.e2e.officers import DEMO_INCIDENT, assert_accessible, screenshot, sign_in

STREAM = f"incident:{DEMO_INCIDENT}"


@pytest.mark.one_officer
@pytest.mark.django_db(transaction=True)
def test_a_senior_official_verifies_a_downloaded_export_in_the_browser(
    browser: Any, hub: Hub, contexts: list[Any], tmp_path: Path
) -> None:
    assert checkpoint_now() is not None
    head = Event.objects.filter(stream__name=STREAM).count()

    page = sign_in(contexts, browser, hub.a, "na-imm.senior", f"/incidents/{DEMO_INCIDENT}/review")
    review = page.get_by_test_id("review")
    expect(review.get_by_test_id("review-row").first).to_be_visible()
    # The badge checks the chain against the checkpoint just made.
    expect(review.get_by_test_id("verification-checkpoint")).to_contain_text(
        f"Signed checkpoint 1 holds it through #{head} (key {signing.current_key_id()})"
    )
    with page.expect_download() as download:
        review.get_by_test_id("export-json").click()
    exported = tmp_path / f"{DEMO_INCIDENT}-timeline.json"
    download.value.save_as(exported)
    document = json.loads(exported.read_text(encoding="utf-8"))
    assert verify_export(document, public_keys()).ok, "the command agrees with the browser"

    check = page.get_by_test_id("export-check")
    check.get_by_test_id("export-file").set_input_files(str(exported))
    result = check.get_by_test_id("export-check-result")
    expect(result).to_have_attribute("data-ok", "true")
    expect(result).to_contain_text(f"Verified: {STREAM}, events 1 to {head}, head hash ")
    checkpoint = document["record"]["proof"]["checkpoint"]
    expect(result).to_contain_text(
        f"Checkpoint {checkpoint['number']} of {checkpoint['at']}, signed by key "
        f"{checkpoint['key_id']}, includes this stream at seq {head}"
    )
    expect(result).to_contain_text(
        f"Checked with this hub's public key (key id {checkpoint['key_id']})"
    )
    assert_accessible(page, "the review with a verified export")
    check.scroll_into_view_if_needed()
    screenshot(page, "verify-export")

    # One word of a shown message changed: refused, the entry named.
    entries = document["record"]["events"]
    victim = next(e for e in entries if e["kind"] == "message.posted" and "payload" in e)
    body = victim["payload"]["body"]
    victim["payload"]["body"] = re.sub(r"\w+", "XXXX", body, count=1)
    assert victim["payload"]["body"] != body
    altered = tmp_path / "altered.json"
    altered.write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")
    check.get_by_test_id("export-file").set_input_files(str(altered))
    expect(result).to_have_attribute("data-ok", "false")
    position = entries.index(victim) + 1
    expect(result).to_have_text(
        re.compile(
            rf"Not verified: entry {position} \(seq {victim['seq']}\): its hash does not "
            r"recompute from its contents\."
        )
    )
    assert_accessible(page, "the review with a refused export")
    screenshot(page, "verify-export-altered")

    # The checkpoint re-signed with another key, embedded in the file: the file is
    # self-consistent, but the hub never signed it.
    forged = json.loads(exported.read_text(encoding="utf-8"))
    other = Ed25519PrivateKey.generate()
    raw = other.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    cp = forged["record"]["proof"]["checkpoint"]
    cp["key_id"] = key_id(raw)
    body = checkpoint_body(
        number=cp["number"],
        tree_size=cp["tree_size"],
        root=cp["root"],
        at=cp["at"],
        prev=cp["prev"],
        key_id=cp["key_id"],
    )
    cp["signature"] = base64.b64encode(other.sign(body)).decode("ascii")
    cp["hash"] = checkpoint_hash(body)
    forged["record"]["public_key"] = {
        "key_id": cp["key_id"],
        "ed25519": base64.b64encode(raw).decode("ascii"),
    }
    assert verify_export(forged, None).ok, "self-consistent with its embedded key"
    forged_file = tmp_path / "forged.json"
    forged_file.write_text(json.dumps(forged, ensure_ascii=False), encoding="utf-8")
    check.get_by_test_id("export-file").set_input_files(str(forged_file))
    expect(result).to_have_attribute("data-ok", "false")
    expect(result).to_contain_text(
        f"key id {cp['key_id']}: the checkpoint names a key that is not among the public "
        "keys given."
    )

    page.get_by_label("Language").select_option(label="اردو")
    check.get_by_test_id("export-file").set_input_files(str(altered))
    expect(result).to_contain_text(f"تصدیق نہیں ہوئی: اندراج {position} (seq {victim['seq']})")
