"""The demo seeder's clock: run a step "as of" an instant in the past.

Only ``hub.demo.history`` uses it, to write several weeks of demo history through
the real services. Events take their time from ``django.utils.timezone.now()``
(``hub.events.pipeline.emit``), and so do the services, ``auto_now`` fields and
due times; every hub module calls it through the module attribute
(``from django.utils import timezone`` ... ``timezone.now()``), never a copy
imported by name, so patching the attribute moves them all. Never used on a
request, job or production path: ``seed_demo`` refuses to run in production.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from unittest import mock

from django.utils import timezone


@contextmanager
def demo_clock(at: datetime) -> Iterator[datetime]:
    """Inside the block, ``timezone.now()`` returns ``at`` (aware)."""
    if timezone.is_naive(at):
        raise ValueError("demo_clock needs an aware datetime")
    with mock.patch.object(timezone, "now", return_value=at):
        yield at
