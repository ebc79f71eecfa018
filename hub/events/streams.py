"""Stream names and who may read them.

A stream name is ``<kind>:<key>`` (``incident:WDH-2026-0001``,
``crossing:WDH``, ``operation:OP-WDH-2026-0001``). Domain apps register each
kind with a visibility resolver (and optionally a presenter that masks payloads,
such as redacted message text, and a reader factory that answers "can read?"
for many users from one read of the stream's facts) from their
``AppConfig.ready()``, so this app never imports them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from hub.errors import NotFound

if TYPE_CHECKING:
    from hub.agencies.access import Access


class EventLike(Protocol):
    """What a presenter reads of an event: an ``Event`` row, or a plain ``EventRow``."""

    @property
    def kind(self) -> str: ...

    @property
    def payload(self) -> Any: ...


STREAM_NAME_RE = re.compile(r"^(?P<kind>[a-z]{3,20}):(?P<key>[A-Z0-9][A-Z0-9-]{0,60})$")
STREAM_NAME_MAX = 120

# can_read(access, key) -> bool. Must treat unknown keys as unreadable.
ReadResolver = Callable[["Access", str], bool]
# present(events) -> payloads to show, one per event, same order.
Presenter = Callable[[Sequence[EventLike]], list[dict[str, Any]]]
# visible(access) -> names of every stream of this kind the caller may read.
Lister = Callable[["Access"], Iterable[str]]
# reader(key) -> a pure "can read?" over the stream's facts read once (None: no such
# stream). Unlike can_read, it logs nothing: it asks about users other than the caller.
ReaderFactory = Callable[[str], Callable[["Access"], bool] | None]


@dataclass(frozen=True)
class StreamKind:
    kind: str
    can_read: ReadResolver
    present: Presenter | None = None
    visible: Lister | None = None
    reader: ReaderFactory | None = None


_kinds: dict[str, StreamKind] = {}


def register_stream_kind(
    kind: str,
    *,
    can_read: ReadResolver,
    present: Presenter | None = None,
    visible: Lister | None = None,
    reader: ReaderFactory | None = None,
) -> None:
    _kinds[kind] = StreamKind(
        kind=kind, can_read=can_read, present=present, visible=visible, reader=reader
    )


def visible_stream_names(access: Access) -> list[str]:
    """Every stream the caller may read, across kinds (for audit verification)."""
    names: list[str] = []
    for kind in _kinds.values():
        if kind.visible is not None:
            names.extend(kind.visible(access))
    return sorted(set(names))


def parse_stream_name(name: str) -> tuple[StreamKind, str]:
    """Split and check a stream name; malformed or unknown kinds are NotFound."""
    if not isinstance(name, str) or len(name) > STREAM_NAME_MAX:
        raise NotFound("No such stream.")
    match = STREAM_NAME_RE.fullmatch(name)  # not .match: "$" would accept a trailing "\n"
    if match is None or match.group("kind") not in _kinds:
        raise NotFound("No such stream.")
    return _kinds[match.group("kind")], match.group("key")


def can_read_stream(access: Access, name: str) -> bool:
    try:
        kind, key = parse_stream_name(name)
    except NotFound:
        return False
    return kind.can_read(access, key)


def require_readable_stream(access: Access, name: str) -> StreamKind:
    """Return the stream's kind, or raise NotFound (also when it is not the caller's)."""
    kind, key = parse_stream_name(name)
    if not access.is_active or not kind.can_read(access, key):
        raise NotFound("No such stream.")
    return kind


def _nobody(access: Access) -> bool:
    return False


def stream_reader(name: str) -> Callable[[Access], bool]:
    """ "Can this access read ``name``?" for many users at once: the kind's reader
    factory (facts read once) when it has one, else its resolver per call. Unknown
    or malformed streams are read by nobody."""
    try:
        kind, key = parse_stream_name(name)
    except NotFound:
        return _nobody
    if kind.reader is not None:
        return kind.reader(key) or _nobody
    return lambda access: access.is_active and kind.can_read(access, key)
