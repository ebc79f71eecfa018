"""Schema bases shared by the API routers."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from ninja import Schema
from pydantic import ConfigDict, Field, StrictStr, ValidationInfo, field_validator

from hub.text import REQUIRED_TEXT_PATTERN, TEXT_PATTERN

# Text that officers write, checked by hub.text.clean_text: the schema states its
# rule (no control characters; a required text not blank once trimmed) as a
# ``pattern``, made from the same definition. The service refuses it (422, naming
# the field), so the pattern is for clients and is not checked twice here.
Text = Annotated[StrictStr, Field(json_schema_extra={"pattern": TEXT_PATTERN})]
RequiredText = Annotated[StrictStr, Field(json_schema_extra={"pattern": REQUIRED_TEXT_PATTERN})]

# Every other string of a JSON body (a code, a ref, a username, a password): the
# parser (hub.api.HubParser) refuses NUL in any of them (422) before a service sees
# it, since PostgreSQL cannot store one. The schema says so with this pattern; what
# else such a string must be (a deployed agency, an existing template) the service
# answers, as the operation's responses describe.
NO_NUL_PATTERN = "^[^\\u0000]*$"
Code = Annotated[StrictStr, Field(json_schema_extra={"pattern": NO_NUL_PATTERN})]

# Query filters that refuse every C0 control character (tab and newlines too).
NO_C0_PATTERN = "^[^\\u0000-\\u001f]*$"


class StrictIn(Schema):
    """Request bodies: unknown fields are an error, not silently dropped.

    A time must also be one the database can store: "9999-12-31T23:59:59-23:59"
    parses, but is in the year 10000 in UTC (a 422 here, not a 500 at the insert).
    And a time is a string in ISO 8601, as the schema's ``format: date-time`` says:
    pydantic would also take a number (or a numeric string) as a Unix time.
    """

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _time_not_a_number(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        if field is not None and "datetime" in str(field.annotation):
            return time_not_a_number(value)
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _storable_time(cls, value: Any) -> Any:
        return storable_time(value) if isinstance(value, datetime) else value


_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")


def time_not_a_number(value: Any) -> Any:
    """``value``, unless it is a number or a numeric string (a ValueError: a 422 on the
    field). A before-validator for times, which the schema states as ``date-time``
    strings, where pydantic would read a number as a Unix time."""
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("must be a date and time in ISO 8601, not a number")
    return value


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


REFUSES_VALID = "Also for some requests the schema allows, by rules it cannot state: "


def refuses_valid(*rules: str, status: int = 422) -> dict[str, Any]:
    """``openapi_extra`` for an operation that answers ``status`` (422, or 415 for a
    file's bytes) to some schema-valid requests, by rules JSON Schema cannot state (a
    time in the future, a code that must exist, a field that needs another): that
    response's description names them. The API fuzz run (bench/api_fuzzing.py) reads
    the description, and only there expects that status for a request the schema
    allows. (Ninja merges it into the response it documents, keyed by the int code.)"""
    return {"responses": {status: {"description": REFUSES_VALID + "; ".join(rules) + "."}}}


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
