"""Denials: every refused action is logged with who, what and why, then raised.

Callers pass ``hide=True`` when the caller may not even read the target, so the
answer is the same NotFound as for something that does not exist.
"""

from __future__ import annotations

import logging
from typing import NoReturn

from hub.agencies.access import Access, Decision
from hub.agencies.models import Agency
from hub.errors import Forbidden, NotFound

logger = logging.getLogger("hub.security")


def log_denial(access: Access, *, action: str, target: str, reason: str) -> None:
    logger.warning(
        "denied user=%s action=%s target=%s reason=%s",
        access.username or access.user_id,
        action,
        target,
        reason,
        extra={
            "denied_user_id": access.user_id,
            "denied_action": action,
            "denied_target": target,
            "denied_reason": reason,
        },
    )


def refuse(
    access: Access, *, action: str, target: str, reason: str, hide: bool = False
) -> NoReturn:
    log_denial(access, action=action, target=target, reason=reason)
    if hide:
        raise NotFound("Not found.")
    raise Forbidden(reason[:1].upper() + reason[1:] + ".")


def acting_agency(access: Access, decision: Decision, *, action: str, target: str) -> Agency:
    """The agency the caller acts for under ``decision``, or a logged refusal (403).

    The agency is built from the grant, without a query: its id and code are all
    that rows and events need. It is never saved.
    """
    if not decision.allowed or decision.grant is None:
        refuse(access, action=action, target=target, reason=decision.reason)
    grant = decision.grant
    return Agency(pk=grant.agency_id, code=grant.agency_code, kind=grant.agency_kind)
