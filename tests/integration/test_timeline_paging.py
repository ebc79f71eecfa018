"""The timeline's keyset pages over REST: forward (`after`) and backward (`before`).

One incident stream of 250 events (the report, then 249 messages) is paged in
both directions; every page is checked for order, bounds and cursors, and the
walk as a whole for visiting every event exactly once.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from hub.agencies.models import Agency
from hub.agencies.selectors import access_for
from hub.events.pipeline import emit
from hub.events.selectors import events_before, stream_page_for
from hub.events.types import MessagePosted
from tests.factories import Api, officer, report

pytestmark = pytest.mark.usefixtures("demo")

EVENTS = 250
URL = "/api/v1/streams/{stream}/events"


@pytest.fixture
def stream() -> str:
    """An incident stream with EVENTS events: seq 1 incident.reported, then messages.

    The messages go straight onto the record (paging reads the record; posting
    them through the service would only make the test slower).
    """
    incident = report()
    actor = officer("na-imm.duty")
    agency = Agency.objects.get(code="NA-IMM")
    with transaction.atomic():
        for seq in range(2, EVENTS + 1):
            emit(
                stream=incident.stream_name,
                payload=MessagePosted(message_id=seq, body=f"message {seq}"),
                actor=actor,
                agency=agency,
            )
    return incident.stream_name


def page(api: Api, stream: str, **params: Any) -> dict[str, Any]:
    response = api.get(URL.format(stream=stream), params)
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    seqs = [e["seq"] for e in body["events"]]
    assert seqs == sorted(seqs), "a page is in ascending seq order"
    assert len(seqs) == len(set(seqs))
    return body


def seqs_of(body: dict[str, Any]) -> list[int]:
    return [e["seq"] for e in body["events"]]


def test_paging_backward_visits_every_event_once_in_order(stream: str) -> None:
    api = Api("na-imm.duty")
    pages: list[list[int]] = []
    before: int | None = EVENTS + 1
    while before is not None:
        body = page(api, stream, before=before, limit=100)
        assert body["head"] == EVENTS
        assert all(seq < before for seq in seqs_of(body))
        pages.append(seqs_of(body))
        before = body["prev_before"]
        assert len(pages) <= 3, "the walk must end"
    assert [len(p) for p in pages] == [100, 100, 50]
    assert pages[0] == list(range(151, 251))
    visited = [seq for p in reversed(pages) for seq in p]
    assert visited == list(range(1, EVENTS + 1))


def test_backward_cursors(stream: str) -> None:
    api = Api("na-imm.duty")
    newest = page(api, stream, before=EVENTS + 1, limit=100)
    assert newest["prev_before"] == 151
    assert newest["next_after"] is None, "the newest page is caught up"
    # Any bound beyond the head opens the timeline at its newest events.
    assert seqs_of(page(api, stream, before=10**12, limit=100)) == seqs_of(newest)

    middle = page(api, stream, before=151, limit=100)
    assert (seqs_of(middle)[0], seqs_of(middle)[-1]) == (51, 150)
    assert middle["prev_before"] == 51
    assert middle["next_after"] == 150
    newer = page(api, stream, after=middle["next_after"], limit=100)
    assert seqs_of(newer) == list(range(151, 251))

    oldest = page(api, stream, before=51, limit=100)
    assert seqs_of(oldest) == list(range(1, 51))
    assert oldest["prev_before"] is None, "the page reaches seq 1"

    exactly = page(api, stream, before=101, limit=100)
    assert seqs_of(exactly) == list(range(1, 101))
    assert exactly["prev_before"] is None, "no empty page after one that reaches seq 1"

    assert page(api, stream, before=1)["events"] == []
    assert page(api, stream, before=1)["prev_before"] is None


def test_after_and_before_together_bound_the_page_on_both_sides(stream: str) -> None:
    api = Api("na-imm.duty")
    body = page(api, stream, after=10, before=30, limit=5)
    assert seqs_of(body) == [25, 26, 27, 28, 29]
    assert body["prev_before"] == 25
    assert body["next_after"] == 29

    walked: list[int] = []
    before: int | None = 30
    while before is not None:
        body = page(api, stream, after=10, before=before, limit=5)
        assert all(10 < seq < 30 for seq in seqs_of(body))
        walked = seqs_of(body) + walked
        before = body["prev_before"]
        assert len(walked) <= 19
    assert walked == list(range(11, 30)), "the walk stops at `after`, not at seq 1"

    assert seqs_of(page(api, stream, after=10, before=16, limit=5)) == [11, 12, 13, 14, 15]
    assert page(api, stream, after=10, before=16, limit=5)["prev_before"] is None
    assert page(api, stream, after=10, before=11)["events"] == []
    assert page(api, stream, after=10, before=5)["events"] == []


def test_kind_prefix_applies_to_backward_pages(stream: str) -> None:
    api = Api("na-imm.duty")
    reported = page(api, stream, before=EVENTS + 1, kind="incident.")
    assert seqs_of(reported) == [1]
    assert reported["prev_before"] is None

    pages: list[list[int]] = []
    before: int | None = EVENTS + 1
    while before is not None:
        body = page(api, stream, before=before, limit=100, kind="message.")
        assert {e["kind"] for e in body["events"]} == {"message.posted"}
        pages.append(seqs_of(body))
        before = body["prev_before"]
        assert len(pages) <= 3
    # 249 messages (seq 2..250); the last page knows nothing older matches.
    assert [len(p) for p in pages] == [100, 100, 49]
    assert [seq for p in reversed(pages) for seq in p] == list(range(2, EVENTS + 1))


def test_forward_paging_is_unchanged_and_offers_the_way_back(stream: str) -> None:
    api = Api("na-imm.duty")
    first = page(api, stream, limit=100)
    assert seqs_of(first) == list(range(1, 101))
    assert first["next_after"] == 100
    assert first["prev_before"] is None, "after=0: the page starts at seq 1"
    second = page(api, stream, after=100, limit=100)
    assert seqs_of(second) == list(range(101, 201))
    assert second["next_after"] == 200
    assert second["prev_before"] == 101
    last = page(api, stream, after=200, limit=100)
    assert seqs_of(last) == list(range(201, 251))
    assert last["next_after"] is None
    back = page(api, stream, before=last["prev_before"], limit=100)
    assert seqs_of(back) == list(range(101, 201))
    caught_up = page(api, stream, after=EVENTS + 5)
    assert caught_up["events"] == []
    assert caught_up["prev_before"] == EVENTS + 1


def test_selectors_read_the_same_pages(stream: str) -> None:
    newest = events_before(stream, before=EVENTS + 1, limit=3)
    assert [e.seq for e in newest] == [248, 249, 250]
    assert [e.seq for e in events_before(stream, before=5, limit=10, after=2)] == [3, 4]
    read = stream_page_for(access_for(officer("na-imm.duty")), stream, before=4, limit=2)
    assert [e.seq for e in read.events] == [2, 3]
    assert [env.seq for env in read.envelopes] == [2, 3]
    assert (read.head, read.prev_before, read.next_after) == (EVENTS, 2, 3)


def test_a_stream_without_events_pages_empty() -> None:
    body = page(Api("na-imm.duty"), "crossing:WDH", before=1)
    assert body == {
        "stream": "crossing:WDH",
        "head": 0,
        "events": [],
        "next_after": None,
        "prev_before": None,
        "matched": None,
    }


def test_a_non_reader_gets_404_reading_backward() -> None:
    incident = report(username="na-imm.duty")
    url = URL.format(stream=incident.stream_name)
    assert Api("na-imm.duty").get(url, {"before": 2}).status_code == 200
    for username in ("na-cus.duty", "za-dha.duty"):
        response = Api(username).get(url, {"before": 2})
        assert response.status_code == 404, username
        assert response.json() == {"code": "not_found", "detail": "No such stream."}
    anonymous = Api().get(url, {"before": 2})
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "unauthenticated"


@pytest.mark.parametrize(
    "params",
    [
        {"before": 0},
        {"before": -1},
        {"before": "abc"},
        {"before": ""},
        {"before": 1.5},
        {"before": 5, "after": -1},
        {"before": 5, "limit": 0},
        {"before": 5, "limit": 2001},
    ],
)
def test_bad_bounds_are_422(params: dict[str, Any]) -> None:
    incident = report()
    response = Api("na-imm.duty").get(URL.format(stream=incident.stream_name), params)
    assert response.status_code == 422, params
    body = response.json()
    assert body["code"] == "invalid_request"
    assert isinstance(body["detail"], str)
    assert body["detail"]


def test_the_openapi_documents_before_and_prev_before() -> None:
    schema = Api().get("/api/v1/openapi.json").json()
    op = schema["paths"]["/api/v1/streams/{stream}/events"]["get"]
    params = {p["name"]: p for p in op["parameters"]}
    assert {"after", "before", "limit", "kind"} <= set(params)
    before = params["before"]
    assert before["required"] is False
    assert "seq less than" in before["description"]
    assert "ascending" in before["description"]
    page_schema = schema["components"]["schemas"]["EventPage"]
    assert {"next_after", "prev_before"} <= set(page_schema["required"])
    assert "`before`" in page_schema["properties"]["prev_before"]["description"]
