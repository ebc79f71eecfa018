"""Who may verify the record (the hash chains): pure functions of ``Access``.

Rules:
- one stream (``/audit/verify?stream=``): anyone who may read that stream
  (whether they may is the stream kind's resolver, ``hub.events.streams``; the
  caller passes the answer in as ``readable``);
- everything (``/audit/verify``): superusers verify every stream; senior
  officials verify every stream they may read (their jurisdiction); nobody else;
- a timeline export carries the verification of the stream it exports: whoever
  may export it (``hub.incidents.permissions.can_export_incident``) may read it,
  so they may see its verification;
- ``manage.py audit_verify`` runs with the server's own rights (whoever can run
  it can read the database anyway) and verifies every stream: ``OPERATOR``.

Services and views turn a denial into a logged 403 (``hub.security.refuse``), or
into the usual 404 when the stream is not the caller's.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hub.agencies.access import Access
from hub.agencies.models import Role


class VerifyScope(StrEnum):
    ALL = "all"  # every stream in the database
    VISIBLE = "visible"  # the streams the caller may read
    NONE = "none"


@dataclass(frozen=True)
class VerifyDecision:
    allowed: bool
    scope: VerifyScope
    reason: str = ""

    def __bool__(self) -> bool:
        return self.allowed


OPERATOR = VerifyDecision(True, VerifyScope.ALL)


def can_verify_stream(access: Access, *, readable: bool) -> VerifyDecision:
    """One stream: allowed exactly when the caller may read it."""
    if access.is_active and readable:
        return VerifyDecision(True, VerifyScope.VISIBLE)
    return VerifyDecision(False, VerifyScope.NONE, "cannot read this stream")


def can_verify_record(access: Access, *, is_superuser: bool) -> VerifyDecision:
    """The whole record: superusers all of it, senior officials what they may read."""
    if is_superuser and access.is_active:
        return VerifyDecision(True, VerifyScope.ALL)
    if access.has_role(Role.SENIOR_OFFICIAL.value):
        return VerifyDecision(True, VerifyScope.VISIBLE)
    return VerifyDecision(False, VerifyScope.NONE, "only senior officials verify the record")


def can_see_export_verification(*, may_export: bool) -> VerifyDecision:
    """An export's verification block goes to whoever may export the timeline."""
    if may_export:
        return VerifyDecision(True, VerifyScope.VISIBLE)
    return VerifyDecision(False, VerifyScope.NONE, "cannot export this timeline")
