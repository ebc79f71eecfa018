"""Delivery of checkpoints to outside witnesses: a file and/or an HTTP endpoint.

Each checkpoint is sent as one JSON object (``checkpoint_document``: the body's
fields, the signature and the hash): a line appended to ``HUB_WITNESS_FILE``
(flushed and fsynced), and/or a POST to ``HUB_WITNESS_URL`` (any 2xx is receipt).
What was delivered is kept in ``WitnessDelivery`` rows, created pending with the
checkpoint; the job loop calls ``deliver_pending`` on every sweep, which sends the
undelivered ones oldest first, per target, and stops a target at its first
failure so a witness always receives checkpoints in order. A failure is counted,
kept as ``last_error`` and logged on ``hub.audit``; ``/readyz`` shows it as detail
(it never makes the hub unready), and checkpointing goes on regardless.

Two loops: on PostgreSQL a session advisory lock per target makes one loop the
sender at a time; SQLite deployments run one loop (a double delivery would only
repeat an identical line, which ``audit_verify --witness`` accepts).
"""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.db.models import F
from django.utils import timezone

from hub.events.checkpoints import checkpoint_document
from hub.events.models import Checkpoint, WitnessDelivery

audit_log = logging.getLogger("hub.audit")

TARGET_LOCKS = {WitnessDelivery.Target.FILE: 0x77746631, WitnessDelivery.Target.HTTP: 0x77746832}


def configured_targets() -> list[str]:
    targets: list[str] = []
    if settings.HUB_WITNESS_FILE:
        targets.append(WitnessDelivery.Target.FILE)
    if settings.HUB_WITNESS_URL:
        targets.append(WitnessDelivery.Target.HTTP)
    return targets


def witness_line(cp: Checkpoint) -> bytes:
    return json.dumps(checkpoint_document(cp), sort_keys=True, separators=(",", ":")).encode()


def send_to_file(cp: Checkpoint) -> None:
    path = Path(str(settings.HUB_WITNESS_FILE))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, witness_line(cp) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)


def send_to_http(cp: Checkpoint) -> None:
    request = urllib.request.Request(  # noqa: S310 (the URL is validated as http(s) in hub.config)
        str(settings.HUB_WITNESS_URL),
        data=witness_line(cp),
        headers={"Content-Type": "application/json", "User-Agent": "border-hub-witness/1"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=settings.HUB_WITNESS_TIMEOUT) as response:  # noqa: S310
        if not 200 <= response.status < 300:
            raise OSError(f"witness answered HTTP {response.status}")


SENDERS: dict[str, Callable[[Checkpoint], None]] = {
    WitnessDelivery.Target.FILE: send_to_file,
    WitnessDelivery.Target.HTTP: send_to_http,
}


@contextmanager
def _target_lock(target: str) -> Iterator[bool]:
    if connection.vendor != "postgresql":
        yield True
        return
    key = TARGET_LOCKS[WitnessDelivery.Target(target)]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        (held,) = cursor.fetchone()
    try:
        yield bool(held)
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


def _describe(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTPError: HTTP {exc.code}"
    return f"{type(exc).__name__}: {exc}"[:300]


def deliver_pending(*, now: datetime | None = None, limit: int = 100) -> list[tuple[int, str]]:
    """Send undelivered checkpoints, oldest first per target, stopping a target at
    its first failure; returns the (checkpoint number, target) pairs delivered.

    Runs outside any transaction (network I/O must hold no database lock)."""
    delivered: list[tuple[int, str]] = []
    targets = {WitnessDelivery.Target(t) for t in configured_targets()}
    for target in targets:
        with _target_lock(target) as held:
            if not held:
                continue
            pending = list(
                WitnessDelivery.objects.filter(target=target, delivered_at__isnull=True)
                .select_related("checkpoint")
                .order_by("checkpoint__number")[:limit]
            )
            for delivery in pending:
                at = now or timezone.now()
                try:
                    SENDERS[target](delivery.checkpoint)
                except Exception as exc:
                    error = _describe(exc)
                    WitnessDelivery.objects.filter(pk=delivery.pk).update(
                        attempts=F("attempts") + 1, last_attempt_at=at, last_error=error
                    )
                    audit_log.warning(
                        "witness %s did not take checkpoint %d (attempt %d): %s; retried "
                        "on the next sweep",
                        target,
                        delivery.checkpoint.number,
                        delivery.attempts + 1,
                        error,
                    )
                    break
                WitnessDelivery.objects.filter(pk=delivery.pk).update(
                    attempts=F("attempts") + 1, last_attempt_at=at, delivered_at=at, last_error=""
                )
                delivered.append((delivery.checkpoint.number, str(target)))
    return delivered


def witness_status() -> dict[str, str]:
    """Per configured target, "ok" or a short public summary of what is pending."""
    status: dict[str, str] = {}
    for target in configured_targets():
        pending = WitnessDelivery.objects.filter(target=target, delivered_at__isnull=True)
        count = pending.count()
        if not count:
            status[target] = "ok"
            continue
        oldest = pending.select_related("checkpoint").order_by("checkpoint__number").first()
        assert oldest is not None
        error = oldest.last_error.split(":", 1)[0] if oldest.last_error else "not sent yet"
        status[target] = (
            f"{count} checkpoint(s) undelivered from {oldest.checkpoint.number}, "
            f"{oldest.attempts} attempt(s), last error {error}"
        )
    return status
