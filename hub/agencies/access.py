"""What a user holds: their active grants (membership × agency × role × points).

``Access`` is a plain, immutable snapshot that permission functions take, so
they stay pure and testable without a database. Build it with
``hub.agencies.selectors.access_for(user)``; one snapshot serves one request or
one WebSocket frame.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from hub.agencies.models import Role


@dataclass(frozen=True)
class Grant:
    membership_id: int
    agency_id: int
    agency_code: str
    agency_kind: str
    role: str
    crossing_point_ids: frozenset[int]

    def serves(self, crossing_point_id: int) -> bool:
        return crossing_point_id in self.crossing_point_ids


@dataclass(frozen=True)
class Access:
    user_id: int
    username: str
    display_name: str
    is_active: bool
    grants: tuple[Grant, ...] = field(default_factory=tuple)

    def grants_at(self, crossing_point_id: int, roles: Iterable[str] | None = None) -> list[Grant]:
        """Grants serving ``crossing_point_id`` (optionally only these roles), stable order."""
        wanted = set(roles) if roles is not None else None
        if not self.is_active:
            return []
        return [
            g
            for g in self.grants
            if g.serves(crossing_point_id) and (wanted is None or g.role in wanted)
        ]

    def has_role(self, *roles: str) -> bool:
        return self.is_active and any(g.role in roles for g in self.grants)

    @property
    def crossing_point_ids(self) -> frozenset[int]:
        ids: set[int] = set()
        for g in self.grants:
            ids |= g.crossing_point_ids
        return frozenset(ids)

    @property
    def agency_ids(self) -> frozenset[int]:
        return frozenset(g.agency_id for g in self.grants)


OPERATIONAL_ROLES = (Role.DUTY_OFFICER.value, Role.COORDINATOR.value)
READER_ROLES = (Role.DUTY_OFFICER.value, Role.COORDINATOR.value, Role.SENIOR_OFFICIAL.value)


@dataclass(frozen=True)
class Decision:
    """A permission answer: allowed or not, why not, and the grant to act under."""

    allowed: bool
    reason: str = ""
    grant: Grant | None = None

    def __bool__(self) -> bool:
        return self.allowed


def allow(grant: Grant | None = None) -> Decision:
    return Decision(True, "", grant)


def deny(reason: str) -> Decision:
    return Decision(False, reason)
