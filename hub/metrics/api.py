"""REST: response metrics (``GET /metrics``), for senior officials and coordinators,
computed from the record by ``hub.metrics.service`` (which documents every
definition; the field descriptions below repeat what a reader needs)."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import AwareDatetime, Field, field_validator

from hub.auth import request_user
from hub.metrics.figures import Durations, Punctuality, change
from hub.metrics.service import MAX_DAYS, DurationRow, Metrics, PunctualityRow, response_metrics
from hub.schemas import ERRORS_READ, NO_C0_PATTERN, ErrorOut, storable_time, time_not_a_number

router = Router(tags=["metrics"])


class MetricsQuery(Schema):
    crossing_point: str | None = Field(
        None,
        max_length=6,
        description="One crossing point (code); omitted: every point where you may read "
        "metrics (as a senior official or coordinator serving it).",
        json_schema_extra={"pattern": NO_C0_PATTERN},
    )
    days: int = Field(
        28, ge=1, le=MAX_DAYS, description="The period's length in days (1 to 366); default 28."
    )
    until: AwareDatetime | None = Field(
        None,
        description="The period's end (exclusive; ISO 8601 with a UTC offset); default "
        "now, and never later than now.",
    )

    @field_validator("crossing_point", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("crossing_point", mode="after")
    @classmethod
    def _no_control(cls, value: str | None) -> str | None:
        if value is not None and any(ord(ch) < 32 for ch in value):
            raise ValueError("must not contain control characters")
        return value

    @field_validator("until", mode="before")
    @classmethod
    def _time_not_a_number(cls, value: object) -> object:
        return time_not_a_number(value)

    @field_validator("until", mode="after")
    @classmethod
    def _storable(cls, value: datetime | None) -> datetime | None:
        return storable_time(value)


class DurationsOut(Schema):
    count: int = Field(description="How many durations the period holds.")
    median_seconds: int | None = Field(
        description="Their median in whole seconds (even count: the mean of the two middle "
        "values, rounded down); null when there are none."
    )
    p90_seconds: int | None = Field(
        description="Their 90th percentile, nearest rank (the value at rank ceil(0.9 × "
        "count) in ascending order); null when there are none."
    )


class PunctualityOut(Schema):
    on_time: int = Field(description="Done by the due time.")
    late: int = Field(description="Done after the due time.")
    missed: int = Field(description="Not done (see each section for what counts).")
    on_time_rate: float | None = Field(
        description="on_time ÷ (on_time + late), 0 to 1; null when nothing was done."
    )


class DurationRowOut(Schema):
    key: str = Field(
        description="What the row is about: an agency code, or `<category>/<severity>` for "
        "resolution."
    )
    current: DurationsOut = Field(description="The chosen period.")
    previous: DurationsOut = Field(description="The period of the same length just before.")
    median_change_seconds: int | None = Field(
        description="current.median_seconds − previous.median_seconds (negative: faster); "
        "null when either is null."
    )
    p90_change_seconds: int | None = Field(
        description="current.p90_seconds − previous.p90_seconds; null when either is null."
    )
    on_time: PunctualityOut | None = Field(
        None,
        description="Alert acknowledgement only: acknowledged by the alert's due time, after "
        "it, or never (not acknowledged, due before the period's end, not cancelled "
        "before it was due). Null in other sections.",
    )
    previous_on_time: PunctualityOut | None = Field(
        None, description="The same for the previous period."
    )
    open: int | None = Field(
        None,
        description="Resolution only: incidents reported in the period and not resolved by "
        "its end. Null in other sections.",
    )
    previous_open: int | None = Field(None, description="The same for the previous period.")


class PunctualityRowOut(Schema):
    key: str = Field(description='An agency code; "" for tasks assigned to no agency.')
    current: PunctualityOut = Field(description="The chosen period.")
    previous: PunctualityOut = Field(description="The period of the same length just before.")


class PeriodOut(Schema):
    start: datetime = Field(description="Inclusive.")
    end: datetime = Field(description="Exclusive.")


class MetricsPointOut(Schema):
    code: str
    name: str
    timezone: str = Field(description="Its IANA time zone: the page shows times in it.")


class MetricsOut(Schema):
    crossing_points: list[MetricsPointOut] = Field(
        description="The points the figures cover (empty: you may read metrics nowhere)."
    )
    days: int = Field(description="The period's length in days.")
    period: PeriodOut = Field(description="The chosen period.")
    previous_period: PeriodOut = Field(description="The period just before, as long.")
    generated_at: datetime
    alert_ack_targets: dict[str, int] = Field(
        description="The acknowledgement window per alert severity, in seconds "
        "(HUB_ALERT_ACK_WINDOWS): the target line of the acknowledgement chart."
    )
    alert_ack: list[DurationRowOut] = Field(
        description="Time to acknowledge alerts, per targeted agency: from the issue to the "
        "agency's first acknowledgement, over alerts issued in the period that need one "
        "(drills excluded)."
    )
    first_response: list[DurationRowOut] = Field(
        description="Time to first response on incidents, per invited agency: from its "
        "invitation (the report, or its invitation later) to the first action by one of "
        "its officers, over incidents reported in the period that you may read."
    )
    resolution: list[DurationRowOut] = Field(
        description="Time from report to resolution (the first move into `resolved`), per "
        "`<category>/<severity>`, over incidents reported in the period that you may read."
    )
    tasks: list[PunctualityRowOut] = Field(
        description="Operation tasks due in the period, per assigned agency: completed by "
        "the due time, after it, or not done by the period's end (removed and "
        "not-applicable tasks left out)."
    )
    sitreps: list[PunctualityRowOut] = Field(
        description="Situation reports under a cadence, per lead agency: posted by the due "
        "time, after it; `missed` counts the overdue reminders (a due time that passed "
        "with no report)."
    )


def _durations(d: Durations) -> DurationsOut:
    return DurationsOut(count=d.count, median_seconds=d.median_seconds, p90_seconds=d.p90_seconds)


def _punctuality(p: Punctuality) -> PunctualityOut:
    return PunctualityOut(on_time=p.on_time, late=p.late, missed=p.missed, on_time_rate=p.rate)


def _duration_row(row: DurationRow) -> DurationRowOut:
    return DurationRowOut(
        key=row.key,
        current=_durations(row.current),
        previous=_durations(row.previous),
        median_change_seconds=change(row.current.median_seconds, row.previous.median_seconds),
        p90_change_seconds=change(row.current.p90_seconds, row.previous.p90_seconds),
        on_time=_punctuality(row.on_time) if row.on_time else None,
        previous_on_time=_punctuality(row.previous_on_time) if row.previous_on_time else None,
        open=row.open,
        previous_open=row.previous_open,
    )


def _punctuality_row(row: PunctualityRow) -> PunctualityRowOut:
    return PunctualityRowOut(
        key=row.key, current=_punctuality(row.current), previous=_punctuality(row.previous)
    )


def metrics_out(m: Metrics) -> MetricsOut:
    return MetricsOut(
        crossing_points=[
            MetricsPointOut(code=p.code, name=p.name, timezone=p.timezone)
            for p in m.crossing_points
        ],
        days=m.days,
        period=PeriodOut(start=m.period.start, end=m.period.end),
        previous_period=PeriodOut(start=m.previous.start, end=m.previous.end),
        generated_at=m.generated_at,
        alert_ack_targets=m.ack_targets,
        alert_ack=[_duration_row(r) for r in m.alert_ack],
        first_response=[_duration_row(r) for r in m.first_response],
        resolution=[_duration_row(r) for r in m.resolution],
        tasks=[_punctuality_row(r) for r in m.tasks],
        sitreps=[_punctuality_row(r) for r in m.sitreps],
    )


@router.get(
    "/metrics",
    response={200: MetricsOut, 403: ErrorOut, **ERRORS_READ},
    summary="Response metrics for a period, with the period before it, computed from the record",
    description=(
        "For senior officials and coordinators: at one crossing point, or every point "
        "where you may read metrics. 403 (logged) for a point you serve without that "
        "role; 404 for an unknown point; 422 naming the field for a bad `days` or `until`."
    ),
)
def metrics_view(request: HttpRequest, query: Query[MetricsQuery]) -> MetricsOut:
    return metrics_out(
        response_metrics(
            actor=request_user(request),
            crossing_point=query.crossing_point,
            days=query.days,
            until=query.until,
        )
    )
