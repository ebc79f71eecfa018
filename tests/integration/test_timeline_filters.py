"""The timeline endpoint's filters over REST (`GET /api/v1/streams/{stream}/events`).

- each filter alone and combined, over a known record (tests/timeline_record.py);
- keyset pages over the filtered rows, forward and backward, with no gap and no
  duplicate while new events are appended between pages;
- `matched` only with `count=true` (and then the number of events up to the head
  that pass), never otherwise;
- refusals are 422s that name the field, and the stream's read rule is unchanged.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from hub.events.models import Event
from hub.events.selectors import stream_head
from hub.incidents import services
from hub.incidents.models import Incident
from tests.factories import Api, officer, post, report
from tests.timeline_record import SEQS, Record, at, build_record

pytestmark = pytest.mark.usefixtures("demo")

URL = "/api/v1/streams/{stream}/events"


@pytest.fixture
def record(monkeypatch: pytest.MonkeyPatch) -> Record:
    return build_record(monkeypatch)


def read(api: Api, stream: str, **params: Any) -> dict[str, Any]:
    response = api.get(URL.format(stream=stream), params)
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    seqs = seqs_of(body)
    assert seqs == sorted(set(seqs)), "a page is in ascending seq order, without repeats"
    return body


def seqs_of(body: dict[str, Any]) -> list[int]:
    return [e["seq"] for e in body["events"]]


# --- each filter alone and combined ----------------------------------------------------

CASES: list[tuple[str, dict[str, Any], list[int]]] = [
    ("no filter", {}, list(SEQS)),
    ("group", {"group": "messages"}, [3, 4, 10]),
    ("groups", {"group": "sitreps,agencies"}, [2, 7, 8]),
    ("agency", {"agency": "NA-CUS"}, [3]),
    ("actor", {"actor": "na-imm.coord"}, [2, 6, 7, 9]),
    ("from", {"from": at(8).isoformat()}, [8, 9, 10]),
    ("to", {"to": at(3).isoformat()}, [1, 2]),
    (
        "from and to, with Z",
        {"from": "2026-03-02T08:02:00Z", "to": "2026-03-02T08:05:00Z"},
        [3, 4, 5],
    ),
    ("from, in Windhoek's zone", {"from": "2026-03-02T10:08:00+02:00"}, [9, 10]),
    ("q", {"q": "vessel"}, [3, 7]),
    ("q on a redacted message", {"q": "AB123456"}, []),
    ("not automatic", {"automatic": "false"}, [1, 2, 3, 4, 5, 6, 7, 9, 10]),
    ("automatic", {"automatic": "true"}, list(SEQS)),
    ("kind prefix", {"kind": "message."}, [3, 4, 5, 6, 10]),
    ("kind prefix and group", {"kind": "message.", "group": "edits"}, [5, 6]),
    ("group and agency", {"group": "messages,edits", "agency": "NA-IMM"}, [4, 5, 6, 10]),
    (
        "all at once",
        {
            "group": "messages,edits,status",
            "agency": "NA-IMM",
            "actor": "na-imm.duty",
            "from": at(1).isoformat(),
            "to": (at(10) + timedelta(seconds=1)).isoformat(),
            "q": "passport",
            "automatic": "false",
        },
        [1, 10],
    ),
    ("nothing passes", {"agency": "NA-CUS", "group": "status"}, []),
]


@pytest.mark.parametrize(("label", "params", "seqs"), CASES, ids=[c[0] for c in CASES])
def test_each_filter_alone_and_combined(
    record: Record, label: str, params: dict[str, Any], seqs: list[int]
) -> None:
    api = Api("na-imm.senior")
    forward = read(api, record.stream, **params, count="true")
    assert seqs_of(forward) == seqs, label
    assert forward["matched"] == len(seqs)
    assert forward["head"] == len(SEQS), "the head counts every event, filtered or not"
    backward = read(api, record.stream, **params, before=forward["head"] + 1)
    assert seqs_of(backward) == seqs, label
    assert backward["matched"] is None


def test_a_redacted_message_keeps_its_row_but_never_matches(record: Record) -> None:
    api = Api("na-imm.senior")
    rows = {e["seq"]: e for e in read(api, record.stream, group="messages")["events"]}
    assert rows[4]["payload"]["redacted"] is True
    assert rows[4]["payload"]["body"] == ""
    for text in ("AB123456", "seized", "desk 4"):
        assert seqs_of(read(api, record.stream, q=text)) == [], text


# --- keyset paging over the filtered rows ------------------------------------------------

MATCH = {"group": "messages", "agency": "NA-CUS"}


def customs_incident() -> Incident:
    incident = report()
    coordinator = officer("na-imm.coord")
    services.incident_invite_agency(actor=coordinator, ref=incident.ref, agency="NA-CUS")
    return incident


def grow(ref: str, n: int, start: int) -> None:
    """n more events: every third a customs message (matches MATCH), the rest not."""
    for i in range(start, start + n):
        if i % 3 == 0:
            post("na-cus.duty", ref, f"customs {i}")
        elif i % 3 == 1:
            post("na-imm.duty", ref, f"immigration {i}")
        else:
            services.incident_update(
                actor=officer("na-imm.coord"), ref=ref, changes={"people_count": i}
            )


def matching(stream: str, until: int) -> list[int]:
    return list(
        Event.objects.filter(
            stream__name=stream,
            seq__lte=until,
            kind="message.posted",
            actor_agency__code="NA-CUS",
        )
        .order_by("seq")
        .values_list("seq", flat=True)
    )


def test_walking_forward_misses_and_repeats_nothing_while_events_arrive() -> None:
    incident = report()
    services.incident_invite_agency(
        actor=officer("na-imm.coord"), ref=incident.ref, agency="NA-CUS"
    )
    grow(incident.ref, 30, 0)
    api = Api("na-imm.senior")
    walked: list[int] = []
    after = 0
    pages = 0
    while True:
        body = read(api, incident.stream_name, **MATCH, after=after, limit=4)
        assert all(seq > after for seq in seqs_of(body))
        walked += seqs_of(body)
        pages += 1
        grow(incident.ref, 5, 100 + 5 * pages)  # new events, some matching, between pages
        if body["next_after"] is None:
            last_head = body["head"]
            break
        after = body["next_after"]
        assert pages < 40, "the walk must end"
    assert pages > 3
    assert walked == matching(incident.stream_name, last_head)
    # Caught up: what arrived after the last page is read from its head, nothing twice.
    rest = read(api, incident.stream_name, **MATCH, after=last_head, limit=500)
    assert seqs_of(rest) == matching(incident.stream_name, rest["head"])[len(walked) :]
    assert rest["events"], "some of the events that arrived match"


def test_walking_backward_misses_and_repeats_nothing_while_events_arrive() -> None:
    incident = report()
    services.incident_invite_agency(
        actor=officer("na-imm.coord"), ref=incident.ref, agency="NA-CUS"
    )
    grow(incident.ref, 30, 0)
    api = Api("na-imm.senior")
    first = read(api, incident.stream_name, **MATCH, before=10**9, limit=3)
    opened_at = first["head"]
    assert first["next_after"] is None, "the newest page is caught up"
    assert first["prev_before"] == seqs_of(first)[0]
    walked = seqs_of(first)
    before = first["prev_before"]
    pages = 1
    while before is not None:
        grow(incident.ref, 5, 100 + 5 * pages)
        body = read(api, incident.stream_name, **MATCH, before=before, limit=3)
        assert all(seq < before for seq in seqs_of(body))
        assert body["next_after"] == before - 1, "the way forward again, from this page"
        walked = seqs_of(body) + walked
        before = body["prev_before"]
        pages += 1
        assert pages < 40, "the walk must end"
    assert pages > 3
    assert walked == matching(incident.stream_name, opened_at)
    # Newer than the first page: from its head, exactly the matching events that arrived.
    newer = read(api, incident.stream_name, **MATCH, after=opened_at, limit=500)
    assert walked + seqs_of(newer) == matching(incident.stream_name, newer["head"])


def test_a_page_in_the_middle_leads_both_ways_without_overlap() -> None:
    incident = report()
    services.incident_invite_agency(
        actor=officer("na-imm.coord"), ref=incident.ref, agency="NA-CUS"
    )
    grow(incident.ref, 45, 0)
    api = Api("na-imm.senior")
    everything = matching(incident.stream_name, stream_head(incident.stream_name))
    middle = read(api, incident.stream_name, **MATCH, after=everything[4], limit=3)
    assert seqs_of(middle) == everything[5:8]
    older = read(api, incident.stream_name, **MATCH, before=middle["prev_before"], limit=100)
    newer = read(api, incident.stream_name, **MATCH, after=middle["next_after"], limit=100)
    assert seqs_of(older) + seqs_of(middle) + seqs_of(newer) == everything


# --- matched ------------------------------------------------------------------------------


def test_matched_is_counted_only_when_asked(record: Record) -> None:
    api = Api("na-imm.senior")
    url = URL.format(stream=record.stream)
    for params in ({}, {"count": "false"}, {"group": "messages"}, {"before": 5}):
        with CaptureQueriesContext(connection) as queries:
            body = read(api, record.stream, **params)
        assert body["matched"] is None, params
        counted = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
        assert counted == [], f"{params}: a COUNT on the paging path: {counted}"
        assert not any("OFFSET" in q["sql"].upper() for q in queries), params
    counted_page = read(api, record.stream, group="messages", count="true", limit=1)
    assert seqs_of(counted_page) == [3]
    assert counted_page["matched"] == 3, "the whole stream's matches, not the page's"
    assert read(api, record.stream, group="messages", count="true", after=9)["matched"] == 3
    assert read(api, record.stream, count="true")["matched"] == len(SEQS)
    assert api.get(url, {"count": "1"}).json()["matched"] == len(SEQS)


def test_matched_is_as_of_the_head_of_its_page(record: Record) -> None:
    api = Api("na-imm.senior")
    before = read(api, record.stream, q="passport", count="true")
    assert before["matched"] == 2
    post("na-imm.duty", record.ref, "Second passport found")
    after = read(api, record.stream, q="passport", count="true")
    assert (after["head"], after["matched"]) == (before["head"] + 1, 3)


# --- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"group": "messages,rumours"}, "group"),
        ({"from": "2026-03-02T08:00:00"}, "from"),
        ({"to": "2026-03-02T08:00:00"}, "to"),
        ({"from": "yesterday"}, "from"),
        ({"from": "2026-03-02T09:00:00Z", "to": "2026-03-02T09:00:00Z"}, "to"),
        ({"from": "2026-03-02T09:00:00Z", "to": "2026-03-02T08:00:00Z"}, "to"),
        ({"from": "9999-12-31T23:59:59-23:59"}, "from"),
        ({"q": "x" * 201}, "q"),
        ({"agency": "A" * 33}, "agency"),
        ({"actor": "a" * 151}, "actor"),
        ({"automatic": "perhaps"}, "automatic"),
        ({"count": "several"}, "count"),
    ],
)
def test_a_bad_filter_is_a_422_that_names_the_field(params: dict[str, Any], field: str) -> None:
    incident = report()
    response = Api("na-imm.duty").get(URL.format(stream=incident.stream_name), params)
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["code"] in ("invalid_request", "invalid_filter")
    named = [e["loc"][-1] for e in body.get("errors") or []]
    assert named == [field] or (not named and body["detail"].startswith(f"{field}: ")), body


def test_blank_filters_are_no_filters() -> None:
    incident = report()
    post("na-imm.duty", incident.ref)
    body = read(
        Api("na-imm.duty"),
        incident.stream_name,
        group="",
        agency="",
        actor="",
        q="",
        **{"from": "", "to": ""},
    )
    assert seqs_of(body) == [1, 2]


def test_filters_do_not_widen_who_reads_the_stream() -> None:
    incident = report()
    post("na-imm.duty", incident.ref, "passport")
    url = URL.format(stream=incident.stream_name)
    filtered = {"group": "messages", "q": "passport", "agency": "NA-IMM", "count": "true"}
    assert Api("na-imm.duty").get(url, filtered).json()["matched"] == 1
    for username in ("na-cus.duty", "za-imm.senior", "na-imm.admin"):
        response = Api(username).get(url, filtered)
        assert response.status_code == 404, username
        assert response.json() == {"code": "not_found", "detail": "No such stream."}
    assert Api().get(url, filtered).status_code == 401


def test_the_openapi_documents_the_filters_and_matched() -> None:
    schema = Api().get("/api/v1/openapi.json").json()
    op = schema["paths"]["/api/v1/streams/{stream}/events"]["get"]
    params = {p["name"]: p for p in op["parameters"]}
    assert {"group", "agency", "actor", "from", "to", "q", "automatic", "count"} <= set(params)
    assert all(params[name]["required"] is False for name in ("from", "to", "count"))
    assert "inclusive" in params["from"]["description"]
    assert "exclusive" in params["to"]["description"]
    assert "`messages`" in params["group"]["description"]
    page = schema["components"]["schemas"]["EventPage"]
    assert "matched" in page["required"]
    assert "count=true" in page["properties"]["matched"]["description"]


def test_an_unknown_officer_or_agency_matches_nothing(record: Record) -> None:
    api = Api("na-imm.senior")
    for params in ({"actor": "nobody.at.all"}, {"agency": "XX-NOPE"}):
        body = read(api, record.stream, **params, count="true")
        assert (body["events"], body["matched"]) == ([], 0), params


def test_redaction_through_the_api_takes_the_message_out_of_text_matches() -> None:
    incident = report()
    message = post("na-imm.duty", incident.ref, "Vessel Blue Heron, IMO 9312456").message
    api = Api("na-imm.senior")
    assert seqs_of(read(api, incident.stream_name, q="9312456")) == [2]
    services.message_redact(
        actor=officer("na-imm.coord"),
        ref=incident.ref,
        message_id=message.pk,
        reason="Wrong incident",
        client_msg_id=uuid.uuid4(),
    )
    assert seqs_of(read(api, incident.stream_name, q="9312456")) == []
    assert seqs_of(read(api, incident.stream_name, q="wrong incident")) == [3]
