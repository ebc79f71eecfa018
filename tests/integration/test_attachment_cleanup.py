"""The background loop discards evidence files nobody referred to within the TTL,
and deletes stored objects no attachment names. Runs on both storage backends."""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.utils import timezone
from PIL import Image

from hub.attachments.cleanup import (
    DISCARD_REASON,
    attachment_discard_unreferenced,
    attachments_discard_orphans,
    walk,
)
from hub.attachments.models import Attachment
from hub.attachments.selectors import attachments_mark_referenced
from hub.events.types import validate_payload
from hub.jobs import attachment_cleanup
from hub.jobs.attachment_derivatives import attachments_derive_pending
from hub.jobs.runner import sweep
from tests.factories import report
from tests.integration.test_attachments import API, client, events, pdf_bytes, upload

pytestmark = pytest.mark.usefixtures("demo", "attachment_storage")

TTL = timedelta(days=1)


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    cache.clear()  # upload rate limits and the orphan-scan gate


def unique_image() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (9, 99, 199)).save(out, format="PNG")
    return out.getvalue() + uuid.uuid4().bytes  # bytes after IEND: no test shares them


def upload_file(ref: str, data: bytes | None = None, name: str = "photo.png") -> Attachment:
    response = upload(client("na-imm.duty"), ref, data or unique_image(), name)
    assert response.status_code == 201, response.content
    return Attachment.objects.get(pk=response.json()["attachment"]["id"])


def age(attachment: Attachment, by: timedelta) -> None:
    Attachment.objects.filter(pk=attachment.pk).update(created_at=timezone.now() - by)


def stored() -> set[str]:
    return set(walk(storages["attachments"]))


