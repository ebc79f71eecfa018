"""CAP 1.2 export and import, and the Atom feed of a crossing point's alerts.

Every CAP document the hub serves is validated against the official OASIS
CAP 1.2 schema (``tests/fixtures/cap/CAP-v1.2.xsd``) with ``xmlschema``; the
mapping rules checked here are the ones in ``hub.alerts.cap``'s docstring. An
export imported back gives an equal alert, and hostile or foreign XML is
refused with a 4xx and nothing written.

The demo region is seeded once for the module, inside a transaction rolled
back when the module ends; each test runs in its own savepoint within it.
"""

from __future__ import annotations

import io
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import xmlschema
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from hub.agencies.models import CrossingPoint
from hub.alerts import services
from hub.alerts.models import Alert, AlertCategory, AlertTarget
from hub.errors import InvalidInput
from hub.events.models import Event, WriteReceipt
from hub.events.types import validate_payload
from hub.jobs import alert_expiry
from tests.factories import Api, officer, report, seed

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("region")]

XSD = Path(__file__).resolve().parents[1] / "fixtures" / "cap" / "CAP-v1.2.xsd"
NS = "urn:oasis:names:tc:emergency:cap:1.2"
CAP11 = "urn:oasis:names:tc:emergency:cap:1.1"
ATOM = "http://www.w3.org/2005/Atom"
Q = {"cap": NS}
A = {"a": ATOM}
CAP_SEVERITY = {"low": "Minor", "medium": "Moderate", "high": "Severe", "critical": "Extreme"}
CAP_CATEGORIES = {
    "Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env", "Transport",
    "Infra", "CBRNE", "Other",
}  # fmt: skip


