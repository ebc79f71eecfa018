"""The incidents REST API end to end: create, read, filter, patch, transitions, export, docs."""

from __future__ import annotations

import csv
import io
import uuid

import pytest

from hub.events.types import validate_payload
from tests.factories import Api, occurred, post, report

pytestmark = pytest.mark.usefixtures("demo")


def new_incident(api: Api, **overrides: object) -> dict[str, object]:
    body = {
        "crossing_point": "WVB",
        "title": "Fishing vessel with undeclared crew",
        "category": "vessel_interdiction",
        "severity": "high",
        "occurred_at": occurred().isoformat(),
        "people_count": 11,
        "location_detail": "Anchorage B",
        "client_msg_id": str(uuid.uuid4()),
        **overrides,
    }
    response = api.post("/api/v1/incidents", body)
    assert response.status_code == 201, response.content
    data: dict[str, object] = response.json()
    return data


def test_create_read_and_snapshot_seq() -> None:
    api = Api("na-cgd.duty")
    created = new_incident(api)
    assert created["ref"] == f"WVB-{occurred().year}-0001"
    assert created["lead_agency"] == "NA-CGD"
    assert created["seq"] == 1
    assert created["stream"] == f"incident:{created['ref']}"
    read = api.get(f"/api/v1/incidents/{created['ref']}").json()
    assert read == created


def test_repeat_create_returns_the_original() -> None:
    api = Api("na-cgd.duty")
    cmid = str(uuid.uuid4())
    first = new_incident(api, client_msg_id=cmid)
    again = api.post(
        "/api/v1/incidents",
        {
            "crossing_point": "WVB",
            "title": "Fishing vessel with undeclared crew",
            "category": "vessel_interdiction",
            "severity": "high",
            "occurred_at": first["occurred_at"],
            "people_count": 11,
            "location_detail": "Anchorage B",
            "client_msg_id": cmid,
        },
    )
    assert again.status_code == 200
    assert again.json()["ref"] == first["ref"]


def test_list_filters() -> None:
    a = report(title="Forged visa", category="document_fraud", severity="high")
    b = report(
        title="Undeclared cash", category="contraband", severity="low", username="na-cus.duty"
    )
    c = report(title="Crew member absconded", category="irregular_crossing", crossing_point="WVB")
    api = Api("na-imm.senior")

    def refs(**params: object) -> list[str]:
        response = api.get("/api/v1/incidents", params)
        assert response.status_code == 200, response.content
        return [i["ref"] for i in response.json()["items"]]

    assert refs() == [c.ref, b.ref, a.ref]
    assert refs(crossing_point="WDH") == [b.ref, a.ref]
    assert refs(category="contraband") == [b.ref]
    assert refs(severity="high") == [a.ref]
    assert refs(agency="NA-CUS") == [b.ref]
    assert refs(q="visa") == [a.ref]
    assert refs(q=c.ref) == [c.ref]
    assert refs(status="closed") == []
    page = api.get("/api/v1/incidents", {"limit": 2}).json()
    assert [i["ref"] for i in page["items"]] == [c.ref, b.ref]
    rest = api.get("/api/v1/incidents", {"limit": 2, "cursor": page["next_cursor"]}).json()
    assert [i["ref"] for i in rest["items"]] == [a.ref]
    bad = api.get("/api/v1/incidents", {"status": "exploded"})
    assert bad.status_code == 422
    assert bad.json()["code"] == "invalid_request"


def test_customs_duty_officer_lists_only_its_incidents() -> None:
    mine = report(username="na-cus.duty")
    report(username="na-imm.duty")
    shared = report(username="na-imm.duty", visibility="crossing_point")
    refs = [i["ref"] for i in Api("na-cus.duty").get("/api/v1/incidents").json()["items"]]
    assert refs == [shared.ref, mine.ref]


