"""Concurrent writers on one stream: gap-free seqs, exactly-once idempotency.

Runs on both databases; on PostgreSQL the stream row lock serialises writers,
on SQLite the IMMEDIATE transactions do. Each thread has its own connection.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest
from django.db import connection, transaction

from hub.agencies.models import Agency
from hub.events.audit import verify
from hub.events.models import Event
from hub.events.pipeline import emit
from hub.events.types import MessagePosted
from hub.incidents import services
from hub.incidents.models import Message
from tests.factories import officer, report, seed

N = 20
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


def test_concurrent_emits_on_a_fresh_stream_get_seqs_1_to_n() -> None:
    seed()
    actor = officer("na-imm.duty")
    agency = Agency.objects.get(code="NA-IMM")

    def one(i: int) -> int:
        with transaction.atomic():
            event = emit(
                stream="incident:WDH-2026-0777",
                payload=MessagePosted(message_id=i, body=f"m{i}"),
                actor=actor,
                agency=agency,
            )
            return event.seq

    seqs = run_concurrently(one)
    assert sorted(seqs) == list(range(1, N + 1))
    stored = list(
        Event.objects.filter(stream__name="incident:WDH-2026-0777")
        .order_by("seq")
        .values_list("seq", flat=True)
    )
    assert stored == list(range(1, N + 1))
    assert verify().ok


def test_twenty_concurrent_posts_get_gap_free_unique_seqs() -> None:
    seed()
    incident = report()
    users = ["na-imm.duty", "na-imm.coord", "na-imm.senior"]

    def one(i: int) -> int:
        result = services.message_post(
            actor=officer(users[i % len(users)]),
            ref=incident.ref,
            body=f"concurrent message {i}",
            client_msg_id=uuid.uuid4(),
        )
        return result.seq

    seqs = run_concurrently(one)
    assert sorted(seqs) == list(range(2, N + 2)), "seq 1 is incident.reported"
    assert sorted(Message.objects.values_list("seq", flat=True)) == list(range(2, N + 2))
    stored = list(
        Event.objects.filter(stream__name=incident.stream_name)
        .order_by("seq")
        .values_list("seq", flat=True)
    )
    assert stored == list(range(1, N + 2))
    assert verify().ok


def test_same_client_msg_id_twenty_times_concurrently_gives_one_message() -> None:
    seed()
    incident = report()
    cmid = uuid.uuid4()
    duty = officer("na-imm.duty")

    def one(_: int) -> tuple[int, int, bool]:
        result = services.message_post(
            actor=duty, ref=incident.ref, body="exactly once", client_msg_id=cmid
        )
        return result.message.pk, result.seq, result.duplicate

    results = run_concurrently(one)
    assert Message.objects.count() == 1
    assert len({(pk, seq) for pk, seq, _ in results}) == 1, results
    assert sum(1 for *_, duplicate in results if not duplicate) == 1
    assert (
        Event.objects.filter(stream__name=incident.stream_name, kind="message.posted").count() == 1
    )
