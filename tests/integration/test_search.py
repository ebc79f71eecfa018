"""`GET /api/v1/search`: text over messages (current, never redacted) and incident
titles and descriptions, over exactly the incidents the caller may read; keyset
paging with no gap and no duplicate; 422s naming the field.

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
from django.utils import timezone

from hub.events.models import Event
from hub.incidents import services
from hub.incidents.models import Message
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
    assert snippet("two\nlines", "o\nl") == ("two\nlines", (2, 5))
