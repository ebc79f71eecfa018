"""Schema bases shared by the API routers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ninja import Schema
from pydantic import ConfigDict, Field, field_validator


class StrictIn(Schema):
    """Request bodies: unknown fields are an error, not silently dropped.

    A time must also be one the database can store: "9999-12-31T23:59:59-23:59"
    parses, but is in the year 10000 in UTC (a 422 here, not a 500 at the insert).
    """

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _storable_time(cls, value: Any) -> Any:
        return storable_time(value) if isinstance(value, datetime) else value


def storable_time(value: datetime | None) -> datetime | None:
    """``value``, if the database can store and compare it; else a ValueError (a 422 on
    the field in a request schema). Some times parse but fall outside years 1..9999
    once in UTC."""
    if value is not None:
        try:
            value.astimezone(UTC)
        except (OverflowError, ValueError):
            raise ValueError("is outside the range of times the hub stores") from None
    return value


class FieldErrorOut(Schema):
    loc: list[str] = Field(description="Where in the request: body/query/path, then the field.")
    msg: str
    type: str


class ErrorOut(Schema):
    code: str
    detail: str
    errors: list[FieldErrorOut] | None = Field(
        None, description="422 `invalid_request` from request validation: each problem."
    )


class UserRef(Schema):
    id: int
    username: str
    name: str


ERRORS_READ = {401: ErrorOut, 404: ErrorOut, 422: ErrorOut, 503: ErrorOut}
ERRORS_WRITE = {
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    409: ErrorOut,
    413: ErrorOut,
    422: ErrorOut,
    503: ErrorOut,
}