@pytest.fixture(scope="module")
def region(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """The demo region, seeded once per module and rolled back at its end."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        seed()
    try:
        yield
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture(autouse=True)
def every_payload_valid(db: None) -> Iterator[None]:
    """After each test, every event it wrote validates against its payload model."""
    yield
    for event in Event.objects.all():
        validate_payload(event.kind, event.payload)


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(XSD))


@pytest.fixture
def now() -> datetime:
    return timezone.now().replace(microsecond=0)


# --- helpers -------------------------------------------------------------------------------


def cap_time(value: datetime) -> str:
    """CAP's dateTime form, as the schema's pattern wants it (seconds, +00:00)."""
    return value.astimezone(UTC).replace(microsecond=0).isoformat()


def host() -> str:
    return settings.HUB_CAP_SENDER.split("@")[-1]


def issue(username: str = "na-imm.duty", crossing_point: str = "WDH", **fields: Any) -> Alert:
    params: dict[str, Any] = {
        "category": "document_fraud",
        "severity": "high",
        "title": "Forged Schengen visas, series K",
        "body": "Look for misaligned laminate on page 3.",
    }
    params.update(fields)
    return services.alert_issue(
        actor=officer(username), crossing_point=crossing_point, **params
    ).alert


def fetch_cap(alert_id: int, username: str = "na-cus.duty") -> bytes:
    response = Api(username).get(f"/api/v1/alerts/{alert_id}/cap")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/cap+xml")
    content: bytes = response.content
    return content


def validated(schema: xmlschema.XMLSchema, document: bytes) -> ET.Element:
    """Validate against the official XSD (raises on any violation) and parse."""
    schema.validate(io.BytesIO(document))
    return ET.fromstring(document)  # noqa: S314 - our own output, not untrusted input


def text(element: ET.Element, path: str) -> str | None:
    found = element.find(path, Q)
    return None if found is None else found.text


def pairs(element: ET.Element, path: str) -> dict[str | None, str | None]:
    return {text(e, "cap:valueName"): text(e, "cap:value") for e in element.findall(path, Q)}


def import_cap(
    document: bytes | str,
    *,
    code: str = "WDH",
    username: str = "na-imm.duty",
    content_type: str = "application/cap+xml",
) -> Any:
    api = Api(username) if username else Api()
    # CONTENT_TYPE explicitly: the test client leaves it out when the body is empty.
    return api.client.post(
        f"/api/v1/crossing-points/{code}/alerts/cap",
        document,
        content_type=content_type,
        CONTENT_TYPE=content_type,
    )


def written() -> tuple[int, int, int, int]:
    return (
        Alert.objects.count(),
        AlertTarget.objects.count(),
        Event.objects.count(),
        WriteReceipt.objects.count(),
    )


def cap_document(
    *,
    namespace: str = NS,
    status: str = "Actual",
    msg_type: str = "Alert",
    geocode: str | None = None,
    identifier: str = "partner.example.alert.42",
    headline: str = "Storm front approaching the apron",
    expires: datetime | None = None,
    restriction: str | None = None,
    addresses: str | None = None,
    incidents: str | None = None,
) -> str:
    """A hand-written CAP document, as a partner system would send one."""
    sent = cap_time(timezone.now() - timedelta(minutes=1))
    area = (
        "<area><areaDesc>Airport</areaDesc>"
        + (
            "<geocode><valueName>border-hub:crossing-point</valueName>"
            f"<value>{geocode}</value></geocode>"
            if geocode
            else ""
        )
        + "</area>"
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<alert xmlns="{namespace}">'
        f"<identifier>{identifier}</identifier>"
        "<sender>ops@partner.example</sender>"
        f"<sent>{sent}</sent>"
        f"<status>{status}</status>"
        f"<msgType>{msg_type}</msgType>"
        f"<scope>{'Restricted' if restriction or addresses else 'Public'}</scope>"
        + (f"<restriction>{restriction}</restriction>" if restriction else "")
        + (f"<addresses>{addresses}</addresses>" if addresses else "")
        + (f"<incidents>{incidents}</incidents>" if incidents else "")
        + "<info>"
        "<category>Met</category>"
        "<event>Thunderstorm</event>"
        "<urgency>Expected</urgency>"
        "<severity>Unknown</severity>"
        "<certainty>Possible</certainty>"
        + (f"<expires>{cap_time(expires)}</expires>" if expires else "")
        + f"<headline>{headline}</headline>"
        "<description>Hail and gusts to 90 km/h.</description>"
        f"{area}"
        "</info></alert>"
    )


# --- export --------------------------------------------------------------------------------


def test_fresh_alert_is_valid_cap_with_msg_type_alert(
    schema: xmlschema.XMLSchema, now: datetime
) -> None:
    alert = issue(now=now)
    response = Api("na-air.duty").get(f"/api/v1/alerts/{alert.pk}/cap")
    assert response["Content-Disposition"] == f'inline; filename="alert-{alert.pk}-v1.cap.xml"'
    root = validated(schema, response.content)
    assert root.tag == f"{{{NS}}}alert"
    assert text(root, "cap:identifier") == f"{host()}.alert.{alert.pk}.v1"
    assert text(root, "cap:sender") == settings.HUB_CAP_SENDER
    assert text(root, "cap:sent") == cap_time(now)
    assert text(root, "cap:status") == "Actual"
    assert text(root, "cap:msgType") == "Alert"
    assert text(root, "cap:source") == "Namibia Immigration Service"
    assert text(root, "cap:scope") == "Restricted"
    assert text(root, "cap:restriction") == (
        "Border Coordination Hub: readable by the agencies deployed at WDH "
        "(Hosea Kutako International Airport); acknowledgement required from "
        "NA-AIR, NA-CUS, NA-POL."
    )
    assert text(root, "cap:addresses") == "NA-AIR NA-CUS NA-POL"
    for absent in ("cap:references", "cap:incidents", "cap:note"):
        assert root.find(absent, Q) is None, absent
    [info] = root.findall("cap:info", Q)
    assert text(info, "cap:language") == "en"
    assert text(info, "cap:category") == "Security"
    assert text(info, "cap:event") == "Document fraud pattern"
    assert text(info, "cap:responseType") == "Monitor"
    assert (text(info, "cap:urgency"), text(info, "cap:severity")) == ("Immediate", "Severe")
    assert text(info, "cap:certainty") == "Likely"
    assert pairs(info, "cap:eventCode") == {"border-hub:category": "document_fraud"}
    assert text(info, "cap:effective") == cap_time(now)
    assert info.find("cap:expires", Q) is None
    assert text(info, "cap:senderName") == "Namibia Immigration Service"
    assert text(info, "cap:headline") == "Forged Schengen visas, series K"
    assert text(info, "cap:description") == "Look for misaligned laminate on page 3."
    assert text(info, "cap:instruction")
    assert pairs(info, "cap:parameter") == {"border-hub:ackRequired": "true"}


def test_area_is_a_circle_round_the_crossing_point(schema: xmlschema.XMLSchema) -> None:
    for code, username in (("WDH", "na-imm.duty"), ("WVB", "na-cgd.duty")):
        alert = issue(username=username, crossing_point=code)
        root = validated(schema, fetch_cap(alert.pk, username))
        point = CrossingPoint.objects.get(code=code)
        [area] = root.findall("cap:info/cap:area", Q)
        assert text(area, "cap:areaDesc") == f"{point.name} ({code})"
        circle = text(area, "cap:circle")
        assert circle is not None
        centre, radius = circle.split(" ")
        lat, lon = (float(v) for v in centre.split(","))
        assert (lat, lon) == (float(point.latitude), float(point.longitude))
        assert float(radius) > 0
        assert pairs(area, "cap:geocode") == {"border-hub:crossing-point": code}
    assert (lat, lon) == (-22.956, 14.504)  # the Port of Walvis Bay, not the airport


def test_with_and_without_expiry(schema: xmlschema.XMLSchema, now: datetime) -> None:
    expires = now + timedelta(hours=3, minutes=7, seconds=11)
    with_expiry = validated(schema, fetch_cap(issue(expires_at=expires, now=now).pk))
    assert text(with_expiry, "cap:info/cap:expires") == cap_time(expires)
    without = validated(schema, fetch_cap(issue(now=now).pk))
    assert without.find("cap:info/cap:expires", Q) is None


@pytest.mark.parametrize("severity", ["low", "medium", "high", "critical"])
def test_severity_urgency_certainty_mapping(
    severity: str, schema: xmlschema.XMLSchema, now: datetime
) -> None:
    for urgency, certainty in (("Expected", "Observed"), ("Unknown", "Unlikely"), ("Past", None)):
        alert = issue(severity=severity, urgency=urgency, certainty=certainty, now=now)
        info = validated(schema, fetch_cap(alert.pk)).find("cap:info", Q)
        assert info is not None
        assert text(info, "cap:severity") == CAP_SEVERITY[severity]
        assert text(info, "cap:urgency") == urgency
        assert text(info, "cap:certainty") == (certainty or "Likely")


def test_every_category_maps_to_a_cap_category(schema: xmlschema.XMLSchema) -> None:
    seen = set()
    for category in AlertCategory:
        info = validated(schema, fetch_cap(issue(category=category.value).pk)).find("cap:info", Q)
        assert info is not None
        cap_category = text(info, "cap:category")
        assert cap_category in CAP_CATEGORIES
        assert text(info, "cap:event") == category.label
        assert pairs(info, "cap:eventCode") == {"border-hub:category": category.value}
        seen.add(cap_category)
    assert {"Security", "Health", "Met", "Infra", "Transport", "Other"} <= seen


def test_restricted_scope_names_the_targeted_agencies(schema: xmlschema.XMLSchema) -> None:
    alert = issue(username="na-pol.coord", targets=["NA-IMM", "NA-AIR"], ack_required=False)
    root = validated(schema, fetch_cap(alert.pk, "na-air.duty"))
    assert text(root, "cap:scope") == "Restricted"
    # Who may read: every agency at the point (its shared board); who is addressed.
    assert text(root, "cap:restriction") == (
        "Border Coordination Hub: readable by the agencies deployed at WDH "
        "(Hosea Kutako International Airport); addressed to NA-AIR, NA-IMM "
        "(no acknowledgement required)."
    )
    assert text(root, "cap:addresses") == "NA-AIR NA-IMM"
    assert text(root, "cap:source") == "Namibia Border Police"
    info = root.find("cap:info", Q)
    assert info is not None
    assert info.find("cap:instruction", Q) is None
    assert pairs(info, "cap:parameter") == {"border-hub:ackRequired": "false"}


def test_restriction_names_who_must_acknowledge(schema: xmlschema.XMLSchema) -> None:
    alert = issue(username="na-pol.coord", targets=["NA-CUS", "NA-IMM"])
    root = validated(schema, fetch_cap(alert.pk, "na-air.duty"))  # NA-AIR reads, untargeted
    assert text(root, "cap:restriction") == (
        "Border Coordination Hub: readable by the agencies deployed at WDH "
        "(Hosea Kutako International Airport); acknowledgement required from NA-CUS, NA-IMM."
    )
    assert text(root, "cap:addresses") == "NA-CUS NA-IMM"


def test_exercise_has_status_exercise(schema: xmlschema.XMLSchema) -> None:
    alert = issue(is_exercise=True, title="Mass-casualty drill at gate 3")
    root = validated(schema, fetch_cap(alert.pk))
    assert text(root, "cap:status") == "Exercise"
    assert text(root, "cap:msgType") == "Alert"
    assert text(root, "cap:info/cap:headline") == "EXERCISE: Mass-casualty drill at gate 3"


def test_linked_incident_is_in_incidents(schema: xmlschema.XMLSchema) -> None:
    incident = report()
    alert = issue(incident=incident.ref)
    root = validated(schema, fetch_cap(alert.pk, "na-imm.duty"))
    assert text(root, "cap:incidents") == incident.ref


def test_updated_alert_is_msg_type_update_referencing_earlier_versions(
    schema: xmlschema.XMLSchema, now: datetime
) -> None:
    alert = issue(now=now)
    t2, t3 = now + timedelta(minutes=5), now + timedelta(minutes=9)
    issuer = officer("na-imm.duty")
    services.alert_update(actor=issuer, alert_id=alert.pk, changes={"title": "K and L"}, now=t2)
    root = validated(schema, fetch_cap(alert.pk))
    sender = settings.HUB_CAP_SENDER
    v1 = f"{sender},{host()}.alert.{alert.pk}.v1,{cap_time(now)}"
    v2 = f"{sender},{host()}.alert.{alert.pk}.v2,{cap_time(t2)}"
    assert text(root, "cap:msgType") == "Update"
    assert text(root, "cap:identifier") == f"{host()}.alert.{alert.pk}.v2"
    assert text(root, "cap:sent") == cap_time(t2)
    assert text(root, "cap:references") == v1
    assert text(root, "cap:info/cap:headline") == "K and L"
    assert text(root, "cap:info/cap:effective") == cap_time(now)
    services.alert_update(actor=issuer, alert_id=alert.pk, changes={"severity": "low"}, now=t3)
    root = validated(schema, fetch_cap(alert.pk))
    assert text(root, "cap:identifier") == f"{host()}.alert.{alert.pk}.v3"
    assert text(root, "cap:references") == f"{v1} {v2}"
    assert text(root, "cap:info/cap:severity") == "Minor"


def test_cancelled_alert_is_msg_type_cancel(schema: xmlschema.XMLSchema, now: datetime) -> None:
    alert = issue(now=now)
    later = now + timedelta(minutes=4)
    services.alert_cancel(
        actor=officer("na-imm.duty"), alert_id=alert.pk, reason="Series recalled", now=later
    )
    root = validated(schema, fetch_cap(alert.pk))
    assert text(root, "cap:msgType") == "Cancel"
    assert text(root, "cap:identifier") == f"{host()}.alert.{alert.pk}.v2"
    assert text(root, "cap:sent") == cap_time(later)
    assert text(root, "cap:note") == "Cancelled: Series recalled"
    assert text(root, "cap:references") == (
        f"{settings.HUB_CAP_SENDER},{host()}.alert.{alert.pk}.v1,{cap_time(now)}"
    )
    assert text(root, "cap:info/cap:responseType") == "AllClear"


def test_the_schema_really_rejects_a_broken_document(schema: xmlschema.XMLSchema) -> None:
    document = fetch_cap(issue().pk)
    assert schema.is_valid(io.BytesIO(document))
    broken = document.replace(b"<severity>Severe</severity>", b"<severity>Dire</severity>")
    assert broken != document
    assert not schema.is_valid(io.BytesIO(broken))
    reordered = document.replace(b"<scope>Restricted</scope>", b"").replace(
        b"</alert>", b"<scope>Restricted</scope></alert>"
    )
    assert not schema.is_valid(io.BytesIO(reordered))


def test_text_with_control_characters_still_gives_well_formed_cap_and_atom(
    schema: xmlschema.XMLSchema,
) -> None:
    """Text pasted from a terminal or a PDF: either refused on input, or exported safely."""
    title = "Scanner\x0cgate 2 down"
    body = "Copied from the console: \x1b[31mERROR\x1b[0m\x07"
    before = written()
    refused: InvalidInput | None = None
    try:
        alert = issue(title=title, body=body)
    except InvalidInput as exc:  # refusing such text is a fix too
        refused = exc
    if refused is not None:
        assert refused.status == 422
        assert written() == before
        return
    validated(schema, fetch_cap(alert.pk))
    atom = Api("na-cus.duty").get("/api/v1/crossing-points/WDH/alerts.atom")
    ET.fromstring(atom.content)  # noqa: S314 - our own output


def test_cap_of_an_alert_elsewhere_is_not_found() -> None:
    alert = issue()
    assert Api("za-imm.duty").get(f"/api/v1/alerts/{alert.pk}/cap").status_code == 404
    assert Api("na-imm.duty").get("/api/v1/alerts/99999999/cap").status_code == 404


# --- import: round trip --------------------------------------------------------------------


ROUND_TRIPS: dict[str, dict[str, Any]] = {
    "plain": {},
    "everything": {
        "category": "weather",
        "severity": "low",
        "urgency": "Future",
        "certainty": "Possible",
        "title": "Crew & cargo <urgent> — Walvis “Bay” ąčę",
        "body": "Line one.\nLine two & <three>.",
        "expires_at": "+6h",
        "is_exercise": True,
        "ack_required": False,
        "targets": ["NA-POL"],
    },
    "no body, own agency targeted": {
        "category": "health",
        "severity": "critical",
        "body": "",
        "targets": ["NA-IMM", "NA-CUS"],
        "expires_at": "+1d",
    },
    "linked to an incident": {"incident": "new", "targets": ["NA-POL"]},
}


@pytest.mark.parametrize("variant", list(ROUND_TRIPS))
def test_export_then_import_gives_an_equal_alert(
    variant: str, schema: xmlschema.XMLSchema, now: datetime
) -> None:
    fields = dict(ROUND_TRIPS[variant])
    if "expires_at" in fields:
        fields["expires_at"] = now + (
            timedelta(hours=6) if fields["expires_at"] == "+6h" else timedelta(days=1)
        )
    if "incident" in fields:
        fields["incident"] = report().ref  # NA-IMM's, at WDH: the importer reads it
    original = issue(**fields)
    document = fetch_cap(original.pk, "na-imm.duty")
    validated(schema, document)
    response = import_cap(document, username="na-imm.coord")
    assert response.status_code == 201, response.content
    data = response.json()
    copy = Alert.objects.get(pk=data["id"])
    assert copy.pk != original.pk
    original.refresh_from_db()

    def shape(a: Alert) -> dict[str, Any]:
        return {
            "category": a.category,
            "severity": a.severity,
            "urgency": a.urgency,
            "certainty": a.certainty,
            "title": a.title,
            "body": a.body,
            "expires_at": a.expires_at,
            "exercise": a.is_exercise,
            "ack_required": a.ack_required,
            "targets": sorted(t.agency.code for t in a.target_rows.all()),
            "crossing_point": a.crossing_point.code,
            "incident": a.incident.ref if a.incident else None,
        }

    assert shape(copy) == shape(original)
    assert (copy.incident is not None) == ("incident" in fields)
    sender = settings.HUB_CAP_SENDER
    assert copy.source_identifier == f"{sender},{host()}.alert.{original.pk}.v1"
    assert copy.issuing_agency.code == "NA-IMM"
    assert copy.issued_by == officer("na-imm.coord")
    assert data["exercise"] is original.is_exercise
    [issued] = [
        e
        for e in Event.objects.filter(stream__name="crossing:WDH", kind="alert.issued")
        if e.payload["alert_id"] == copy.pk
    ]
    validate_payload(issued.kind, issued.payload)
    # The copy exports as valid CAP too.
    validated(schema, fetch_cap(copy.pk, "na-imm.duty"))


def test_importing_the_same_document_twice_creates_one_alert() -> None:
    document = fetch_cap(issue().pk)
    first = import_cap(document, username="na-cus.coord")
    before = written()
    again = import_cap(document, username="na-cus.coord")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert written() == before
    assert Alert.objects.filter(source_identifier__endswith=".v1").count() == 1


def test_round_trip_keeps_line_endings_of_the_body() -> None:
    """Bodies pasted from other systems carry CR LF: stored as LF, so the copy equals it."""
    body = "Line one.\r\nLine two.\rLine three.\tTabbed."
    original = issue(body=body)
    assert original.body == "Line one.\nLine two.\nLine three.\tTabbed."
    response = import_cap(fetch_cap(original.pk, "na-imm.duty"), username="na-imm.coord")
    assert response.status_code == 201, response.content
    assert Alert.objects.get(pk=response.json()["id"]).body == original.body


def test_the_same_document_imported_by_two_officers_is_one_alert() -> None:
    """alert_import_cap is documented as idempotent per CAP sender and identifier."""
    document = cap_document(identifier="partner.example.alert.77", geocode="WDH").encode()
    first = import_cap(document, username="na-imm.duty")
    assert first.status_code == 201, first.content
    before = written()
    second = import_cap(document, username="na-pol.coord")
    assert second.status_code == 200, second.content
    assert second.json()["id"] == first.json()["id"]
    assert written() == before
    assert (
        Alert.objects.filter(source_identifier__endswith=",partner.example.alert.77").count() == 1
    )


def test_a_reused_identifier_with_different_content_is_a_conflict() -> None:
    first = import_cap(cap_document(identifier="partner.example.alert.88").encode())
    assert first.status_code == 201, first.content
    before = written()
    changed = cap_document(identifier="partner.example.alert.88", headline="Something else")
    response = import_cap(changed.encode())
    assert (response.status_code, response.json()["code"]) == (409, "cap_identifier_reused")
    assert written() == before


def test_import_of_a_partner_document_uses_cap_defaults(schema: xmlschema.XMLSchema) -> None:
    document = cap_document(expires=timezone.now() + timedelta(hours=2)).encode()
    validated(schema, document)  # the fixture itself is valid CAP 1.2
    response = import_cap(document, username="na-air.duty", content_type="text/xml")
    assert response.status_code == 201, response.content
    alert = Alert.objects.get(pk=response.json()["id"])
    assert alert.category == "weather"  # CAP category Met
    assert alert.severity == "medium"  # CAP severity Unknown
    assert (alert.urgency, alert.certainty) == ("Expected", "Possible")
    assert alert.title == "Storm front approaching the apron"
    assert alert.ack_required is True
    assert alert.source_identifier.endswith(",partner.example.alert.42")
    # No <restriction>: every other agency at the point.
    assert sorted(t.agency.code for t in alert.target_rows.all()) == [
        "NA-CUS",
        "NA-IMM",
        "NA-POL",
    ]


def test_import_accepts_charset_parameter_and_application_xml() -> None:
    for i, content_type in enumerate(("application/cap+xml; charset=utf-8", "application/xml")):
        document = cap_document(identifier=f"partner.example.ct.{i}", geocode="WDH")
        response = import_cap(document.encode(), content_type=content_type)
        assert response.status_code == 201, (content_type, response.content)


def test_import_refuses_officers_elsewhere_and_anonymous() -> None:
    document = cap_document().encode()
    before = written()
    response = import_cap(document, username="za-imm.duty")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    response = import_cap(document, username="")
    assert response.status_code == 401
    assert written() == before


NOT_LINKED = "Incidents named in the CAP document (not linked):"


def imported(response: Any) -> Alert:
    assert response.status_code == 201, response.content
    return Alert.objects.select_related("incident").get(pk=response.json()["id"])


def test_incidents_link_only_a_readable_incident_at_the_same_point(
    schema: xmlschema.XMLSchema,
) -> None:
    here = report("na-imm.duty", "WDH")  # participants only: NA-IMM reads it, NA-AIR does not
    elsewhere = report("za-imm.duty", "JNB")
    document = cap_document(
        identifier="partner.example.incidents.1",
        geocode="WDH",
        incidents=f"{elsewhere.ref} {here.ref} PARTNER-77",
    )
    validated(schema, document.encode())
    alert = imported(import_cap(document.encode(), username="na-imm.coord"))
    assert alert.incident == here
    assert alert.body == f"Hail and gusts to 90 km/h.\n\n{NOT_LINKED} {elsewhere.ref} PARTNER-77"
    [issued] = [
        e
        for e in Event.objects.filter(stream__name="crossing:WDH", kind="alert.issued")
        if e.payload["alert_id"] == alert.pk
    ]
    assert issued.payload["incident"] == here.ref
    assert Event.objects.filter(stream__name=here.stream_name, kind="alert.issued").exists()


@pytest.mark.parametrize("whose", ["unreadable", "unknown", "elsewhere"])
def test_an_incident_the_importer_may_not_link_is_kept_as_a_note(whose: str) -> None:
    """Unreadable, unknown or at another point: the same answer, so nothing is revealed."""
    refs = {
        "unreadable": lambda: report("na-imm.duty", "WDH").ref,  # NA-AIR may not read it
        "unknown": lambda: "WDH-2026-9999",
        "elsewhere": lambda: report("za-imm.duty", "JNB").ref,
    }
    ref = refs[whose]()
    document = cap_document(identifier=f"partner.example.note.{whose}", incidents=ref)
    alert = imported(import_cap(document.encode(), username="na-air.duty"))
    assert alert.incident is None
    assert alert.body == f"Hail and gusts to 90 km/h.\n\n{NOT_LINKED} {ref}"


def test_the_same_document_with_an_incident_imported_again_by_another_officer() -> None:
    """The first import linked the incident; NA-AIR, who cannot read it, gets the same alert."""
    here = report("na-imm.duty", "WDH")
    document = cap_document(identifier="partner.example.incidents.2", incidents=here.ref)
    first = imported(import_cap(document.encode(), username="na-imm.duty"))
    assert first.incident == here
    before = written()
    again = import_cap(document.encode(), username="na-air.duty")
    assert again.status_code == 200, again.content
    assert again.json()["id"] == first.pk
    assert written() == before


def test_a_reused_identifier_is_not_revealed_to_officers_elsewhere(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Access comes first: 404 for officers who do not serve the point, not 409."""
    original = cap_document(identifier="partner.example.alert.99")
    assert import_cap(original.encode()).status_code == 201
    changed = cap_document(identifier="partner.example.alert.99", headline="Something else")
    before = written()
    for username in ("za-imm.duty", "na-cgd.coord", "na-imm.admin"):
        for document in (original, changed):
            caplog.clear()
            with caplog.at_level("WARNING", logger="hub.security"):
                response = import_cap(document.encode(), username=username)
            assert (response.status_code, response.json()["code"]) == (404, "not_found")
            [denial] = [r for r in caplog.records if r.name == "hub.security"]
            assert denial.__dict__["denied_action"] == "alert.issue"
    # Hostile XML from someone elsewhere is refused as a 404 too, before it is parsed.
    assert import_cap(b"<!DOCTYPE x []><x/>", username="za-imm.duty").status_code == 404
    assert written() == before
    # At the point, the clash is reported.
    response = import_cap(changed.encode(), username="na-pol.duty")
    assert (response.status_code, response.json()["code"]) == (409, "cap_identifier_reused")


def test_addresses_are_the_targets() -> None:
    document = cap_document(
        identifier="partner.example.addr.1", addresses='NA-POL "NA-CUS"', restriction="Border"
    )
    alert = imported(import_cap(document.encode()))
    assert sorted(t.agency.code for t in alert.target_rows.all()) == ["NA-CUS", "NA-POL"]
    before = written()
    unknown = cap_document(identifier="partner.example.addr.2", addresses="NA-POL ops@partner")
    response = import_cap(unknown.encode())
    assert (response.status_code, response.json()["code"]) == (422, "agency_not_deployed")
    assert written() == before


def test_documents_exported_before_addresses_still_give_their_targets() -> None:
    document = cap_document(
        identifier="hub.example.alert.7.v1", restriction="Border agencies: NA-POL NA-AIR"
    )
    alert = imported(import_cap(document.encode()))
    assert sorted(t.agency.code for t in alert.target_rows.all()) == ["NA-AIR", "NA-POL"]


def test_an_overlong_incidents_list_is_not_cap() -> None:
    document = cap_document(identifier="partner.example.long", incidents="X-1 " * 200)
    before = written()
    response = import_cap(document.encode())
    assert (response.status_code, response.json()["code"]) == (422, "not_cap")
    assert written() == before


def test_an_update_or_a_cancel_export_is_not_importable() -> None:
    alert = issue()
    services.alert_update(
        actor=officer("na-imm.duty"), alert_id=alert.pk, changes={"title": "Changed"}
    )
    before = written()
    response = import_cap(fetch_cap(alert.pk))
    assert (response.status_code, response.json()["code"]) == (422, "not_cap")
    assert written() == before
    services.alert_cancel(actor=officer("na-imm.duty"), alert_id=alert.pk, reason="Off")
    before = written()
    response = import_cap(fetch_cap(alert.pk))
    assert (response.status_code, response.json()["code"]) == (422, "not_cap")
    assert written() == before


# --- import: hostile and foreign XML -------------------------------------------------------

LOL = (
    '<?xml version="1.0"?>\n'
    "<!DOCTYPE alert [\n"
    ' <!ENTITY lol "lol">\n'
    + "".join(
        f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'
        for i in range(1, 10)
    )
    + "]>\n"
)


def hostile(name: str) -> bytes:
    base = cap_document(geocode="WDH")
    body = base.split("\n", 1)[1]  # without the XML declaration
    documents = {
        "billion laughs": LOL + body.replace("Storm front", "&lol9;"),
        "external entity": (
            '<?xml version="1.0"?>\n'
            '<!DOCTYPE alert [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
            + body.replace("Storm front approaching the apron", "&xxe;")
        ),
        "parameter entity": (
            '<?xml version="1.0"?>\n'
            '<!DOCTYPE alert [<!ENTITY % ext SYSTEM "file:///etc/passwd"> %ext;]>\n' + body
        ),
        "external dtd": (
            '<?xml version="1.0"?>\n<!DOCTYPE alert SYSTEM "http://127.0.0.1:9/cap.dtd">\n' + body
        ),
        "harmless internal dtd": '<?xml version="1.0"?>\n<!DOCTYPE alert []>\n' + body,
        "not well-formed": base.replace("</info>", ""),
        "truncated": base[: len(base) // 2],
        "not xml": "identifier=42&sender=me",
        "empty": "",
        "blank": "  \n\t ",
    }
    return documents[name].encode()


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("billion laughs", "xml_forbidden"),
        ("external entity", "xml_forbidden"),
        ("parameter entity", "xml_forbidden"),
        ("external dtd", "xml_forbidden"),
        ("harmless internal dtd", "xml_forbidden"),
        ("not well-formed", "invalid_xml"),
        ("truncated", "invalid_xml"),
        ("not xml", "invalid_xml"),
        ("empty", "invalid_xml"),
        ("blank", "invalid_xml"),
    ],
)
def test_hostile_or_broken_xml_is_refused_and_nothing_written(name: str, code: str) -> None:
    before = written()
    response = import_cap(hostile(name))
    assert response.status_code == 400, response.content
    error = response.json()
    assert error["code"] == code
    assert error["detail"]
    assert b"root:" not in response.content
    assert written() == before


