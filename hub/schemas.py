"""Schema bases shared by the API routers."""

from __future__ import annotations

from ninja import Schema
from pydantic import ConfigDict, Field


class StrictIn(Schema):
    """Request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


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
