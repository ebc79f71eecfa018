"""A small incident record with known actors, agencies, kinds and times, made through
the services, for the timeline filters (tests/unit/test_event_filters.py and
tests/integration/test_timeline_filters.py).

Every event is one minute after the one before it (``at(seq)`` = ``T0`` + seq - 1
minutes):

 1  incident.reported        na-imm.duty   NA-IMM  title "Passenger with altered passport"
 2  incident.agency_invited  na-imm.coord  NA-IMM  NA-CUS joins
 3  message.posted           na-cus.duty   NA-CUS  "Customs: vessel MV Ocean Star held"
 4  message.posted           na-imm.duty   NA-IMM  "Passport AB123456 seized" (redacted at 6)
 5  message.edited           na-imm.duty   NA-IMM  "Passport AB123456 seized at desk 4"
 6  message.redacted         na-imm.coord  NA-IMM  reason "Personal data of a minor"
 7  sitrep.posted            na-imm.coord  NA-IMM  situation "Crew of the vessel interviewed"
 8  sitrep.overdue           (nobody)              automatic: no officer behind it
 9  incident.transitioned    na-imm.coord  NA-IMM  to triaged
10  message.posted           na-imm.duty   NA-IMM  "Passport scan sent to customs"
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from hub.events.models import Event
from hub.events.pipeline import emit
from hub.events.types import SitrepOverdue
from hub.incidents import services
from hub.sitreps import services as sitreps
from tests.factories import officer, post, report

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def at(seq: int) -> datetime:
    """When event ``seq`` of the record happened."""
    return T0 + timedelta(minutes=seq - 1)


KINDS = {
    1: "incident.reported",
    2: "incident.agency_invited",
    3: "message.posted",
    4: "message.posted",
    5: "message.edited",
    6: "message.redacted",
    7: "sitrep.posted",
    8: "sitrep.overdue",
    9: "incident.transitioned",
    10: "message.posted",
}
ACTORS = {
    1: "na-imm.duty",
    2: "na-imm.coord",
    3: "na-cus.duty",
    4: "na-imm.duty",
    5: "na-imm.duty",
    6: "na-imm.coord",
    7: "na-imm.coord",
    8: None,
    9: "na-imm.coord",
    10: "na-imm.duty",
}
SEQS = tuple(KINDS)


@dataclass(frozen=True)
class Record:
    ref: str
    stream: str


def build_record(monkeypatch: pytest.MonkeyPatch) -> Record:
    """The record above, each event at ``at(seq)`` (the clock is set before each step)."""
    clock = [T0]
    with monkeypatch.context() as patched:
        patched.setattr(timezone, "now", lambda: clock[0])

        def tick(seq: int) -> None:
            clock[0] = at(seq)

        tick(1)
        incident = report("na-imm.duty", "WDH", occurred_at=T0 - timedelta(minutes=20))
        tick(2)
        services.incident_invite_agency(
            actor=officer("na-imm.coord"), ref=incident.ref, agency="NA-CUS"
        )
        tick(3)
        post("na-cus.duty", incident.ref, "Customs: vessel MV Ocean Star held")
        tick(4)
        redacted = post("na-imm.duty", incident.ref, "Passport AB123456 seized").message
        tick(5)
        services.message_edit(
            actor=officer("na-imm.duty"),
            ref=incident.ref,
            message_id=redacted.pk,
            body="Passport AB123456 seized at desk 4",
            client_msg_id=uuid.uuid4(),
        )
        tick(6)
        services.message_redact(
            actor=officer("na-imm.coord"),
            ref=incident.ref,
            message_id=redacted.pk,
            reason="Personal data of a minor",
            client_msg_id=uuid.uuid4(),
        )
        tick(7)
        sitreps.sitrep_post(
            actor=officer("na-imm.coord"),
            kind="incident",
            ref=incident.ref,
            situation="Crew of the vessel interviewed",
            client_msg_id=uuid.uuid4(),
            now=at(7),
        )
        tick(8)
        with transaction.atomic():
            emit(
                stream=incident.stream_name,
                payload=SitrepOverdue(
                    ref=incident.ref, due_at=at(8), agency="NA-IMM", notified=["na-imm.coord"]
                ),
                actor=None,
                agency=None,
            )
        tick(9)
        services.incident_transition(
            actor=officer("na-imm.coord"), ref=incident.ref, to_status="triaged"
        )
        tick(10)
        post("na-imm.duty", incident.ref, "Passport scan sent to customs")
    rows = list(
        Event.objects.filter(stream__name=incident.stream_name)
        .order_by("seq")
        .values_list("seq", "kind", "at", "actor__username")
    )
    expected = [(seq, KINDS[seq], at(seq), ACTORS[seq]) for seq in SEQS]
    assert rows == expected, "the record is not the one the tests are written against"
    return Record(ref=incident.ref, stream=incident.stream_name)
