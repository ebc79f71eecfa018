"""`GET /api/v1/search`: full text over messages (current, never redacted),
incident titles and descriptions and alert titles and bodies, over exactly the
incidents and alerts the caller may read; keyset paging with no gap and no
duplicate; 422s naming the field; hostile queries are words, never a 500.

Every test runs on both databases (PostgreSQL full-text search in the PostgreSQL
pass, SQLite FTS5 in the embedded one): the semantics are the same
(``hub.incidents.fulltext``).

Two incidents mention the same passport number: one at WDH (Hosea Kutako
airport), one at WVB (Walvis Bay). ``na-imm.senior`` serves both points;
``na-air.senior`` serves WDH only and ``na-cgd.senior`` WVB only; ZA officers
neither.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from hub.alerts import services as alert_services
from hub.alerts.models import Alert
from hub.events.models import Event
from hub.incidents import services
from hub.incidents.fulltext import fts5_query, matches, terms, tsquery
from hub.incidents.models import Incident, Message
from hub.incidents.search import SNIPPET_CHARS, snippet
from tests.factories import Api, officer, post, report

pytestmark = pytest.mark.usefixtures("demo")

PASSPORT = "P7731904"
URL = "/api/v1/search"


def search(username: str, q: str, **params: Any) -> dict[str, Any]:
    response = Api(username).get(URL, {"q": q, **params})
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def hits(username: str, q: str, **params: Any) -> list[tuple[str, str]]:
    return [(i["incident"], i["kind"]) for i in search(username, q, **params)["items"]]


def two_incidents() -> tuple[str, str]:
    """The passport number in a message at WDH and in a description at WVB."""
    wdh = report("na-imm.duty", "WDH", title="Altered passport at arrivals").ref
    post("na-imm.duty", wdh, f"Holder of passport {PASSPORT.lower()} refused entry.")
    wvb = report(
        "na-imm.duty",
        "WVB",
        title="Crew member with a forged passport",
        description=f"Seaman's book and passport {PASSPORT} do not match the crew list.",
    ).ref
    return wdh, wvb


def test_a_senior_official_of_both_points_finds_both_incidents() -> None:
    wdh, wvb = two_incidents()
    body = search("na-imm.senior", PASSPORT)
    assert [(i["incident"], i["kind"], i["crossing_point"]) for i in body["items"]] == [
        (wvb, "incident", "WVB"),
        (wdh, "message", "WDH"),
    ]
    assert body["next_cursor"] is None
    for item in body["items"]:
        start, end = item["match"]
        assert item["snippet"][start:end].lower() == PASSPORT.lower()
        assert item["timezone"] == "Africa/Windhoek"
    wvb_hit, wdh_hit = body["items"]
    assert wvb_hit["incident_title"] == "Crew member with a forged passport"
    assert wvb_hit["seq"] == 1
    assert wvb_hit["actor"] == {"name": officer("na-imm.duty").display_name, "agency": "NA-IMM"}
    posted = Event.objects.get(stream__name=f"incident:{wdh}", kind="message.posted")
    assert wdh_hit["seq"] == posted.seq
    message = Message.objects.get(incident__ref=wdh)
    assert (message.seq, message.created_at.isoformat()) == (posted.seq, wdh_hit["at"])
    assert wdh_hit["actor"]["agency"] == "NA-IMM"
    # One crossing point only.
    assert hits("na-imm.senior", PASSPORT, crossing_point="WDH") == [(wdh, "message")]


@pytest.mark.parametrize(
    ("username", "expected"),
    [
        ("na-air.senior", {"WDH"}),
        ("na-cgd.senior", {"WVB"}),
        ("na-pol.duty", set()),  # serves both points, participates in neither
        ("za-imm.senior", set()),
        ("na-imm.admin", set()),
    ],
)
def test_no_match_from_an_incident_the_caller_may_not_read(
    username: str, expected: set[str], caplog: pytest.LogCaptureFixture
) -> None:
    wdh, wvb = two_incidents()
    with caplog.at_level(logging.DEBUG):
        found = hits(username, PASSPORT)
    assert {{wdh: "WDH", wvb: "WVB"}[ref] for ref, _ in found} == expected
    # Searching logs nothing (no denials either: unreadable incidents are just absent).
    assert [r for r in caplog.records if r.name.startswith("hub")] == []


def test_a_redacted_message_never_matches_even_for_its_author() -> None:
    ref = report("na-imm.duty", "WDH").ref
    message = post("na-imm.duty", ref, f"Passport {PASSPORT} seen twice this week.").message
    assert hits("na-imm.duty", PASSPORT) == [(ref, "message")]
    services.message_redact(
        actor=officer("na-imm.duty"), ref=ref, message_id=message.pk, reason="Wrong incident."
    )
    for username in ("na-imm.duty", "na-imm.senior", "na-imm.coord"):
        assert hits(username, PASSPORT) == []


def test_an_edited_message_matches_its_current_text_only() -> None:
    ref = report("na-imm.duty", "WDH").ref
    message = post("na-imm.duty", ref, "Vessel MV Oldname alongside berth 2.").message
    services.message_edit(
        actor=officer("na-imm.duty"),
        ref=ref,
        message_id=message.pk,
        body="Vessel MV Newname alongside berth 2.",
        client_msg_id=uuid.uuid4(),
    )
    assert hits("na-imm.senior", "oldname") == []
    body = search("na-imm.senior", "NEWNAME")
    assert [(i["incident"], i["kind"]) for i in body["items"]] == [(ref, "message")]
    assert body["items"][0]["snippet"] == "Vessel MV Newname alongside berth 2."
    assert body["items"][0]["match"] == [10, 17]


def test_paging_has_no_gap_and_no_duplicate(monkeypatch: pytest.MonkeyPatch) -> None:
    """Messages and incidents, several at the very same instant (ties by kind, then id)."""
    t0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    clock = [t0]
    monkeypatch.setattr(timezone, "now", lambda: clock[0])
    refs = []
    for i in range(3):
        clock[0] = t0 + timedelta(minutes=i // 2)  # pairs share an instant
        ref = report("na-imm.duty", "WDH", title=f"Contraband tobacco, load {i}").ref
        refs.append(ref)
        for j in range(3):
            post("na-imm.duty", ref, f"Tobacco count {i}.{j} done.")
    every = search("na-imm.senior", "tobacco", limit=50)
    assert every["next_cursor"] is None
    expected = [(i["incident"], i["kind"], i["seq"]) for i in every["items"]]
    assert len(expected) == 3 + 9
    assert len(set(expected)) == len(expected)
    ats = [i["at"] for i in every["items"]]
    assert ats == sorted(ats, reverse=True)

    for size in (1, 2, 5):
        seen: list[tuple[str, str, int]] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": size}
            if cursor:
                params["before"] = cursor
            body = search("na-imm.senior", "tobacco", **params)
            assert len(body["items"]) <= size
            seen += [(i["incident"], i["kind"], i["seq"]) for i in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert seen == expected, size


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "q"),
        ({"q": "a"}, "q"),
        ({"q": "  a  "}, "q"),
        ({"q": "x" * 201}, "q"),
        ({"q": "ab\x00"}, "q"),
        ({"q": "passport", "limit": "51"}, "limit"),
        ({"q": "passport", "limit": "0"}, "limit"),
        ({"q": "passport", "before": "not-a-cursor"}, "before"),
        ({"q": "passport", "before": "MjAyNnwzfDQ"}, "before"),
    ],
    ids=["missing", "one char", "one char padded", "too long", "NUL", "limit 51", "limit 0",
         "cursor garbage", "cursor not ours"],
)  # fmt: skip
def test_bad_input_is_a_422_naming_the_field(params: dict[str, str], field: str) -> None:
    response = Api("na-imm.senior").get(URL, params)
    assert response.status_code == 422, response.content
    body = response.json()
    named = {e["loc"][-1] for e in body.get("errors", [])}
    assert field in named or body["detail"].startswith(f"query.{field}:"), body


def test_signed_out_is_a_401() -> None:
    assert Api().get(URL, {"q": "passport"}).status_code == 401


def test_snippet_is_centred_on_the_first_match() -> None:
    text = "a" * 300 + " PASSPORT " + "b" * 300 + " passport"
    cut, (start, end) = snippet(text, "passport")
    assert len(cut) == SNIPPET_CHARS
    assert cut[start:end] == "PASSPORT"
    assert abs(start - (SNIPPET_CHARS - end)) <= 1
    assert snippet("Passport at the start", "pass") == ("Passport at the start", (0, 4))
    assert snippet("x" * 200 + "tail", "TAIL")[1] == (SNIPPET_CHARS - 4, SNIPPET_CHARS)
    # The first occurrence of any of the query's words, preferably where a word starts.
    assert snippet("Vessel MV Newname, newname", "newn mv") == (
        "Vessel MV Newname, newname",
        (7, 9),
    )
    assert snippet("Kennedy and Ned", "ned")[1] == (12, 15)
    assert snippet("two\nlines", "o\nl")[1] == (4, 5)
    assert snippet("no such words", "zz")[1] == (0, 0)


# --- full text: words, prefixes, every word, numbers, scripts ------------------------


def test_words_match_by_prefix_ignoring_case_and_all_must_match() -> None:
    wdh, wvb = two_incidents()
    assert hits("na-imm.senior", "p773") == [(wvb, "incident"), (wdh, "message")]
    assert hits("na-imm.senior", "passport P7731904") == [(wvb, "incident"), (wdh, "message")]
    assert hits("na-imm.senior", "refused p7731904") == [(wdh, "message")]
    assert hits("na-imm.senior", "crew P7731904") == [(wvb, "incident")]
    assert hits("na-imm.senior", "P7731904 nowhere") == []
    # A word matches where a word starts, not inside one.
    assert hits("na-imm.senior", "7731904") == []


def test_a_phone_number_is_found_as_written() -> None:
    ref = report("na-imm.duty", "WVB", title="Skiff sighted off Pelican Point").ref
    post("na-imm.duty", ref, "Skipper's phone: +264 81 555-0199 (satellite).")
    for q in ("+264 81 555-0199", "555 0199", "264 81 555 0199", "81 555", "555-0199"):
        assert hits("na-imm.senior", q) == [(ref, "message")], q
    assert hits("na-imm.senior", "0815550199") == []


def test_urdu_words_match_as_written() -> None:
    ref = report("na-imm.duty", "WDH").ref
    post("na-imm.duty", ref, "مسافر کے پاس جعلی پاسپورٹ ملا۔ P7731904")
    assert hits("na-imm.senior", "پاسپورٹ") == [(ref, "message")]
    assert hits("na-imm.senior", "جعلی پاسپورٹ") == [(ref, "message")]
    assert hits("na-imm.senior", "ملا") == [(ref, "message")]  # before the Urdu full stop
    assert hits("na-imm.senior", "ویزا") == []
    body = search("na-imm.senior", "پاسپورٹ")
    start, end = body["items"][0]["match"]
    assert body["items"][0]["snippet"][start:end] == "پاسپورٹ"


HOSTILE = [
    '" "',
    '""',
    f'"{PASSPORT}',
    f'"{PASSPORT}"',
    f"{PASSPORT}*",
    "***",
    "a:b",
    f"body:{PASSPORT}",
    "x:*",
    "&|!()",
    "foo & bar | !baz",
    "((passport",
    "NEAR(passport refused)",
    "passport NEAR refused",
    "AND OR NOT",
    "passport AND",
    "-passport",
    "^passport",
    "{passport refused}",
    "'; DROP TABLE incidents_message; --",
    "a'b''c",
    "back\\slash\\",
    "%_%",
    "پاسپورٹ",
    "مسافر ' \" : * ( )",
    "🙂🙂",
    "\u200f\u200e",
    "x" * 200,
]


@pytest.mark.parametrize("q", HOSTILE)
def test_hostile_queries_are_words_never_errors(q: str) -> None:
    two_incidents()
    body = search("na-imm.senior", q)
    assert isinstance(body["items"], list)


def test_query_operators_are_only_separators() -> None:
    wdh, wvb = two_incidents()
    both = [(wvb, "incident"), (wdh, "message")]
    for q in (f'"{PASSPORT}"', f"{PASSPORT}*", f"({PASSPORT})", f"!{PASSPORT}", f"-{PASSPORT}"):
        assert hits("na-imm.senior", q) == both, q
    # "OR" is a word to find, not an operator.
    assert hits("na-imm.senior", f"{PASSPORT} OR nothing") == []
    assert terms('a"b c*:d & NEAR(e)') == ["a", "b", "c", "d", "NEAR", "e"]
    assert tsquery(["it's", "x"]) == "'it''s':* & 'x':*"
    assert fts5_query(['a"b', "c"]) == '"a""b"* "c"*'


# --- redaction and edits ----------------------------------------------------------


def test_a_message_redacted_after_edits_matches_neither_version() -> None:
    ref = report("na-imm.duty", "WDH").ref
    message = post("na-imm.duty", ref, "Vessel MV Firstname at anchor.").message
    for name in ("Secondname", "Thirdname"):
        services.message_edit(
            actor=officer("na-imm.duty"),
            ref=ref,
            message_id=message.pk,
            body=f"Vessel MV {name} at anchor, passport {PASSPORT}.",
            client_msg_id=uuid.uuid4(),
        )
    assert hits("na-imm.senior", "firstname") == []
    assert hits("na-imm.senior", "secondname") == []
    assert hits("na-imm.senior", "thirdname") == [(ref, "message")]
    services.message_redact(
        actor=officer("na-imm.duty"), ref=ref, message_id=message.pk, reason="Wrong vessel."
    )
    for q in ("firstname", "secondname", "thirdname", PASSPORT, "vessel anchor"):
        for username in ("na-imm.duty", "na-imm.senior"):
            assert hits(username, q) == [], (q, username)


def test_an_edited_incident_matches_its_current_title_only() -> None:
    ref = report("na-imm.duty", "WDH", title="Dhow Oldname intercepted").ref
    Api("na-imm.duty").patch(f"/api/v1/incidents/{ref}", {"title": "Dhow Newname intercepted"})
    assert hits("na-imm.senior", "oldname") == []
    assert hits("na-imm.senior", "newname") == [(ref, "incident")]


# --- alerts ------------------------------------------------------------------------


def issue_alert(
    username: str, point: str, title: str, body: str = "", incident: str | None = None
) -> Alert:
    return alert_services.alert_issue(
        actor=officer(username),
        crossing_point=point,
        category="document_fraud",
        severity="high",
        title=title,
        body=body,
        incident=incident,
    ).alert


def test_alert_titles_and_bodies_are_found_by_their_readers() -> None:
    wdh, wvb = two_incidents()
    linked = issue_alert(
        "na-imm.duty", "WDH", "Forged passports in circulation", f"Watch for {PASSPORT}.", wdh
    )
    free = issue_alert("na-cgd.duty", "WVB", f"Crew member {PASSPORT} may disembark")
    body = search("na-imm.senior", PASSPORT)
    assert [(i["kind"], i["alert_id"], i["incident"]) for i in body["items"]] == [
        ("alert", free.pk, None),
        ("alert", linked.pk, wdh),
        ("incident", None, wvb),
        ("message", None, wdh),
    ]
    free_hit, linked_hit = body["items"][:2]
    assert free_hit["alert_title"] == f"Crew member {PASSPORT} may disembark"
    assert (free_hit["crossing_point"], free_hit["seq"], free_hit["incident_title"]) == (
        "WVB",
        None,
        None,
    )
    assert free_hit["actor"]["agency"] == "NA-CGD"
    start, end = free_hit["match"]
    assert free_hit["snippet"][start:end] == PASSPORT
    assert linked_hit["snippet"] == f"Watch for {PASSPORT}."  # the body matched, not the title
    assert hits("na-imm.senior", "circulation forged") == [(wdh, "alert")]
    assert hits("na-imm.senior", PASSPORT, crossing_point="WVB") == [
        (None, "alert"),
        (wvb, "incident"),
    ]


@pytest.mark.parametrize(
    ("username", "expected"),
    [
        ("na-air.duty", {"WDH"}),  # serves WDH: reads its board, not only targeted alerts
        ("na-cgd.senior", {"WVB"}),
        ("na-pol.duty", {"WDH", "WVB"}),  # reads both boards, though no incident
        ("za-imm.senior", set()),
        ("na-imm.admin", set()),  # administrators read no alerts
    ],
)
def test_no_alert_match_the_caller_may_not_read(username: str, expected: set[str]) -> None:
    issue_alert("na-imm.duty", "WDH", f"Passport {PASSPORT} reported stolen")
    issue_alert("na-imm.duty", "WVB", f"Passport {PASSPORT} reported stolen")
    found = search(username, PASSPORT)["items"]
    assert {i["crossing_point"] for i in found if i["kind"] == "alert"} == expected


def test_an_updated_alert_matches_its_current_text_only() -> None:
    alert = issue_alert("na-imm.duty", "WVB", "Vessel MV Oldname expected", "Berth 4.")
    alert_services.alert_update(
        actor=officer("na-imm.duty"),
        alert_id=alert.pk,
        changes={"title": "Vessel MV Newname expected"},
    )
    assert hits("na-imm.senior", "oldname") == []
    assert [i["alert_id"] for i in search("na-imm.senior", "newname")["items"]] == [alert.pk]


def test_paging_across_the_three_kinds_has_no_gap_and_no_duplicate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    t0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    clock = [t0]
    monkeypatch.setattr(timezone, "now", lambda: clock[0])
    for i in range(4):
        clock[0] = t0 + timedelta(minutes=i // 2)  # pairs share an instant
        ref = report("na-imm.duty", "WDH", title=f"Khat seizure {i}").ref
        post("na-imm.duty", ref, f"Khat weighed, load {i}.")
        issue_alert("na-imm.duty", "WDH", f"Khat courier {i}", incident=ref if i % 2 else None)
    every = search("na-imm.senior", "khat", limit=50)
    expected = [(i["kind"], i["incident"], i["alert_id"], i["seq"]) for i in every["items"]]
    assert len(expected) == len(set(expected)) == 12
    assert [i["kind"] for i in every["items"][:3]] == ["alert", "alert", "message"]
    for size in (1, 2, 3, 5):
        seen: list[tuple[str, str | None, int | None, int | None]] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": size}
            if cursor:
                params["before"] = cursor
            body = search("na-imm.senior", "khat", **params)
            seen += [(i["kind"], i["incident"], i["alert_id"], i["seq"]) for i in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert seen == expected, size


# --- the indexes behind it --------------------------------------------------------


def test_the_search_indexes_exist_and_are_used() -> None:
    """PostgreSQL: GIN indexes the search's own queries use; SQLite: FTS5 tables kept
    in step by triggers (a migration that rebuilds a table on SQLite drops them)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT indexname FROM pg_indexes WHERE indexname LIKE 'search_%%_gin'")
            assert {r[0] for r in cursor.fetchall()} == {
                "search_message_gin",
                "search_incident_gin",
                "search_alert_gin",
            }
            # Only the plan's access path is in question: with sequential and plain
            # index scans off (GIN has only bitmap scans) and no ORDER BY (the models'
            # default ordering walks another index), a text match must come through
            # its GIN index, whatever the statistics of a small test table say.
            cursor.execute("SET enable_seqscan = off")
            cursor.execute("SET enable_indexscan = off")
            try:
                plans = {
                    "search_message_gin": Message.objects.filter(redacted_at__isnull=True)
                    .filter(matches("message", PASSPORT))
                    .order_by()
                    .explain(),
                    "search_incident_gin": Incident.objects.filter(matches("incident", PASSPORT))
                    .order_by()
                    .explain(),
                    "search_alert_gin": Alert.objects.filter(matches("alert", PASSPORT))
                    .order_by()
                    .explain(),
                }
            finally:
                cursor.execute("RESET enable_seqscan")
                cursor.execute("RESET enable_indexscan")
        for index, plan in plans.items():
            assert index in plan, plan
    else:
        assert connection.vendor == "sqlite"
        with connection.cursor() as cursor:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            triggers = {r[0] for r in cursor.fetchall()}
        for table in ("message", "incident", "alert"):
            for event in ("insert", "update", "delete"):
                assert f"search_{table}_fts_{event}" in triggers
