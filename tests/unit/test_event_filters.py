"""The timeline filters (hub.events.filters): the kind groups, parsing (every refusal
names its query parameter), the badge count, the record an export keeps, and what
``narrow`` keeps of a known record (tests/timeline_record.py), each filter alone and
combined. A redacted message never matches the free text, whatever the text.

The ``narrow`` tests read the database (marked ``django_db``); the rest are pure.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from hub.errors import InvalidInput
from hub.events.filters import GROUP_KINDS, GROUPS, MAX_Q, EventFilter, group_of, kinds_of
from hub.events.models import Event
from hub.events.types import EVENT_TYPES
from tests.timeline_record import SEQS, Record, at, build_record

# --- groups ----------------------------------------------------------------------------


def test_every_registered_kind_is_in_exactly_one_group() -> None:
    placed = [kind for kinds in GROUP_KINDS.values() for kind in kinds]
    assert len(placed) == len(set(placed)), "a kind is in two groups"
    assert set(placed) == set(EVENT_TYPES), (
        f"in no group: {sorted(set(EVENT_TYPES) - set(placed))}; "
        f"not a kind: {sorted(set(placed) - set(EVENT_TYPES))}"
    )
    for group, kinds in GROUP_KINDS.items():
        assert kinds, group
        for kind in kinds:
            assert group_of(kind) == group


def test_the_review_chips_are_the_groups_in_order() -> None:
    assert GROUPS == (
        "messages",
        "status",
        "agencies",
        "alerts",
        "operations",
        "sitreps",
        "edits",
        "other",
    )
    assert kinds_of(["edits", "messages"]) == [
        "attachment.added",
        "attachment.withdrawn",
        "message.edited",
        "message.posted",
        "message.redacted",
    ]


# --- parsing ---------------------------------------------------------------------------

NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"groups": "messages,gossip"}, "group"),
        ({"groups": ["status", "Messages"]}, "group"),
        ({"start": datetime(2026, 3, 2, 12, 0)}, "from"),
        ({"end": datetime(2026, 3, 2, 12, 0)}, "to"),
        ({"start": NOON, "end": NOON}, "to"),
        ({"start": NOON, "end": NOON - timedelta(seconds=1)}, "to"),
        ({"start": datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-23)))}, "from"),
        ({"end": datetime(1, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=5)))}, "to"),
        ({"q": "x" * (MAX_Q + 1)}, "q"),
        ({"q": "passport\x00"}, "q"),
        ({"agency": "NA-\x00CUS"}, "agency"),
        ({"actor": "na-cus.duty\n"}, "actor"),
    ],
)
def test_a_refused_filter_names_its_query_parameter(raw: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        EventFilter.parse(**raw)  # type: ignore[arg-type]
    assert refused.value.code == "invalid_filter"
    assert refused.value.status == 422
    assert refused.value.detail.startswith(f"{field}: "), refused.value.detail


def test_parse_trims_and_leaves_out_what_is_blank() -> None:
    parsed = EventFilter.parse(
        groups=" messages, ,edits ", agency="  ", actor=" na-imm.duty ", q="  passport  "
    )
    assert parsed == EventFilter(
        groups=frozenset({"messages", "edits"}), actor="na-imm.duty", q="passport"
    )
    assert EventFilter.parse() == EventFilter()
    assert EventFilter.parse(groups=["alerts"]).groups == frozenset({"alerts"})
    assert EventFilter.parse(q="x" * MAX_Q).q == "x" * MAX_Q


def test_the_badge_counts_each_kind_of_filter_once() -> None:
    assert EventFilter().active == 0
    assert EventFilter.parse(groups="messages,edits").active == 1
    assert EventFilter.parse(start=NOON, end=NOON + timedelta(hours=1)).active == 1
    everything = EventFilter.parse(
        groups="messages",
        agency="NA-IMM",
        actor="na-imm.duty",
        end=NOON,
        q="passport",
        automatic=False,
    )
    assert everything.active == 6


def test_the_record_of_a_filter_leaves_out_what_is_not_set() -> None:
    assert EventFilter().as_record() == {}
    start = datetime(2026, 3, 2, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    assert EventFilter.parse(
        groups="status,messages",
        agency="NA-CUS",
        actor="na-cus.duty",
        start=start,
        end=NOON,
        q="vessel",
        automatic=False,
    ).as_record() == {
        "group": ["messages", "status"],
        "agency": "NA-CUS",
        "actor": "na-cus.duty",
        "from": "2026-03-02T10:00:00+02:00",
        "to": "2026-03-02T12:00:00+00:00",
        "q": "vessel",
        "automatic": False,
    }


# --- narrow, over a known record -----------------------------------------------------------


@pytest.fixture
def record(demo: None, monkeypatch: pytest.MonkeyPatch) -> Record:
    return build_record(monkeypatch)


def kept(record: Record, event_filter: EventFilter) -> list[int]:
    qs = event_filter.narrow(Event.objects.filter(stream__name=record.stream))
    return sorted(qs.values_list("seq", flat=True))


CASES: list[tuple[str, dict[str, object], list[int]]] = [
    ("nothing", {}, list(SEQS)),
    ("messages", {"groups": "messages"}, [3, 4, 10]),
    ("edits", {"groups": "edits"}, [5, 6]),
    ("status", {"groups": "status"}, [1, 9]),
    ("agencies", {"groups": "agencies"}, [2]),
    ("sitreps", {"groups": "sitreps"}, [7, 8]),
    ("alerts", {"groups": "alerts"}, []),
    ("two groups", {"groups": "messages,status"}, [1, 3, 4, 9, 10]),
    ("agency", {"agency": "NA-CUS"}, [3]),
    ("agency, not participating", {"agency": "NA-POL"}, []),
    ("agency, no such code", {"agency": "XX-NONE"}, []),
    ("actor", {"actor": "na-imm.coord"}, [2, 6, 7, 9]),
    ("actor, no such officer", {"actor": "nobody.here"}, []),
    ("from (inclusive)", {"start": at(8)}, [8, 9, 10]),
    ("to (exclusive)", {"end": at(3)}, [1, 2]),
    ("from and to", {"start": at(3), "end": at(6)}, [3, 4, 5]),
    ("from, in another zone", {"start": at(9).astimezone(timezone(timedelta(hours=5)))}, [9, 10]),
    ("no automatic entries", {"automatic": False}, [1, 2, 3, 4, 5, 6, 7, 9, 10]),
    ("text in a message", {"q": "ocean star"}, [3]),
    ("text in a title", {"q": "ALTERED"}, [1]),
    ("text in a situation report and a message", {"q": "vessel"}, [3, 7]),
    ("text in a redaction's reason", {"q": "minor"}, [6]),
    ("text of a redacted message, never", {"q": "AB123456"}, []),
    ("text of a redacted message's edit, never", {"q": "desk 4"}, []),
    ("text in a message and a title, not the redacted one", {"q": "passport"}, [1, 10]),
    (
        "group and agency",
        {"groups": "messages,edits", "agency": "NA-IMM"},
        [4, 5, 6, 10],
    ),
    (
        "group, actor and time",
        {"groups": "messages,edits", "actor": "na-imm.duty", "start": at(5), "end": at(11)},
        [5, 10],
    ),
    (
        "everything at once",
        {
            "groups": "messages,edits,status",
            "agency": "NA-IMM",
            "actor": "na-imm.duty",
            "start": at(1),
            "end": at(10) + timedelta(seconds=1),
            "q": "passport",
            "automatic": False,
        },
        [1, 10],
    ),
    ("filters that exclude each other", {"agency": "NA-CUS", "actor": "na-imm.duty"}, []),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("label", "raw", "seqs"), CASES, ids=[c[0] for c in CASES])
def test_narrow_keeps_exactly_the_matching_events(
    record: Record, label: str, raw: dict[str, object], seqs: list[int]
) -> None:
    assert kept(record, EventFilter.parse(**raw)) == seqs, label  # type: ignore[arg-type]


@pytest.mark.django_db
def test_a_redacted_message_never_matches_any_of_its_words(record: Record) -> None:
    for word in ("Passport AB123456", "seized", "desk", "AB1"):
        seqs = kept(record, EventFilter.parse(q=word))
        assert not {4, 5} & set(seqs), word
    # The same words before the redaction was recorded would have matched: the filter,
    # not the text, is what keeps them out.
    assert (
        Event.objects.filter(
            stream__name=record.stream, seq__in=[4, 5], payload__body__icontains="seized"
        ).count()
        == 2
    )