@pytest.mark.parametrize(
    ("document", "code"),
    [
        ('<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"/>', "not_cap"),
        ("<alert><identifier>no namespace</identifier></alert>", "not_cap"),
        (cap_document(namespace=CAP11), "not_cap"),
        (cap_document(msg_type="Update"), "not_cap"),
        (cap_document(msg_type="Cancel"), "not_cap"),
        (cap_document(msg_type="Ack"), "not_cap"),
        (cap_document(status="Test"), "not_cap"),
        (cap_document(status="System"), "not_cap"),
        (cap_document(status="Draft"), "not_cap"),
        (cap_document().replace("<severity>Unknown</severity>", ""), "not_cap"),
        (cap_document().replace("<severity>Unknown</severity>", "<severity>Dire</severity>"),
         "not_cap"),
        (cap_document().replace("<sent>", "<sent>yesterday").replace("</sent>", "x</sent>"),
         "not_cap"),
        (cap_document(geocode="WVB"), "wrong_crossing_point"),
        (cap_document(restriction="Border agencies: ZA-IMM"), "agency_not_deployed"),
        (cap_document(expires=timezone.now() - timedelta(hours=1)), "invalid_request"),
    ],
    ids=[
        "atom feed",
        "no namespace",
        "cap 1.1",
        "msgType Update",
        "msgType Cancel",
        "msgType Ack",
        "status Test",
        "status System",
        "status Draft",
        "no severity",
        "unknown severity",
        "bad sent",
        "geocode of another point",
        "target not deployed",
        "already expired",
    ],
)  # fmt: skip
def test_foreign_or_unacceptable_cap_is_422_and_nothing_written(document: str, code: str) -> None:
    before = written()
    response = import_cap(document.encode())
    assert response.status_code == 422, response.content
    assert response.json()["code"] == code
    assert response.json()["detail"]
    assert written() == before


