"""Request and response shapes of situation reports (also on ``IncidentOut`` and
``OperationOut`` as ``sitrep``)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from django.utils import timezone
from ninja import Schema
from pydantic import Field, StrictInt

from hub.schemas import Code, RequiredText, StrictIn, Text, UserRef
from hub.sitreps.models import SituationReport
from hub.sitreps.selectors import SitrepView
from hub.sitreps.services import MAX_NEED, MAX_NEEDS, MAX_SECTION, MAX_SITUATION


class NeedIn(StrictIn):
    agency: Code | None = Field(
        None,
        min_length=1,
        max_length=20,
        description="The agency asked, by code (any active agency, whether or not it takes "
        "part yet); null or absent: any agency.",
    )
    need: RequiredText = Field(min_length=1, max_length=MAX_NEED)


class SitrepIn(StrictIn):
    situation: RequiredText = Field(min_length=1, max_length=MAX_SITUATION)
    actions_taken: Text = Field("", max_length=MAX_SECTION)
    next_steps: Text = Field("", max_length=MAX_SECTION)
    needs: list[NeedIn] = Field(default_factory=list, max_length=MAX_NEEDS)
    client_msg_id: UUID


class CadenceIn(StrictIn):
    every_minutes: StrictInt | None = Field(
        ge=5, le=1440, description="A report every N minutes (5 to 1440); null: no cadence."
    )
    client_msg_id: UUID | None = None


class NeedOut(Schema):
    agency: str | None
    need: str


class SitrepOut(Schema):
    number: int = Field(description="1 for the subject's first report, then 2, 3, ...")
    situation: str
    actions_taken: str
    next_steps: str
    needs: list[NeedOut]
    author: UserRef
    agency: str = Field(description="The lead agency the author posted for.")
    posted_at: datetime
    stream: str
    seq: int = Field(description="The seq of its sitrep.posted event on the stream.")

    @staticmethod
    def of(report: SituationReport) -> SitrepOut:
        return SitrepOut(
            number=report.number,
            situation=report.situation,
            actions_taken=report.actions_taken,
            next_steps=report.next_steps,
            needs=[NeedOut(**n) for n in report.needs or []],
            author=UserRef(
                id=report.author.pk,
                username=report.author.username,
                name=report.author.display_name,
            ),
            agency=report.agency.code,
            posted_at=report.posted_at,
            stream=report.subject.stream_name,
            seq=report.seq,
        )


class SitrepStateOut(Schema):
    """The latest report (the room pins it) and the cadence."""

    reports: int = Field(description="How many reports there are (the latest one's number).")
    latest: SitrepOut | None
    every_minutes: int | None = Field(description="The cadence; null: none.")
    due_at: datetime | None = Field(description="When the next report is due; null: no cadence.")
    overdue: bool = Field(
        description="Due and not posted, while the incident is open (not resolved or closed) "
        "or the operation active."
    )
    reminded_at: datetime | None = Field(
        description="When the lead's coordinators were reminded of the current due time."
    )

    @staticmethod
    def of(view: SitrepView, now: datetime | None = None) -> SitrepStateOut:
        subject = view.subject
        return SitrepStateOut(
            reports=subject.reports,
            latest=SitrepOut.of(view.latest) if view.latest is not None else None,
            every_minutes=subject.every_minutes,
            due_at=subject.due_at,
            overdue=view.overdue(now or timezone.now()),
            reminded_at=subject.reminded_at,
        )

    @staticmethod
    def maybe(view: SitrepView | None) -> SitrepStateOut | None:
        return SitrepStateOut.of(view) if view is not None else None


class SitrepWriteOut(Schema):
    report: SitrepOut
    sitrep: SitrepStateOut
    stream: str
    seq: int
    duplicate: bool


class CadenceWriteOut(Schema):
    sitrep: SitrepStateOut
    stream: str
    seq: int = Field(description="The seq of the sitrep.cadence_set event.")
    duplicate: bool


class SitrepPageQuery(Schema):
    before: int | None = Field(
        None, ge=1, le=2**53, description="Only reports numbered below this."
    )
    limit: int = Field(20, ge=1, le=100)


class SitrepPageOut(Schema):
    items: list[SitrepOut] = Field(description="Newest first.")
    next_before: int | None = Field(description="Pass as `before` for older reports.")
    sitrep: SitrepStateOut | None = Field(description="Null: no report and no cadence yet.")
    stream: str
    seq: int = Field(description="The stream's seq this page reflects.")


class SitrepDueOut(Schema):
    kind: str = Field(description="incident or operation")
    ref: str
    title: str
    stream: str
    lead_agency: str
    every_minutes: int
    due_at: datetime
    overdue: bool
    reminded_at: datetime | None
    reports: int
    last_report_at: datetime | None

    @staticmethod
    def of(view: SitrepView, now: datetime) -> SitrepDueOut:
        subject = view.subject
        parent = subject.incident or subject.operation
        assert parent is not None
        assert subject.every_minutes is not None
        assert subject.due_at is not None
        return SitrepDueOut(
            kind=subject.kind,
            ref=parent.ref,
            title=parent.title,
            stream=subject.stream_name,
            lead_agency=parent.lead_agency.code,
            every_minutes=subject.every_minutes,
            due_at=subject.due_at,
            overdue=view.overdue(now),
            reminded_at=subject.reminded_at,
            reports=subject.reports,
            last_report_at=subject.last_report_at,
        )
