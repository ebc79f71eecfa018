"""What one message costs the database: the statements of ``message_post``.

A profile of the write path put Django's SQL compilation at the top, so the
statement list is pinned here: a statement added to the hottest write shows up as a
failing test, not as a slower benchmark months later.
"""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from hub.events.models import Event
from hub.incidents import services
from hub.incidents.models import Message
from tests.factories import officer, post, report, seed

pytestmark = pytest.mark.django_db


def statements_of_a_post() -> tuple[list[str], services.MessageResult]:
    seed()
    incident = report()
    post("na-imm.duty", incident.ref, "warm-up")
    actor = officer("na-imm.duty")
    with CaptureQueriesContext(connection) as captured:
        result = services.message_post(
            actor=actor,
            ref=incident.ref,
            body="Passenger moved to secondary.",
            client_msg_id=uuid.uuid4(),
        )
    return [q["sql"] for q in captured.captured_queries], result


def test_a_message_is_written_with_its_seq_not_updated_after() -> None:
    sql, result = statements_of_a_post()
    assert not [s for s in sql if s.startswith("UPDATE") and "incidents_message" in s]
    message = Message.objects.get(pk=result.message.pk)
    event = Event.objects.get(stream__name=result.stream, seq=result.seq)
    assert message.seq == event.seq == result.seq
    assert event.payload["message_id"] == message.pk


def test_unique_lookups_of_the_write_carry_no_order_by() -> None:
    sql, _ = statements_of_a_post()
    lookups = [
        s
        for s in sql
        if s.startswith("SELECT")
        and any(
            t in s
            for t in (
                'FROM "events_writereceipt"',
                'FROM "events_stream"',
                'FROM "incidents_incident"',
            )
        )
    ]
    assert len(lookups) == 3, lookups
    assert not [s for s in lookups if "ORDER BY" in s]


def test_a_message_costs_at_most_these_statements() -> None:
    sql, _ = statements_of_a_post()
    # grants (2), receipt lookup, incident lock, participants, stream lock, message,
    # event, stream head, receipt; plus BEGIN/COMMIT or SAVEPOINTs where the database
    # shows them.
    writes = [s for s in sql if s.split(" ", 1)[0] in {"SELECT", "INSERT", "UPDATE", "DELETE"}]
    assert len(writes) <= 10, writes