def test_an_old_unreferenced_file_is_withdrawn_logged_and_its_bytes_deleted(
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    ref = report().ref
    attachment = upload_file(ref)
    attachments_derive_pending()
    attachment.refresh_from_db()
    names = {attachment.storage_name, attachment.view_name, attachment.thumbnail_name}
    assert "" not in names
    assert names <= stored()
    age(attachment, TTL + timedelta(minutes=1))

    with django_capture_on_commit_callbacks(execute=True):
        discarded = attachment_cleanup.attachments_discard_unreferenced()

    assert discarded == [attachment.pk]
    attachment.refresh_from_db()
    assert attachment.withdrawn_at is not None
    assert attachment.withdrawn_by is None
    assert attachment.withdrawn_reason == DISCARD_REASON
    (withdrawn,) = events(ref, "attachment.withdrawn")
    assert withdrawn.actor_id is None
    payload = validate_payload(withdrawn.kind, withdrawn.payload)
    assert payload.model_dump() == {"attachment_id": attachment.pk, "reason": DISCARD_REASON}
    assert not names & stored()
    # Served to nobody any more, and not discarded twice.
    response = client("na-imm.duty").get(f"{API}/{ref}/attachments/{attachment.pk}")
    assert response.status_code == 404
    assert attachment_cleanup.attachments_discard_unreferenced() == []
    assert len(events(ref, "attachment.withdrawn")) == 1


def test_a_referenced_file_and_a_young_one_are_untouched(
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    ref = report().ref
    referenced = upload_file(ref)
    attachments_mark_referenced(ids=[referenced.pk])
    age(referenced, timedelta(days=30))
    young = upload_file(ref, pdf_bytes(uuid.uuid4().hex.encode()), "list.pdf")
    age(young, TTL - timedelta(minutes=5))
    withdrawn_by_officer = upload_file(ref)
    Attachment.objects.filter(pk=withdrawn_by_officer.pk).update(
        withdrawn_at=timezone.now(), withdrawn_by=withdrawn_by_officer.uploaded_by
    )
    age(withdrawn_by_officer, timedelta(days=30))

    with django_capture_on_commit_callbacks(execute=True):
        assert attachment_cleanup.attachments_discard_unreferenced() == []
        # Called on the referenced file directly (a loop that listed it before a
        # message referred to it): it re-checks under the lock and refuses.
        assert not attachment_discard_unreferenced(attachment_id=referenced.pk, now=timezone.now())

    for attachment in (referenced, young):
        attachment.refresh_from_db()
        assert attachment.withdrawn_at is None
    assert events(ref, "attachment.withdrawn") == []
    names = {referenced.storage_name, young.storage_name, withdrawn_by_officer.storage_name}
    assert names <= stored()


def test_bytes_shared_with_a_kept_file_stay(
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    data = unique_image()
    kept = upload_file(report().ref, data)
    attachments_mark_referenced(ids=[kept.pk])
    other_ref = report().ref
    discarded = upload_file(other_ref, data)
    assert discarded.storage_name == kept.storage_name  # content-addressed: one object
    for attachment in (kept, discarded):
        age(attachment, TTL * 2)

    with django_capture_on_commit_callbacks(execute=True):
        assert attachment_cleanup.attachments_discard_unreferenced() == [discarded.pk]

    assert kept.storage_name in stored()
    with storages["attachments"].open(kept.storage_name, "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == kept.sha256
    assert len(events(other_ref, "attachment.withdrawn")) == 1


def test_bytes_of_two_unreferenced_files_go_with_the_last(
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    data = unique_image()
    first = upload_file(report().ref, data)
    second = upload_file(report().ref, data)
    age(first, TTL * 2)
    age(second, TTL - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert attachment_cleanup.attachments_discard_unreferenced() == [first.pk]
    assert first.storage_name in stored()  # the young one still holds them
    age(second, TTL * 2)
    with django_capture_on_commit_callbacks(execute=True):
        assert attachment_cleanup.attachments_discard_unreferenced() == [second.pk]
    assert first.storage_name not in stored()


def orphan_name(suffix: str = "jpg") -> str:
    digest = hashlib.sha256(uuid.uuid4().bytes).hexdigest()
    return f"{digest[:2]}/{digest}.{suffix}"


def test_orphan_objects_are_deleted_once_older_than_the_ttl() -> None:
    storage = storages["attachments"]
    orphan = storage.save(orphan_name(), ContentFile(b"stored, then the transaction failed"))
    derived_orphan = storage.save(f"derived/{orphan_name()}", ContentFile(b"a lost derivative"))
    foreign = storage.save("notes/readme.txt", ContentFile(b"not the hub's"))
    named = upload_file(report().ref)
    discarded_by_officer = upload_file(report().ref)
    Attachment.objects.filter(pk=discarded_by_officer.pk).update(
        withdrawn_at=timezone.now(), withdrawn_by=discarded_by_officer.uploaded_by
    )

    # Young: nothing goes.
    assert attachments_discard_orphans(now=timezone.now(), limit=100) == []
    assert {orphan, derived_orphan, foreign, named.storage_name} <= stored()

    # A day later (the store's clock cannot be turned back, so "now" moves on).
    later = timezone.now() + TTL + timedelta(minutes=1)
    deleted = attachments_discard_orphans(now=later, limit=100)
    assert set(deleted) == {orphan, derived_orphan}
    left = stored()
    assert not {orphan, derived_orphan} & left
    # Names a row holds, and names that are not content-addressed, stay.
    assert {foreign, named.storage_name, discarded_by_officer.storage_name} <= left


def test_the_runner_sweeps_both_jobs(
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    ref = report().ref
    attachment = upload_file(ref)
    age(attachment, TTL + timedelta(hours=1))
    storage = storages["attachments"]
    orphan = storage.save(orphan_name("png"), ContentFile(b"orphan"))
    later = timezone.now() + TTL + timedelta(minutes=1)

    with django_capture_on_commit_callbacks(execute=True):
        result = sweep(later)

    assert result.attachments_discarded == [attachment.pk]
    attachment.refresh_from_db()
    discarded_names = {attachment.storage_name, attachment.view_name, attachment.thumbnail_name}
    assert orphan in result.orphans_deleted
    # (Inside the test's transaction the discard's deletion waits for the commit, so
    # the scan may meet the discarded file's objects first: no row holds them.)
    assert set(result.orphans_deleted) - {orphan} <= discarded_names
    assert ({orphan} | discarded_names).isdisjoint(stored())
    assert len(events(ref, "attachment.withdrawn")) == 1
    # The store is listed at most once an hour across loops.
    second = storage.save(orphan_name("png"), ContentFile(b"another orphan"))
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep(later).orphans_deleted == []
    assert second in stored()
