"""Typed errors that services raise and every transport (REST, WebSocket) maps.

Each error carries a stable machine ``code``, a human ``detail`` and the HTTP
status REST answers with. WebSocket ``error`` frames reuse code and detail.
"Not yours" and "does not exist" are both ``NotFound``, so nobody learns what
exists from an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


class HubError(Exception):
    status: ClassVar[int] = 400
    default_code: ClassVar[str] = "bad_request"

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.default_code


class InvalidInput(HubError):
    status = 422
    default_code = "invalid_request"


class NotAuthenticated(HubError):
    status = 401
    default_code = "unauthenticated"


class Forbidden(HubError):
    """The caller may see the thing but may not do this to it."""

    status = 403
    default_code = "forbidden"


class NotFound(HubError):
    """It does not exist, or the caller may not see it: indistinguishable on purpose."""

    status = 404
    default_code = "not_found"


class Conflict(HubError):
    """The request is well-formed but clashes with the current state."""

    status = 409
    default_code = "conflict"


class IdempotencyConflict(Conflict):
    """A client_msg_id was reused for a different request."""

    default_code = "client_msg_id_reused"


class PayloadTooLarge(HubError):
    status = 413
    default_code = "payload_too_large"


class RateLimited(HubError):
    status = 429
    default_code = "rate_limited"


@dataclass(frozen=True)
class FieldProblem:
    """One refused field: where in the request (``("items", 2, "position")``), why, and
    a machine ``type`` (pydantic's name where pydantic checks the same thing)."""

    loc: tuple[str | int, ...]
    msg: str
    type: str


class InvalidFields(InvalidInput):
    """Input refused field by field (422 ``invalid_request`` with every problem).

    REST answers it with the same ``errors`` list ``{loc, msg, type}`` as request
    validation, so a form can show each reason next to its field.
    """

    def __init__(self, problems: list[FieldProblem]) -> None:
        detail = "; ".join(
            f"{'.'.join(str(p) for p in problem.loc) or 'body'}: {problem.msg}"
            for problem in problems[:20]
        )
        super().__init__(detail or "The request is not valid.")
        self.problems = list(problems)