@pytest.mark.parametrize(
    "content_type", ["application/json", "text/plain", "application/x-www-form-urlencoded"]
)
def test_wrong_content_type_is_415(content_type: str) -> None:
    before = written()
    response = import_cap(cap_document(geocode="WDH").encode(), content_type=content_type)
    assert response.status_code == 415, response.content
    assert response.json()["code"] == "unsupported_media_type"
    assert written() == before


# --- Atom -------------------------------------------------------------------------------------


def feed(code: str = "WDH", username: str = "na-cus.duty") -> ET.Element:
    response = Api(username).get(f"/api/v1/crossing-points/{code}/alerts.atom")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/atom+xml")
    root = ET.fromstring(response.content)  # noqa: S314 - our own output
    return root


def entry_ids(root: ET.Element) -> list[str | None]:
    return [e.findtext("a:id", namespaces=A) for e in root.findall("a:entry", A)]


def test_atom_feed_parses_as_atom_and_links_cap(schema: xmlschema.XMLSchema, now: datetime) -> None:
    drill = issue(is_exercise=True, title="Evacuation drill", now=now)
    expiring = issue(
        severity="low", expires_at=now + timedelta(hours=2), title="Queue system slow", now=now
    )
    issue(username="na-imm.duty", crossing_point="WVB", title="At the port")
    root = feed()
    assert root.tag == f"{{{ATOM}}}feed"
    assert root.findtext("a:id", namespaces=A) == f"tag:{host()},2026:crossing:WDH:alerts"
    assert "WDH" in (root.findtext("a:title", namespaces=A) or "")
    assert root.findtext("a:updated", namespaces=A)
    assert root.findtext("a:author/a:name", namespaces=A)
    [self_link] = root.findall("a:link[@rel='self']", A)
    assert self_link.get("href", "").endswith("/api/v1/crossing-points/WDH/alerts.atom")
    assert entry_ids(root) == [
        f"tag:{host()},2026:alert:{expiring.pk}",
        f"tag:{host()},2026:alert:{drill.pk}",
    ]
    entries = {e.findtext("a:id", namespaces=A): e for e in root.findall("a:entry", A)}
    drill_entry = entries[f"tag:{host()},2026:alert:{drill.pk}"]
    assert drill_entry.findtext("a:title", namespaces=A) == "[EXERCISE] Evacuation drill"
    plain_entry = entries[f"tag:{host()},2026:alert:{expiring.pk}"]
    assert plain_entry.findtext("a:title", namespaces=A) == "Queue system slow"
    assert (plain_entry.findtext("a:summary", namespaces=A) or "").startswith(
        "LOW · to NA-AIR, NA-CUS, NA-POL"
    )
    for alert, entry in ((drill, drill_entry), (expiring, plain_entry)):
        assert entry.findtext("a:published", namespaces=A)
        assert entry.findtext("a:updated", namespaces=A)
        assert entry.findtext("a:author/a:name", namespaces=A) == "Namibia Immigration Service"
        category = entry.find("a:category", A)
        assert category is not None
        assert category.get("term") == alert.category
        [link] = entry.findall("a:link", A)
        assert (link.get("rel"), link.get("type")) == ("alternate", "application/cap+xml")
        href = link.get("href", "")
        assert href == f"http://testserver/api/v1/alerts/{alert.pk}/cap"
        cap = Api("na-cus.duty").get(href.removeprefix("http://testserver"))
        assert cap.status_code == 200
        root_cap = validated(schema, cap.content)
        assert text(root_cap, "cap:identifier") == f"{host()}.alert.{alert.pk}.v1"
        assert text(root_cap, "cap:status") == ("Exercise" if alert.is_exercise else "Actual")