def test_patch_transition_invite_lead_over_rest() -> None:
    incident = report()
    api = Api("na-imm.coord")
    base = f"/api/v1/incidents/{incident.ref}"
    patched = api.patch(base, {"severity": "critical"})
    assert patched.status_code == 200
    assert patched.json()["severity"] == "critical"
    assert api.post(f"{base}/transitions", {"to": "triaged"}).json()["status"] == "triaged"
    illegal = api.post(f"{base}/transitions", {"to": "closed", "reason": "x"})
    assert illegal.status_code == 409
    assert illegal.json()["code"] == "illegal_transition"
    assert api.post(f"{base}/agencies", {"agency": "NA-POL"}).json()["participating_agencies"] == [
        "NA-IMM",
        "NA-POL",
    ]
    assert api.put(f"{base}/lead", {"agency": "NA-POL"}).json()["lead_agency"] == "NA-POL"
    events = api.get(f"/api/v1/streams/incident:{incident.ref}/events").json()["events"]
    assert [e["kind"] for e in events] == [
        "incident.reported",
        "incident.updated",
        "incident.transitioned",
        "incident.agency_invited",
        "incident.lead_changed",
    ]
    for e in events:
        validate_payload(e["kind"], e["payload"])


def test_messages_post_list_edit_redact_over_rest() -> None:
    incident = report()
    api = Api("na-imm.duty")
    base = f"/api/v1/incidents/{incident.ref}/messages"
    cmid = str(uuid.uuid4())
    created = api.post(base, {"body": "Interpreter requested", "client_msg_id": cmid})
    assert created.status_code == 201
    message = created.json()["message"]
    repeat = api.post(base, {"body": "Interpreter requested", "client_msg_id": cmid})
    assert repeat.status_code == 200
    assert repeat.json()["duplicate"] is True
    assert repeat.json()["seq"] == created.json()["seq"]
    conflict = api.post(base, {"body": "Something else", "client_msg_id": cmid})
    assert conflict.status_code == 409
    assert conflict.json()["code"] == "client_msg_id_reused"
    edited = api.patch(f"{base}/{message['id']}", {"body": "Interpreter (Portuguese) requested"})
    assert edited.json()["message"]["edit_count"] == 1
    redacted = Api("na-imm.coord").post(
        f"{base}/{message['id']}/redact", {"reason": "Wrong channel"}
    )
    assert redacted.status_code == 200
    listed = api.get(base).json()
    assert listed["head"] == 4
    assert listed["items"][0]["body"] is None
    assert listed["items"][0]["redacted"] is True


