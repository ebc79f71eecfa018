"""The export holds exactly what the review shows: the timeline's filters, recorded.

One incident at WDH (Hosea Kutako, ``Africa/Windhoek``, UTC+02:00) is built with a
clock that moves five minutes per step, so the time filters have something to
cut: a report, two invitations, a triage, messages by two agencies (one edited,
one redacted), a situation report cadence, a report and an automatic reminder, a
joint operation with a task done, and the move to active.

The expected rows of each filter are computed here from the ``Event`` table (and,
for text, from the payloads and the ``Message`` table's redactions) with no use of
``hub.events.filters``, then compared with the JSON and CSV exports and the HTML
report's count.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.utils import timezone

from hub.events.models import Event
from hub.incidents import services
from hub.incidents.models import Message
from hub.jobs.runner import sweep
from hub.operations import services as operations
from hub.operations.models import Task
from hub.operations.sops import seed_templates
from hub.sitreps import services as sitreps
from tests.factories import Api, officer, post, report

pytestmark = pytest.mark.usefixtures("demo")

WINDHOEK = ZoneInfo("Africa/Windhoek")
SECRET = "SECRETWORD informant +264 81 555 0199"
STEP = timedelta(minutes=5)
FIRST_TEXT = "Passport K1234567 flagged at the customs desk."
EDITED_TEXT = "Passport K1234567 flagged; bag searched, nothing found."


@dataclass(frozen=True)
class World:
    ref: str
    start: datetime  # the report's time
    edited_id: int
    redacted_id: int
    operation: str

    @property
    def stream(self) -> str:
        return f"incident:{self.ref}"

    @property
    def url(self) -> str:
        return f"/api/v1/incidents/{self.ref}/export"


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    """The incident, built on a clock two days back that moves STEP per action."""
    now = [timezone.now().replace(microsecond=0) - timedelta(days=2)]

    def tick() -> datetime:
        now[0] += STEP
        return now[0]

    with monkeypatch.context() as patched:
        patched.setattr(timezone, "now", lambda: now[0])
        start = tick()
        incident = report("na-imm.duty", "WDH", occurred_at=start - timedelta(minutes=20))
        ref = incident.ref
        coord = officer("na-imm.coord")
        tick()
        services.incident_invite_agency(actor=coord, ref=ref, agency="NA-POL")
        tick()
        services.incident_invite_agency(actor=coord, ref=ref, agency="NA-CUS")
        tick()
        services.incident_transition(actor=coord, ref=ref, to_status="triaged")
        tick()
        post("na-pol.duty", ref, "Officer at gate 4, holding the passenger.")
        tick()
        edited = post("na-cus.duty", ref, FIRST_TEXT).message
        tick()
        services.message_edit(
            actor=officer("na-cus.duty"), ref=ref, message_id=edited.pk, body=EDITED_TEXT
        )
        tick()
        secret = post("na-pol.duty", ref, SECRET).message
        tick()
        services.message_redact(
            actor=officer("na-imm.senior"),
            ref=ref,
            message_id=secret.pk,
            reason="Names an informant",
        )
        cadence_at = tick()
        sitreps.sitrep_cadence_set(
            actor=coord, kind="incident", ref=ref, every_minutes=30, now=cadence_at
        )
        posted_at = tick()
        sitreps.sitrep_post(
            actor=coord,
            kind="incident",
            ref=ref,
            situation="Passenger interviewed; documents with customs.",
            next_steps="Hand over to police.",
            needs=[{"agency": "NA-POL", "need": "Escort to the holding room"}],
            client_msg_id=uuid.uuid4(),
            now=posted_at,
        )
        now[0] = posted_at + timedelta(minutes=31)
        sweep(now[0])  # no report within 30 minutes: an automatic reminder
        tick()
        seed_templates()
        operation = operations.operation_start(
            actor=coord, crossing_point="WDH", template="tip-screening", incident=ref
        ).operation
        first = Task.objects.get(operation=operation, position=1)
        for status in ("in_progress", "done"):
            tick()
            operations.task_update(
                actor=officer("na-imm.duty"),
                ref=operation.ref,
                task_id=first.pk,
                status=status,
                note="Screened at secondary." if status == "done" else None,
            )
        tick()
        services.incident_transition(actor=coord, ref=ref, to_status="active")
    return World(
        ref=ref,
        start=start,
        edited_id=edited.pk,
        redacted_id=secret.pk,
        operation=operation.ref,
    )


# --- the expected rows, from the Event table ------------------------------------------------

TEXT_FIELDS = (
    "body",
    "title",
    "description",
    "note",
    "reason",
    "situation",
    "actions_taken",
    "next_steps",
)
GROUPS = {
    "messages": {"message.posted"},
    "edits": {"message.edited", "message.redacted"},
    "status": {
        "incident.reported",
        "incident.updated",
        "incident.transitioned",
        "incident.lead_changed",
    },
    "agencies": {"incident.agency_invited"},
    "sitreps": {"sitrep.posted", "sitrep.cadence_set", "sitrep.overdue"},
    "operations": {"operation.progress", "operation.started", "operation.closed"},
}


def events_of(world: World) -> list[Event]:
    return list(
        Event.objects.filter(stream__name=world.stream)
        .select_related("actor", "actor_agency")
        .order_by("seq")
    )


def says(event: Event, text: str) -> bool:
    redacted = set(Message.objects.filter(redacted_at__isnull=False).values_list("pk", flat=True))
    if event.kind in ("message.posted", "message.edited") and (
        event.payload.get("message_id") in redacted
    ):
        return False
    return any(
        isinstance(event.payload.get(name), str) and text.lower() in event.payload[name].lower()
        for name in TEXT_FIELDS
    )


def at(world: World, step: int) -> datetime:
    return world.start + step * STEP


Predicate = Callable[[Event], bool]


@dataclass(frozen=True)
class Case:
    name: str
    params: Callable[[World], dict[str, str]]
    keeps: Callable[[World], Predicate]


CASES = [
    Case(
        "group messages",
        lambda w: {"group": "messages"},
        lambda w: lambda e: e.kind == "message.posted",
    ),
    Case(
        "groups messages and edits",
        lambda w: {"group": "messages,edits"},
        lambda w: lambda e: e.kind in GROUPS["messages"] | GROUPS["edits"],
    ),
    Case(
        "group sitreps",
        lambda w: {"group": "sitreps"},
        lambda w: lambda e: e.kind.startswith("sitrep."),
    ),
    Case(
        "agency",
        lambda w: {"agency": "NA-POL"},
        lambda w: lambda e: e.actor_agency is not None and e.actor_agency.code == "NA-POL",
    ),
    Case(
        "actor",
        lambda w: {"actor": "na-cus.duty"},
        lambda w: lambda e: e.actor is not None and e.actor.username == "na-cus.duty",
    ),
    Case(
        "from (inclusive), given in UTC",
        lambda w: {"from": at(w, 4).isoformat()},
        lambda w: lambda e: e.at >= at(w, 4),
    ),
    Case(
        "to (exclusive), given in Windhoek time",
        lambda w: {"to": at(w, 4).astimezone(WINDHOEK).isoformat()},
        lambda w: lambda e: e.at < at(w, 4),
    ),
    Case(
        "from and to, Z suffix",
        lambda w: {
            "from": at(w, 2).astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "to": at(w, 6).astimezone(UTC).isoformat().replace("+00:00", "Z"),
        },
        lambda w: lambda e: at(w, 2) <= e.at < at(w, 6),
    ),
    Case(
        "q, any case, edited text",
        lambda w: {"q": "k1234567"},
        lambda w: lambda e: says(e, "k1234567"),
    ),
    Case(
        "q that only a redacted message says",
        lambda w: {"q": "SECRETWORD"},
        lambda w: lambda e: False,
    ),
    Case(
        "automatic entries left out",
        lambda w: {"automatic": "false"},
        lambda w: lambda e: e.actor_id is not None,
    ),
    Case(
        "kind prefix (the older filter)",
        lambda w: {"kind": "message."},
        lambda w: lambda e: e.kind.startswith("message."),
    ),
    Case(
        "combined: group, agency and time",
        lambda w: {"group": "messages,edits", "agency": "NA-CUS", "from": at(w, 6).isoformat()},
        lambda w: (
            lambda e: (
                e.kind in GROUPS["messages"] | GROUPS["edits"]
                and e.actor_agency is not None
                and e.actor_agency.code == "NA-CUS"
                and e.at >= at(w, 6)
            )
        ),
    ),
    Case(
        "combined: kind prefix, actor, text and no automatic entries",
        lambda w: {"kind": "message.", "actor": "na-cus.duty", "q": "bag", "automatic": "false"},
        lambda w: (
            lambda e: (
                e.kind.startswith("message.")
                and e.actor is not None
                and e.actor.username == "na-cus.duty"
                and says(e, "bag")
            )
        ),
    ),
    Case(
        "combined: status group and a time range",
        lambda w: {"group": "status", "from": at(w, 1).isoformat(), "to": at(w, 40).isoformat()},
        lambda w: lambda e: e.kind in GROUPS["status"] and at(w, 1) <= e.at < at(w, 40),
    ),
]


def export(world: World, fmt: str, username: str = "na-imm.senior", **params: str) -> Any:
    response = Api(username).get(world.url, {"format": fmt, **params})
    assert response.status_code == 200, response.content
    return response


def csv_rows(response: Any) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_filter_alone_and_combined_keeps_exactly_the_timelines_rows(
    world: World, case: Case
) -> None:
    events = events_of(world)
    keep = case.keeps(world)
    expected = [e.seq for e in events if keep(e)]
    params = case.params(world)
    document = export(world, "json", **params).json()
    assert [row["seq"] for row in document["events"]] == expected
    assert (document["rows_shown"], document["rows_total"]) == (len(expected), len(events))
    as_csv = export(world, "csv", **params)
    assert [int(row["seq"]) for row in csv_rows(as_csv)] == expected
    assert as_csv["X-Hub-Export-Rows-Shown"] == str(len(expected))
    html = export(world, "html", **params).content.decode()
    assert f"Showing {len(expected)} of {len(events)} events" in html


def test_the_world_gives_every_filter_something_to_cut(world: World) -> None:
    """Each case keeps some rows and drops some (the q on redacted text keeps none)."""
    events = events_of(world)
    assert any(e.actor_id is None for e in events), "an automatic entry"
    assert len({e.at for e in events}) > 10, "the clock moved"
    for case in CASES:
        kept = [e for e in events if case.keeps(world)(e)]
        assert len(kept) < len(events), case.name
        if case.name != "q that only a redacted message says":
            assert kept, case.name


def test_csv_has_each_time_in_utc_and_in_the_crossing_points_zone(world: World) -> None:
    rows = csv_rows(export(world, "csv"))
    events = {e.seq: e for e in events_of(world)}
    assert list(rows[0]) == [
        "seq",
        "at_utc",
        "at_local",
        "timezone",
        "kind",
        "actor",
        "username",
        "agency",
        "summary",
        "hash",
    ]
    for row in rows:
        event = events[int(row["seq"])]
        utc = datetime.fromisoformat(row["at_utc"])
        local = datetime.fromisoformat(row["at_local"])
        assert utc == local == event.at
        assert row["at_utc"].endswith("+00:00")
        assert row["at_local"].endswith("+02:00"), "Windhoek keeps UTC+02:00 all year"
        assert local.replace(tzinfo=None) - utc.replace(tzinfo=None) == timedelta(hours=2)
        assert row["timezone"] == "Africa/Windhoek"
        assert row["hash"] == event.hash
    document = export(world, "json").json()
    assert document["incident"]["timezone"] == "Africa/Windhoek"
    first = document["events"][0]
    assert first["at_local"] == events[1].at.astimezone(WINDHOEK).isoformat()
    assert first["at"] == events[1].at.astimezone(UTC).isoformat()


def test_the_export_records_its_filters(world: World) -> None:
    total = len(events_of(world))
    start = at(world, 3)
    params = {
        "group": "edits,messages",
        "agency": "NA-CUS",
        "from": start.astimezone(WINDHOEK).isoformat(),
        "q": "Passport",
        "automatic": "false",
        "kind": "message.",
    }
    recorded = {
        "group": ["edits", "messages"],
        "agency": "NA-CUS",
        "from": start.astimezone(WINDHOEK).isoformat(),
        "q": "Passport",
        "automatic": False,
        "kind": "message.",
    }
    as_json = export(world, "json", **params)
    document = as_json.json()
    assert document["filters"] == recorded
    assert (document["rows_shown"], document["rows_total"]) == (2, total)
    assert as_json["Content-Disposition"] == (
        f'attachment; filename="{world.ref}-timeline-filtered.json"'
    )
    as_csv = export(world, "csv", **params)
    assert json.loads(as_csv["X-Hub-Export-Filters"]) == recorded
    assert (as_csv["X-Hub-Export-Rows-Shown"], as_csv["X-Hub-Export-Rows-Total"]) == (
        "2",
        str(total),
    )
    assert as_csv["Content-Disposition"].endswith('-timeline-filtered.csv"')
    assert csv_rows(as_csv)[0]["seq"].isdigit(), "the CSV holds rows only"
    html = export(world, "html", **params).content.decode()
    local = start.astimezone(WINDHOEK)
    assert "<strong>Filters:</strong>Kinds: messages, edits and redactions;" in html
    assert "Kinds starting with “message.”" in html
    assert "Agency: NA-CUS" in html
    assert f"From {local:%Y-%m-%d %H:%M:%S} CAT (UTC+02:00)" in html
    assert f"({start.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC)" in html
    assert "Text contains “Passport”" in html
    assert "Automatic entries left out" in html
    assert f"Showing 2 of {total} events" in html
    # No filters: recorded as none, and said so.
    plain = export(world, "json")
    assert plain.json()["filters"] == {}
    assert plain["X-Hub-Export-Filters"] == "{}"
    assert plain["Content-Disposition"].endswith(f'{world.ref}-timeline.json"')
    assert "<strong>Filters:</strong>All events." in export(world, "html").content.decode()
    # Text that is not ASCII travels in the header as JSON escapes.
    urdu = export(world, "csv", q="پاسپورٹ")
    assert json.loads(urdu["X-Hub-Export-Filters"]) == {"q": "پاسپورٹ"}


@pytest.mark.parametrize(
    "params",
    [{}, {"group": "messages,edits"}, {"q": "SECRETWORD"}, {"agency": "NA-POL"}, {"q": "0199"}],
    ids=["all", "messages and edits", "q on the secret", "its agency", "q on its digits"],
)
def test_a_redacted_messages_text_is_in_no_format(world: World, params: dict[str, str]) -> None:
    for fmt in ("json", "csv", "html"):
        text = export(world, fmt, **params).content.decode("utf-8-sig")
        # The exporter's own q is recorded (they typed it); nothing else of the text shows.
        q = params.get("q")
        for fragment in ("SECRETWORD", "555 0199", "informant +264"):
            if q is None or q not in fragment:
                assert fragment not in text, (fmt, params, fragment)
    html = export(world, "html", **params).content.decode()
    if not params.get("q"):
        # The row stays, and the redaction says who, which agency, when and why.
        assert f"Message #{world.redacted_id}" in html
        assert "Text hidden: this message was redacted." in html
        redacted = at(world, 8)
        assert (
            f"<strong>Redacted</strong> by {officer('na-imm.senior').display_name} (NA-IMM)"
            f" · {redacted.astimezone(WINDHOEK):%Y-%m-%d %H:%M:%S} CAT" in html
        )
        assert "Reason: Names an informant" in html


def test_the_report_shows_every_version_of_an_edited_message(world: World) -> None:
    html = export(world, "html", group="messages").content.decode()
    author = officer("na-cus.duty").display_name
    start = html.index(f"Message #{world.edited_id}")
    entry = html[start : html.index("</article>", start)]
    assert "edited 1 time" in entry
    assert FIRST_TEXT in entry
    assert EDITED_TEXT in entry
    assert entry.index(FIRST_TEXT) < entry.index(EDITED_TEXT)
    assert entry.count(author) == 2
    posted, edited = at(world, 5), at(world, 6)
    assert f"Original (later replaced) · {posted.astimezone(WINDHOEK):%Y-%m-%d %H:%M:%S}" in entry
    assert f"Edit 1 · {edited.astimezone(WINDHOEK):%Y-%m-%d %H:%M:%S} CAT (UTC+02:00)" in entry
    assert f"{edited.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" in entry


def test_the_report_has_header_milestones_checklist_sitreps_and_verification(
    world: World,
) -> None:
    html = export(world, "html").content.decode()
    head = Event.objects.filter(stream__name=world.stream).order_by("-seq").first()
    assert head is not None
    for text in (
        "Document fraud",
        "Lead agency</dt><dd>NA-IMM — ",
        "NA-CUS — ",
        "NA-POL — ",
        "Hosea Kutako",
        "Arrivals hall, desk 4",
        # milestones
        "Triaged",
        "15 min",
        "Not reached",
        "NA-IMM from the report",
        # the checklist
        f"{world.operation} — ",
        "Screened at secondary.",
        f"{officer('na-imm.duty').display_name} (NA-IMM)",
        # the situation report
        "Report #1",
        "Passenger interviewed; documents with customs.",
        "NA-POL: Escort to the holding room",
        # verification
        "Hash chain verified:",
        world.stream,
        head.hash,
        f"#{head.seq}",
        f"python manage.py audit_verify {world.stream}",
        f"GET /api/v1/audit/verify?stream={world.stream}",
        "@media print",
        "@page { size: A4;",
    ):
        assert text in html, text
    first = html.index('id="checklists"')
    done = html.index("Screened at secondary.", first)
    assert "Done" in html[first:done]


def test_json_has_milestones_counts_and_the_verification(world: World) -> None:
    document = export(world, "json", group="messages").json()
    events = events_of(world)
    milestones = {m["key"]: m for m in document["milestones"]}
    assert list(milestones) == ["reported", "triaged", "lead_set", "active", "resolved", "closed"]
    assert milestones["reported"]["seq"] == 1
    assert milestones["reported"]["after_seconds"] == 0
    assert milestones["triaged"]["after_seconds"] == 15 * 60
    assert milestones["triaged"]["at_local"] == at(world, 3).astimezone(WINDHOEK).isoformat()
    assert milestones["lead_set"]["seq"] == 1, "never changed: the report named the lead"
    active = next(
        e
        for e in events
        if e.kind == "incident.transitioned" and e.payload["to_status"] == "active"
    )
    assert milestones["active"]["seq"] == active.seq
    assert milestones["active"]["after_seconds"] == int((active.at - world.start).total_seconds())
    assert milestones["resolved"] == {
        "key": "resolved",
        "label": "Resolved",
        "at": None,
        "at_local": None,
        "seq": None,
        "after_seconds": None,
    }
    verification = document["verification"]
    assert verification["ok"] is True
    assert verification["stream"] == world.stream
    assert verification["head_seq"] == events[-1].seq == document["rows_total"]
    assert verification["head_hash"] == events[-1].hash
    assert verification["check_again"] == {
        "command": f"python manage.py audit_verify {world.stream}",
        "api": f"GET /api/v1/audit/verify?stream={world.stream}",
        "head_event": f"GET /api/v1/streams/{world.stream}/events?after={events[-2].seq}&limit=1",
    }
    # The instructions work as printed.
    out = io.StringIO()
    call_command("audit_verify", world.stream, stdout=out)
    assert "OK: 1 streams" in out.getvalue()
    senior = Api("na-imm.senior")
    checked = senior.get("/api/v1/audit/verify", {"stream": world.stream})
    assert checked.json()["ok"] is True
    page = senior.get(
        f"/api/v1/streams/{world.stream}/events", {"after": events[-2].seq, "limit": 1}
    ).json()
    assert [(e["seq"], e["hash"]) for e in page["events"]] == [
        (verification["head_seq"], verification["head_hash"])
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"group": "messages,gossip"}, "group"),
        ({"from": "2026-03-01T10:00:00"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"from": "2026-03-01T10:00:00+02:00", "to": "2026-03-01T09:00:00+02:00"}, "to"),
        ({"from": "9999-12-31T23:59:59-23:59"}, "from"),
        ({"q": "x" * 201}, "q"),
        ({"automatic": "perhaps"}, "automatic"),
        ({"agency": "X" * 33}, "agency"),
        ({"format": "pdf", "group": "messages"}, "format"),
        ({"q": "pass\x00port"}, "q"),
        ({"actor": "na-pol\x00.duty"}, "actor"),
    ],
    ids=[
        "unknown group",
        "time without offset",
        "not a time",
        "to before from",
        "beyond year 9999 in UTC",
        "q too long",
        "automatic not a bool",
        "agency too long",
        "format",
        "NUL in q",
        "NUL in actor",
    ],
)
def test_bad_filter_values_are_a_422_naming_the_field(
    world: World, params: dict[str, str], field: str
) -> None:
    response = Api("na-imm.senior").get(world.url, params)
    assert response.status_code == 422, response.content
    body = response.json()
    named = {e["loc"][-1] for e in body.get("errors", [])}
    assert field in named or body["detail"].startswith(f"{field}:"), body


@pytest.mark.parametrize(
    ("username", "status"),
    [
        ("na-imm.senior", 200),
        ("na-pol.senior", 200),
        ("na-imm.coord", 403),
        ("na-cus.duty", 403),
        ("za-imm.senior", 404),
        ("na-imm.admin", 404),
    ],
)
def test_who_may_export_is_unchanged_by_filters(world: World, username: str, status: int) -> None:
    for fmt in ("json", "csv", "html"):
        response = Api(username).get(
            world.url, {"format": fmt, "group": "messages", "agency": "NA-POL"}
        )
        assert response.status_code == status, (username, fmt, response.content)
        if status != 200:
            assert response.json()["code"] == {403: "forbidden", 404: "not_found"}[status]
