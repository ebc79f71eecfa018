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
from hub.events.audit import VerifyReport, verify
from hub.events.models import Event
from hub.events.pipeline import emit
from hub.events.types import MessagePosted
from hub.incidents import services
from hub.incidents.models import Incident, IncidentCounter, Message
from tests.factories import occurred, officer, report, seed

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


# --- verification under live writes ---------------------------------------------------


def _emit_committed(stream: str, body: str) -> int:
    """Append one event and commit it (this test's connection is in autocommit)."""
    with transaction.atomic():
        return emit(
            stream=stream,
            payload=MessagePosted(message_id=1, body=body),
            actor=officer("na-imm.duty"),
            agency=Agency.objects.get(code="NA-IMM"),
        ).seq


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "one stream"])
def test_verify_is_not_fooled_by_events_committed_between_its_reads(
    monkeypatch: pytest.MonkeyPatch, batched: bool
) -> None:
    """Commit an event in each window between verify's reads: still ok, nothing missed.
    Both ways verify reads: a batch of small streams (heads, events, highest seqs in
    three statements) and a stream read on its own (bigger than a batch)."""
    from hub.events import audit

    seed()
    stream = "incident:WDH-2026-0555"
    for i in range(3):
        _emit_committed(stream, f"before {i}")
    injected: list[str] = []

    def after(step: str, message: str) -> None:
        if step not in injected:
            injected.append(step)
            _emit_committed(stream, message)

    if batched:
        real_heads, real_tops = audit._read_heads, audit._max_seqs

        def read_heads_then_append(ids: list[int]) -> dict[int, tuple[int, str]]:
            heads = real_heads(ids)
            after("after head", "after the heads were read")
            return heads

        def max_seqs_then_append(ids: list[int]) -> dict[int, int]:
            tops = real_tops(ids)
            after("after max", "after max(seq) was read")
            return tops

        monkeypatch.setattr(audit, "_read_heads", read_heads_then_append)
        monkeypatch.setattr(audit, "_max_seqs", max_seqs_then_append)
    else:
        monkeypatch.setattr(audit, "BATCH_EVENTS", 0)  # every stream on its own
        real_read_head, real_max_seq = audit._read_head, audit._max_seq

        def read_head_then_append(stream_id: int) -> tuple[int, str]:
            head = real_read_head(stream_id)
            after("after head", "after the head was read")
            return head

        def max_seq_then_append(stream_id: int) -> int | None:
            top = real_max_seq(stream_id)
            after("after max", "after max(seq) was read")
            return top

        monkeypatch.setattr(audit, "_read_head", read_head_then_append)
        monkeypatch.setattr(audit, "_max_seq", max_seq_then_append)
    report = verify()
    assert injected == ["after head", "after max"]
    assert report.ok, report.broken
    assert report.events_checked == 3  # the head it read first
    monkeypatch.undo()
    final = verify()
    assert final.ok
    assert final.events_checked == 5


def test_verify_stays_ok_while_another_thread_keeps_emitting() -> None:
    seed()
    streams = ["incident:WDH-2026-0556", "incident:WDH-2026-0557"]
    for name in streams:
        _emit_committed(name, "first")
    stop = threading.Event()
    emitted: list[int] = []
    failure: list[BaseException] = []

    def writer() -> None:
        try:
            i = 0
            while not stop.is_set():
                _emit_committed(streams[i % 2], f"live {i}")
                emitted.append(i)
                i += 1
        except BaseException as exc:  # surfaced below
            failure.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=writer)
    thread.start()
    reports: list[VerifyReport] = []
    try:
        # Keep verifying until the writer has provably run alongside many verifications.
        while len(reports) < 25 or len(emitted) < 25:
            reports.append(verify())
            if failure or len(reports) > 2000:
                break
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not failure, failure
    assert len(emitted) >= 25
    broken = [r.broken for r in reports if not r.ok]
    assert not broken, broken[:3]
    assert all(r.streams_checked == 2 for r in reports)
    assert verify().events_checked == len(emitted) + 2


# --- incident refs under concurrency --------------------------------------------------


def test_concurrent_reports_at_one_crossing_point_get_distinct_consecutive_refs() -> None:
    seed()
    reporters = ["na-imm.duty", "na-imm.coord", "na-cus.duty", "na-pol.duty"]

    def one(i: int) -> str:
        return services.incident_report(
            actor=officer(reporters[i % len(reporters)]),
            crossing_point="WDH",
            title=f"Concurrent report {i}",
            category="other",
            severity="low",
            occurred_at=occurred(),
        ).incident.ref

    refs = run_concurrently(one, n=10)
    year = Incident.objects.values_list("year", flat=True).first()
    assert sorted(refs) == [f"WDH-{year}-{n:04d}" for n in range(1, 11)]
    assert sorted(Incident.objects.values_list("number", flat=True)) == list(range(1, 11))
    assert IncidentCounter.objects.get(crossing_point__code="WDH").last_number == 10
    # Each incident's stream starts at seq 1 with its report.
    for ref in refs:
        assert list(
            Event.objects.filter(stream__name=f"incident:{ref}").values_list("seq", "kind")
        ) == [(1, "incident.reported")]
    assert verify().ok