def test_atom_feed_leaves_out_expired_alerts(now: datetime) -> None:
    current = issue(title="Still current", expires_at=now + timedelta(hours=1), now=now)
    lapsed = issue(
        title="Lapsed", expires_at=now - timedelta(minutes=30), now=now - timedelta(hours=1)
    )
    # Expired by the clock, before any sweep marked it...
    assert entry_ids(feed()) == [f"tag:{host()},2026:alert:{current.pk}"]
    # ...and once the sweep has.
    assert alert_expiry.alerts_expire_due(now=now) == [lapsed.pk]
    assert entry_ids(feed()) == [f"tag:{host()},2026:alert:{current.pk}"]


def test_atom_feed_leaves_out_cancelled_alerts(now: datetime) -> None:
    current = issue(title="Still current", now=now)
    cancelled = issue(title="Withdrawn", now=now)
    services.alert_cancel(actor=officer("na-imm.duty"), alert_id=cancelled.pk, reason="Wrong")
    assert entry_ids(feed()) == [f"tag:{host()},2026:alert:{current.pk}"]


def test_atom_feed_is_empty_without_alerts_and_refused_elsewhere() -> None:
    root = feed("WEN", "zm-imm.duty")
    assert root.findall("a:entry", A) == []
    assert Api("za-imm.duty").get("/api/v1/crossing-points/WDH/alerts.atom").status_code == 404
    assert Api("na-imm.duty").get("/api/v1/crossing-points/NOPE/alerts.atom").status_code == 404


def test_import_client_msg_id_derives_from_sender_and_identifier() -> None:
    """Importing is idempotent because the client_msg_id derives from sender and identifier."""
    from hub.alerts.cap import parse_cap

    document = cap_document().encode()
    a, b = parse_cap(document), parse_cap(document)
    assert a.client_msg_id == b.client_msg_id
    assert isinstance(a.client_msg_id, uuid.UUID)
    other = parse_cap(cap_document(identifier="partner.example.alert.43").encode())
    assert other.client_msg_id != a.client_msg_id