CSV_HEADER = [
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
ACTOR, SUMMARY = CSV_HEADER.index("actor"), CSV_HEADER.index("summary")


def test_export_formats_for_senior_official() -> None:
    incident = report()
    post("na-imm.duty", incident.ref, '=HYPERLINK("http://evil")')
    api = Api("na-imm.senior")
    base = f"/api/v1/incidents/{incident.ref}/export"
    as_json = api.get(base, {"format": "json"})
    assert as_json.status_code == 200
    assert as_json["Content-Disposition"] == f'attachment; filename="{incident.ref}-timeline.json"'
    doc = as_json.json()
    assert {k: doc["verification"][k] for k in ("ok", "events_checked", "first_broken")} == {
        "ok": True,
        "events_checked": 2,
        "first_broken": None,
    }
    assert [e["seq"] for e in doc["events"]] == [1, 2]
    assert doc["exported_by"] == "na-imm.senior"
    as_csv = api.get(base, {"format": "csv"})
    rows = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert rows[0] == CSV_HEADER
    assert rows[2][SUMMARY].startswith("Message #"), "formula cells are neutralised, not leading"
    injected = api.get(base, {"format": "csv", "kind": "message."}).content.decode("utf-8-sig")
    assert "incident.reported" not in injected
    html = api.get(base, {"format": "html"})
    assert html["Content-Type"].startswith("text/html")
    page = html.content.decode()
    assert "Hash chain verified: 2 events intact." in page
    assert incident.title in page
    assert "&quot;http://evil&quot;" in page, "message text is escaped in the report"
    bad = api.get(base, {"format": "pdf"})
    assert bad.status_code == 422


def test_every_text_cell_of_the_csv_export_is_guarded_against_formulas() -> None:
    """Names, usernames and summaries are user-supplied: none may start a formula."""
    from hub.accounts.models import User

    User.objects.filter(username="na-imm.duty").update(
        first_name="=cmd|' /C calc'!A0", last_name=""
    )
    User.objects.filter(username="na-imm.coord").update(first_name="@SUM(1+1)", last_name="")
    incident = report(title="+44 20 7946 0000 called")
    formula = post("na-imm.coord", incident.ref, "-2+3").message
    post("na-imm.coord", incident.ref, "\tTabbed")
    body = Api("na-imm.senior").get(f"/api/v1/incidents/{incident.ref}/export", {"format": "csv"})
    rows = list(csv.reader(io.StringIO(body.content.decode("utf-8-sig"))))
    assert rows[0] == CSV_HEADER
    assert len(rows) == 4
    for row in rows[1:]:
        for cell in row:
            assert cell[:1] not in {"=", "+", "-", "@", "\t", "\r"}, (cell, row)
    assert rows[1][ACTOR] == "'=cmd|' /C calc'!A0"
    assert rows[2][ACTOR] == "'@SUM(1+1)"
    assert rows[2][SUMMARY] == f"Message #{formula.pk}: -2+3"
    assert rows[1][SUMMARY].startswith("Reported document_fraud")


def test_csv_guard_prefixes_each_formula_start() -> None:
    from hub.incidents.export import _csv_row, _csv_safe

    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert _csv_safe(f"{start}x") == f"'{start}x"
    assert _csv_safe("plain") == "plain"
    assert _csv_safe("") == ""
    assert _csv_row([3, "-1", None, "ok"]) == [3, "'-1", None, "ok"]


def test_export_refused_for_duty_officer() -> None:
    incident = report()
    response = Api("na-imm.duty").get(f"/api/v1/incidents/{incident.ref}/export")
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


def test_openapi_documents_every_endpoint_and_its_errors() -> None:
    schema = Api().get("/api/v1/openapi.json").json()
    paths = schema["paths"]
    expected = {
        ("get", "/api/v1/me"),
        ("get", "/api/v1/agencies"),
        ("get", "/api/v1/crossing-points"),
        ("get", "/api/v1/incidents"),
        ("post", "/api/v1/incidents"),
        ("get", "/api/v1/incidents/{ref}"),
        ("patch", "/api/v1/incidents/{ref}"),
        ("post", "/api/v1/incidents/{ref}/transitions"),
        ("get", "/api/v1/incidents/{ref}/messages"),
        ("post", "/api/v1/incidents/{ref}/messages"),
        ("get", "/api/v1/streams/{stream}/events"),
        ("get", "/api/v1/audit/verify"),
        ("post", "/api/v1/auth/token"),
        ("get", "/api/v1/incidents/{ref}/export"),
    }
    documented = {(m, p) for p, ops in paths.items() for m in ops}
    assert expected <= documented
    for path, ops in paths.items():
        for method, op in ops.items():
            codes = set(op["responses"])
            assert any(c.startswith("2") for c in codes), (method, path)
            if path.startswith("/api/v1/auth/csrf"):
                continue
            assert codes & {"401", "404", "422"}, (method, path, codes)
    docs = Api().get("/api/v1/docs")
    assert docs.status_code == 200


ERROR_REF = "#/components/schemas/ErrorOut"


def test_openapi_documents_every_4xx_of_every_operation_as_error_out() -> None:
    schema = Api().get("/api/v1/openapi.json").json()
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            where = f"{method.upper()} {path}"
            responses = op["responses"]
            errors = {code: r for code, r in responses.items() if code.startswith("4")}
            for code, response in errors.items():
                assert response["content"] == {
                    "application/json": {"schema": {"$ref": ERROR_REF}}
                }, (where, code)
            if op.get("security"):  # signed-in only: may answer 401
                assert "401" in errors, where
            if op.get("parameters") or op.get("requestBody"):  # input: may be invalid
                assert "422" in errors, where
            if op.get("requestBody"):
                # Evidence uploads are the one multipart body (hub.attachments), and
                # the CAP import the one XML body (hub.alerts).
                expected = {
                    "POST /api/v1/incidents/{ref}/attachments": {"multipart/form-data"},
                    "POST /api/v1/crossing-points/{code}/alerts/cap": {
                        "application/cap+xml",
                        "application/xml",
                        "text/xml",
                    },
                }.get(where, {"application/json"})
                assert op["requestBody"]["content"].keys() == expected, where
    error_out = schema["components"]["schemas"]["ErrorOut"]
    assert error_out["required"] == ["code", "detail"]
    assert set(error_out["properties"]) == {"code", "detail", "errors"}
    field_error = schema["components"]["schemas"]["FieldErrorOut"]
    assert set(field_error["required"]) == {"loc", "msg", "type"}


def test_a_422_body_matches_the_documented_error_out() -> None:
    incident = report()
    response = Api("na-imm.duty").post(
        f"/api/v1/incidents/{incident.ref}/messages", {"body": 3, "client_msg_id": "nope"}
    )
    assert response.status_code == 422
    body = response.json()
    assert set(body) == {"code", "detail", "errors"}
    assert body["code"] == "invalid_request"
    assert {tuple(e) for e in body["errors"]} == {("loc", "msg", "type")}
    assert {e["loc"][-1] for e in body["errors"]} == {"body", "client_msg_id"}
    from hub.schemas import ErrorOut

    ErrorOut.model_validate(body)


def test_openapi_documents_the_export_media_types() -> None:
    schema = Api().get("/api/v1/openapi.json").json()
    ok = schema["paths"]["/api/v1/incidents/{ref}/export"]["get"]["responses"]["200"]
    assert set(ok["content"]) == {"application/json", "text/csv", "text/html"}
    document = ok["content"]["application/json"]["schema"]
    assert set(document["required"]) == {
        "incident",
        "exported_at",
        "exported_by",
        "filters",
        "rows_total",
        "rows_shown",
        "milestones",
        "verification",
        "events",
        "attachments",
        "record",
    }
    incident = report()
    exported = Api("na-imm.senior").get(f"/api/v1/incidents/{incident.ref}/export").json()
    assert set(exported) == set(document["properties"])
    assert set(exported["record"]) == set(document["properties"]["record"]["required"])
    assert set(exported["events"][0]) == set(
        document["properties"]["events"]["items"]["properties"]
    )


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("get", "/api/v1/incidents/NOPE-2026-0001", 404, "not_found"),
        ("get", "/api/v1/incidents/" + "X" * 300, 404, "not_found"),
        ("get", "/api/v1/streams/incident:NOPE/events", 404, "not_found"),
        ("get", "/api/v1/streams/bogus/events", 404, "not_found"),
        ("get", "/api/v1/streams/incident:NOPE/events?after=-1", 422, "invalid_request"),
        ("get", "/api/v1/does-not-exist", 404, "not_found"),
        ("delete", "/api/v1/incidents", 405, "method_not_allowed"),
    ],
)
def test_errors_are_json_with_codes(method: str, path: str, status: int, code: str) -> None:
    api = Api("na-imm.duty")
    response = getattr(api.client, method)(path)
    assert response.status_code == status
    assert response.json()["code"] == code
    assert isinstance(response.json()["detail"], str)


def test_database_unavailable_is_503_and_writes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.db import OperationalError

    from hub.events.models import Event
    from hub.incidents import services
    from hub.incidents.models import Message

    incident = report()
    api = Api("na-imm.duty")

    def lost(*args: object, **kwargs: object) -> None:
        raise OperationalError("connection to server was lost")

    # The connection fails half-way through the write: after the message row,
    # inside the transaction, where emit would append the event.
    monkeypatch.setattr(services, "emit", lost)
    before = Message.objects.count(), Event.objects.count()
    response = api.post(
        f"/api/v1/incidents/{incident.ref}/messages",
        {"body": "lost", "client_msg_id": str(uuid.uuid4())},
    )
    assert response.status_code == 503
    assert response.json()["code"] == "unavailable"
    assert response["Retry-After"] == "5"
    assert (Message.objects.count(), Event.objects.count()) == before


def test_oversized_body_is_413() -> None:
    incident = report()
    api = Api("na-imm.duty")
    response = api.post(
        f"/api/v1/incidents/{incident.ref}/messages",
        raw='{"body": "'
        + "x" * 300_000
        + '", "client_msg_id": "6f1c1c54-5a7e-4f87-9b54-3f7d9d7e8a01"}',
    )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
