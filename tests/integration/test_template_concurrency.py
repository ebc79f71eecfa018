"""Administrators publishing at the same moment: one wins, the others are told why.

Every publisher locks ``template:<CODE>`` first (PostgreSQL: the stream row; SQLite:
the IMMEDIATE transaction), so versions are numbered one after the other and a
second edit of the same base version is refused, never silently stacked on top.
Runs on both databases; each thread has its own connection.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest
from django.db import connection

from hub.errors import HubError
from hub.events.audit import verify
from hub.events.models import Event
from hub.operations import services
from hub.operations.models import ChecklistTemplate
from hub.operations.sops import load_sops
from hub.operations.templates import ItemDraft
from tests.factories import officer, seed

N = 6
ADMINS = ["na-imm.admin", "na-pol.admin", "na-cus.admin", "za-imm.admin", "zm-imm.admin",
          "na-cgd.admin"]  # fmt: skip
T = TypeVar("T")

pytestmark = pytest.mark.django_db(transaction=True)


def run_concurrently(fn: Callable[[int], T], n: int = N) -> list[T]:
    barrier = threading.Barrier(n)

    def worker(i: int) -> T:
        try:
            barrier.wait(timeout=30)
            return fn(i)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(worker, range(n)))


def outcome(call: Callable[[], object]) -> str:
    try:
        call()
    except HubError as exc:
        return exc.code
    return "ok"


ITEMS = [ItemDraft(position=1, title="Secure the area", agency_kind="police",
                   due_offset_minutes=30)]  # fmt: skip


def test_two_edits_of_one_version_at_once_publish_one_and_refuse_the_others() -> None:
    seed()
    load_sops()

    def edit(i: int) -> str:
        return outcome(
            lambda: services.template_revise(
                actor=officer(ADMINS[i]),
                code="tip-screening",
                base_version=1,
                title=f"Edit by {ADMINS[i]}",
                items=ITEMS,
            )
        )

    results = run_concurrently(edit)
    assert sorted(results) == ["ok", *["template_version_conflict"] * (N - 1)]
    versions = list(
        ChecklistTemplate.objects.filter(code="tip-screening")
        .order_by("version")
        .values_list("version", "is_current", "seq")
    )
    assert versions == [(1, False, 1), (2, True, 2)]
    winner = ChecklistTemplate.objects.get(code="tip-screening", version=2)
    assert winner.title == f"Edit by {winner.published_by.username}"  # type: ignore[union-attr]
    seqs = list(
        Event.objects.filter(stream__name="template:TIP-SCREENING").values_list("seq", flat=True)
    )
    assert sorted(seqs) == [1, 2]
    assert verify().ok


def test_two_new_templates_with_one_code_at_once_make_one() -> None:
    seed()

    def create(i: int) -> str:
        return outcome(
            lambda: services.template_create(
                actor=officer(ADMINS[i]), code="flood-response", title="Flood", items=ITEMS
            )
        )

    results = run_concurrently(create)
    assert sorted(results) == ["ok", *["template_exists"] * (N - 1)]
    assert ChecklistTemplate.objects.filter(code="flood-response").count() == 1
    assert Event.objects.filter(stream__name="template:FLOOD-RESPONSE").count() == 1
    assert verify().ok
