"""Snapshot + events since its seq == a fresh snapshot (Zulip's verify_action).

For each action we fetch the state over REST, run the action, fetch the events
after the snapshot's seq, apply them to the old state with a client-side reducer,
and compare with a fresh fetch. Events that carried too little information, or
wrong information, show up as a difference.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from hub.incidents import services
from tests.factories import Api, occurred, officer, post, report

pytestmark = pytest.mark.usefixtures("demo")

INCIDENT_FIELDS = (
    "ref",
    "crossing_point",
    "title",
    "description",
    "category",
    "severity",
    "status",
    "people_count",
    "occurred_at",
    "location_detail",
    "visibility",
    "reporting_agency",
    "lead_agency",
    "participating_agencies",
)
State = dict[str, Any]


def _norm(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    return value


def fetch(api: Api, ref: str | None) -> tuple[State | None, int]:
    if ref is None:
        return None, 0
    incident = api.get(f"/api/v1/incidents/{ref}").json()
    messages = api.get(f"/api/v1/incidents/{ref}/messages").json()["items"]
    state: State = {
        "incident": {k: _norm(incident[k]) for k in INCIDENT_FIELDS},
        "messages": {
            m["id"]: {
                "author": m["author"]["username"],
                "agency": m["agency"],
                "body": m["body"],
                "redacted": m["redacted"],
                "redaction_reason": m["redaction_reason"],
                "edit_count": m["edit_count"],
                "seq": m["seq"],
            }
            for m in messages
        },
    }
    return state, incident["seq"]


def apply(state: State | None, event: dict[str, Any]) -> State:
    """The client's reducer: how an officer's screen folds one event into its state."""
    kind, p = event["kind"], event["payload"]
    if kind == "incident.reported":
        return {"incident": {k: _norm(p[k]) for k in INCIDENT_FIELDS}, "messages": {}}
    assert state is not None
    incident, messages = state["incident"], state["messages"]
    if kind == "incident.updated":
        for field, change in p["changes"].items():
            incident[field] = _norm(change["new"])
    elif kind == "incident.transitioned":
        assert incident["status"] == p["from_status"]
        incident["status"] = p["to_status"]
    elif kind == "incident.agency_invited":
        incident["participating_agencies"] = sorted(
            {*incident["participating_agencies"], p["agency"]}
        )
    elif kind == "incident.lead_changed":
        assert incident["lead_agency"] == p["old"]
        incident["lead_agency"] = p["new"]
    elif kind == "message.posted":
        messages[p["message_id"]] = {
            "author": event["actor"]["username"],
            "agency": event["actor"]["agency"],
            "body": None if p.get("redacted") else p["body"],
            "redacted": bool(p.get("redacted")),
            "redaction_reason": None,
            "edit_count": 0,
            "seq": event["seq"],
        }
    elif kind == "message.edited":
        m = messages[p["message_id"]]
        m["edit_count"] = p["edit_number"]
        m["body"] = None if p.get("redacted") else p["body"]
    elif kind == "message.redacted":
        m = messages[p["message_id"]]
        m.update(body=None, redacted=True, redaction_reason=p["reason"])
    else:  # pragma: no cover - a new kind without a reducer is a test failure
        raise AssertionError(f"no reducer for {kind}")
    return state


def verify_action(
    ref: str | None, action: Callable[[], str], *, viewer: str = "na-imm.coord"
) -> str:
    api = Api(viewer)
    before, seq = fetch(api, ref)
    ref = action()
    events = api.get(f"/api/v1/streams/incident:{ref}/events", {"after": seq}).json()["events"]
    assert events, "the action emitted nothing"
    assert [e["seq"] for e in events] == list(range(seq + 1, seq + 1 + len(events)))
    state = before
    for event in events:
        state = apply(state, event)
    after, _ = fetch(api, ref)
    assert state == after
    return ref


def test_report() -> None:
    verify_action(None, lambda: report(people_count=3).ref, viewer="na-imm.duty")


def test_update() -> None:
    ref = report().ref

    def action() -> str:
        services.incident_update(
            actor=officer("na-imm.coord"),
            ref=ref,
            changes={
                "severity": "critical",
                "people_count": 7,
                "occurred_at": occurred(90),
                "description": "Updated after interview",
                "visibility": "crossing_point",
            },
        )
        return ref

    verify_action(ref, action)


@pytest.mark.parametrize("to", ["triaged", "active", "resolved"])
def test_transition(to: str) -> None:
    ref = report().ref
    verify_action(
        ref,
        lambda: (
            services.incident_transition(
                actor=officer("na-imm.coord"), ref=ref, to_status=to, reason="because"
            ).incident.ref
        ),
    )


def test_invite_and_lead() -> None:
    ref = report().ref

    def action() -> str:
        services.incident_invite_agency(actor=officer("na-imm.coord"), ref=ref, agency="NA-CUS")
        services.incident_set_lead(actor=officer("na-imm.coord"), ref=ref, agency="NA-CUS")
        return ref

    verify_action(ref, action)


def test_post() -> None:
    ref = report().ref
    post("na-imm.duty", ref, "first")
    verify_action(ref, lambda: post("na-imm.coord", ref, "second").stream.split(":", 1)[1])


def test_edit() -> None:
    ref = report().ref
    message = post("na-imm.duty", ref, "Boarding pass AB12").message

    def action() -> str:
        services.message_edit(
            actor=officer("na-imm.duty"),
            ref=ref,
            message_id=message.pk,
            body="Boarding pass AB21",
            client_msg_id=uuid.uuid4(),
        )
        return ref

    verify_action(ref, action)


def test_redact() -> None:
    ref = report().ref
    message = post("na-imm.duty", ref, "Personal phone +264 81 000 0000").message
    post("na-imm.duty", ref, "unrelated")

    def action() -> str:
        services.message_redact(
            actor=officer("na-imm.coord"), ref=ref, message_id=message.pk, reason="Personal data"
        )
        return ref

    verify_action(ref, action)


def test_whole_history_replays_from_zero() -> None:
    """A client that joins late folds the entire timeline into the current state."""
    ref = report().ref
    coord = officer("na-imm.coord")
    m = post("na-imm.duty", ref, "one").message
    services.incident_transition(actor=coord, ref=ref, to_status="triaged")
    services.incident_invite_agency(actor=coord, ref=ref, agency="NA-POL")
    post("na-pol.duty", ref, "police here")
    services.message_edit(actor=officer("na-imm.duty"), ref=ref, message_id=m.pk, body="one!")
    services.message_redact(actor=coord, ref=ref, message_id=m.pk, reason="noise")
    api = Api("na-imm.coord")
    events = api.get(f"/api/v1/streams/incident:{ref}/events").json()["events"]
    state: State | None = None
    for event in events:
        state = apply(state, event)
    assert state == fetch(api, ref)[0]
