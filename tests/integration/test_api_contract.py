"""The OpenAPI schema says what the server accepts: regressions of what the API fuzz
run (tests/integration/test_api_fuzz.py, schemathesis) found.

- Text fields state the "no control characters" rule (``hub.text``) as a pattern,
  and a required text's pattern also refuses text that is blank once trimmed.
- Patch fields the services refuse as null are not nullable in the schema; sending
  null is a 422, never a 500 (pydantic applied ``max_length`` to the None).
- The CAP import declares its XML media types.
- Ids in bodies are bounded: 2**80 was a 500 (SQLite cannot bind it).
- A time is an ISO 8601 string: "0.5" was taken as a Unix time.
- ``102.0`` is an integer, as JSON Schema says: an integer field takes it.
- An undocumented 400 (malformed JSON on ``/auth/token/revoke``) is documented.
- An evidence file's withdrawal reason follows the same text rule as every other.
- 422 on schema-valid input is documented where the rule cannot be stated.
- Every string of a JSON body states that NUL is refused (the parser refuses it in
  any string): the lead agency's code with a NUL was a 422 the schema did not state.
- A token id is an integer, not ``true`` (pydantic read it as 1).
- A query parameter given twice is a 422, not quietly its last value.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from hub.api import api
from hub.schemas import NO_NUL_PATTERN, REFUSES_VALID
from hub.text import REQUIRED_TEXT_PATTERN, TEXT_PATTERN, clean_text
from tests.factories import Api, report

pytestmark = pytest.mark.usefixtures("demo")


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return api.get_openapi_schema()


def _props(openapi: dict[str, Any], name: str) -> dict[str, Any]:
    properties: dict[str, Any] = openapi["components"]["schemas"][name]["properties"]
    return properties


def _operation(openapi: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    operation: dict[str, Any] = openapi["paths"][path][method]
    return operation


@pytest.mark.parametrize(
    "text",
    [
        "plain",
        "two\nlines\ttabbed",
        "\u00e9t\u00e9 \u2013 \u062e\u0637",
        "bell\x07",
        "nul\x00x",
        "\x1f",
        "\ufffe",
        " ",
        "\u3000\u2028",
        "\x85",
        "a\x0b",
    ],
)
def test_patterns_agree_with_clean_text(text: str) -> None:
    """The schema's patterns and the service's rule come from one definition and
    refuse the same texts."""

    def accepted(required: bool) -> bool:
        try:
            clean_text(text, field="t", max_length=100, required=required)
        except Exception:
            return False
        return True

    assert (re.fullmatch(TEXT_PATTERN, text) is not None) == accepted(required=False)
    assert (re.fullmatch(REQUIRED_TEXT_PATTERN, text) is not None) == accepted(required=True)


def test_text_fields_state_the_control_character_rule(openapi: dict[str, Any]) -> None:
    assert _props(openapi, "IncidentCreate")["title"]["pattern"] == REQUIRED_TEXT_PATTERN
    assert _props(openapi, "IncidentCreate")["description"]["pattern"] == TEXT_PATTERN
    assert _props(openapi, "MessageIn")["body"]["pattern"] == TEXT_PATTERN
    assert _props(openapi, "MessageEditIn")["body"]["pattern"] == REQUIRED_TEXT_PATTERN
    assert _props(openapi, "AlertIn")["title"]["pattern"] == REQUIRED_TEXT_PATTERN
    assert _props(openapi, "WithdrawIn")["reason"]["pattern"] == REQUIRED_TEXT_PATTERN


def test_schema_pattern_text_is_refused_by_the_service() -> None:
    ref = report().ref
    answer = Api("na-imm.duty").post(
        f"/api/v1/incidents/{ref}/messages",
        {"body": "scanner noise \x1d", "client_msg_id": str(uuid.uuid4())},
    )
    assert answer.status_code == 422
    assert answer.json()["detail"] == "body must not contain control characters."


@pytest.mark.parametrize(
    ("schema", "fields"),
    [
        (
            "IncidentPatch",
            [
                "title",
                "description",
                "category",
                "severity",
                "people_count",
                "occurred_at",
                "location_detail",
                "visibility",
            ],
        ),
        ("AlertPatch", ["category", "severity", "urgency", "certainty", "title", "body"]),
    ],
)
def test_patch_fields_refused_as_null_are_not_nullable(
    openapi: dict[str, Any], schema: str, fields: list[str]
) -> None:
    properties = _props(openapi, schema)
    for name in fields:
        assert "null" not in str(properties[name]), (schema, name, properties[name])
    if schema == "AlertPatch":
        assert {"type": "null"} in properties["expires_at"]["anyOf"]  # null: no expiry


@pytest.mark.parametrize("field", ["title", "description", "location_detail", "people_count"])
def test_null_in_an_incident_patch_is_422_not_500(field: str) -> None:
    ref = report().ref
    answer = Api("na-imm.duty").patch(f"/api/v1/incidents/{ref}", {field: None})
    assert answer.status_code == 422, answer.content


@pytest.mark.parametrize("field", ["title", "body"])
def test_null_in_an_alert_patch_is_422_not_500(field: str) -> None:
    api_client = Api("na-imm.duty")
    issued = api_client.post(
        "/api/v1/crossing-points/WDH/alerts",
        {"category": "other", "severity": "low", "title": "Queue at gate 3"},
    )
    assert issued.status_code == 201, issued.content
    answer = api_client.patch(f"/api/v1/alerts/{issued.json()['id']}", {field: None})
    assert answer.status_code == 422, answer.content


def test_cap_import_declares_its_media_types(openapi: dict[str, Any]) -> None:
    operation = _operation(openapi, "post", "/api/v1/crossing-points/{code}/alerts/cap")
    assert operation["requestBody"]["required"] is True
    assert set(operation["requestBody"]["content"]) == {
        "application/cap+xml",
        "application/xml",
        "text/xml",
    }
    assert operation["responses"][422]["description"].startswith(REFUSES_VALID)


def test_huge_attachment_id_in_a_message_is_422_not_500(openapi: dict[str, Any]) -> None:
    ref = report().ref
    answer = Api("na-imm.duty").post(
        f"/api/v1/incidents/{ref}/messages",
        {"body": "see file", "client_msg_id": str(uuid.uuid4()), "attachments": [2**80]},
    )
    assert answer.status_code == 422, answer.content
    assert _props(openapi, "MessageIn")["attachments"]["items"]["maximum"] == 2**53


@pytest.mark.parametrize("value", ["0.5", "1700000000", " 12 ", "1e9"])
def test_a_number_is_not_a_time(value: str) -> None:
    ref = report().ref
    senior = Api("na-imm.senior")
    events = senior.get(f"/api/v1/streams/incident:{ref}/events", {"to": value})
    metrics = senior.get("/api/v1/metrics", {"until": value})
    patch = Api("na-imm.duty").patch(f"/api/v1/incidents/{ref}", {"occurred_at": value})
    assert (events.status_code, metrics.status_code, patch.status_code) == (422, 422, 422)


def test_a_blank_time_filter_is_no_bound_as_the_schema_says(openapi: dict[str, Any]) -> None:
    ref = report().ref
    answer = Api("na-imm.duty").get(f"/api/v1/streams/incident:{ref}/events", {"to": ""})
    assert answer.status_code == 200
    (to,) = [
        p
        for p in _operation(openapi, "get", "/api/v1/streams/{stream}/events")["parameters"]
        if p["name"] == "to"
    ]
    assert {"type": "string", "maxLength": 0} in to["schema"]["anyOf"]


def test_an_integral_float_is_an_integer() -> None:
    ref = report().ref
    answer = Api("na-imm.duty").patch(f"/api/v1/incidents/{ref}", {"people_count": 3.0})
    assert answer.status_code == 200, answer.content
    assert answer.json()["people_count"] == 3
    fraction = Api("na-imm.duty").patch(f"/api/v1/incidents/{ref}", {"people_count": 3.5})
    assert fraction.status_code == 422


def test_malformed_json_on_token_revoke_is_a_documented_400(openapi: dict[str, Any]) -> None:
    answer = Api("na-imm.duty").post("/api/v1/auth/token/revoke", raw=b"\xff{")
    assert answer.status_code == 400
    for path in ("/api/v1/auth/token/revoke", "/api/v1/auth/token", "/api/v1/auth/login"):
        assert 400 in _operation(openapi, "post", path)["responses"]


@pytest.mark.parametrize(
    "query",
    [{"from": 1, "to": 2**122}, {"from": 2**80, "to": 2}],
)
def test_template_diff_with_a_huge_version_is_422_not_500(query: dict[str, int]) -> None:
    from hub.operations.sops import seed_templates

    code = seed_templates()[0].code
    answer = Api("na-imm.coord").get(f"/api/v1/checklist-templates/{code}/diff", query)
    assert answer.status_code == 422, answer.content


def test_template_with_a_huge_version_is_not_a_500() -> None:
    from hub.operations.sops import seed_templates

    code = seed_templates()[0].code
    answer = Api("na-imm.coord").get(f"/api/v1/checklist-templates/{code}", {"version": 2**80})
    assert answer.status_code in {404, 422}, answer.content


def test_timeline_filters_state_their_control_character_rules(openapi: dict[str, Any]) -> None:
    from hub.events.api import FILTER_TEXT_PATTERN

    parameters = {
        p["name"]: p["schema"]
        for p in _operation(openapi, "get", "/api/v1/streams/{stream}/events")["parameters"]
    }
    assert parameters["q"]["pattern"] == FILTER_TEXT_PATTERN
    assert re.fullmatch(FILTER_TEXT_PATTERN, "tab\tok") is not None
    ref = report().ref
    refused = Api("na-imm.duty").get(f"/api/v1/streams/incident:{ref}/events", {"q": "a\nb"})
    assert refused.status_code == 422
    assert re.fullmatch(FILTER_TEXT_PATTERN, "a\nb") is None


def _json_body_strings(openapi: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every string schema inside a JSON request body, by a readable path (refs followed,
    each branch of an anyOf, array items)."""
    components = openapi["components"]["schemas"]
    found: dict[str, dict[str, Any]] = {}

    def walk(schema: dict[str, Any], path: str) -> None:
        while "$ref" in schema:
            schema = components[schema["$ref"].rsplit("/", 1)[-1]]
        for branch in schema.get("anyOf", []) + schema.get("allOf", []):
            walk(branch, path)
        if schema.get("type") == "string":
            found[path] = schema
        if "items" in schema:
            walk(schema["items"], path + "[]")
        for name, sub in schema.get("properties", {}).items():
            walk(sub, f"{path}.{name}")

    for route, operations in openapi["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                walk(content["application/json"]["schema"], f"{method.upper()} {route} ")
    return found


def test_every_string_of_a_json_body_states_that_nul_is_refused(
    openapi: dict[str, Any],
) -> None:
    strings = _json_body_strings(openapi)
    assert "PUT /api/v1/incidents/{ref}/lead .agency" in strings
    assert "POST /api/v1/crossing-points/{code}/alerts .targets[]" in strings
    unstated = [
        path
        for path, schema in strings.items()
        if not {"enum", "const", "format"} & schema.keys()
        and re.fullmatch(schema.get("pattern", ".*"), "A\x00B", re.DOTALL) is not None
    ]
    assert unstated == []
    assert re.fullmatch(NO_NUL_PATTERN, "NA-CUS \u062e\t") is not None


def test_a_lead_agency_with_nul_is_the_422_its_schema_states(openapi: dict[str, Any]) -> None:
    ref = report().ref
    answer = Api("na-imm.coord").put(f"/api/v1/incidents/{ref}/lead", {"agency": "NA-\x00CUS"})
    assert answer.status_code == 422, answer.content
    assert _props(openapi, "LeadIn")["agency"]["pattern"] == NO_NUL_PATTERN


def test_a_token_id_is_an_integer_not_a_boolean(openapi: dict[str, Any]) -> None:
    from hub.accounts.models import ApiToken
    from hub.accounts.services import token_issue
    from tests.factories import officer

    issued = token_issue(user=officer("na-imm.duty"), name="laptop")
    client = Api("na-imm.duty")
    for wrong in (True, "1", 1.5):
        answer = client.post("/api/v1/auth/token/revoke", {"id": wrong})
        assert answer.status_code == 422, (wrong, answer.content)
    assert not ApiToken.objects.filter(revoked_at__isnull=False).exists()
    assert {"type": "integer"} in _props(openapi, "RevokeIn")["id"]["anyOf"]
    done = client.post("/api/v1/auth/token/revoke", {"id": issued.token.pk})
    assert done.status_code == 200, done.content


@pytest.mark.parametrize(
    ("name", "value"), [("actor", "na-imm.duty"), ("agency", "NA-IMM"), ("format", "csv")]
)
def test_a_query_parameter_given_twice_is_a_422_naming_it(name: str, value: str) -> None:
    ref = report().ref
    senior = Api("na-imm.senior")
    twice = senior.get(f"/api/v1/incidents/{ref}/export", {name: [value, value]})
    assert twice.status_code == 422, twice.content
    assert twice.json()["errors"] == [
        {"loc": ["query", name], "msg": "give this parameter once", "type": "repeated"}
    ]
    once = senior.get(f"/api/v1/incidents/{ref}/export", {name: value})
    assert once.status_code == 200, once.content
