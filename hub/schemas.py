"""Schema bases shared by the API routers."""

from __future__ import annotations

from ninja import Schema
from pydantic import ConfigDict


class StrictIn(Schema):
    """Request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class ErrorOut(Schema):
    code: str
    detail: str


class UserRef(Schema):
    id: int
    username: str
    name: str


ERRORS_READ = {401: ErrorOut, 404: ErrorOut, 422: ErrorOut}
ERRORS_WRITE = {
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    409: ErrorOut,
    413: ErrorOut,
    422: ErrorOut,
}
