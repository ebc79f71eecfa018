"""OASIS Common Alerting Protocol 1.2: every alert as a CAP document, and CAP import.

Export writes elements in the schema's order, so documents validate against
the official CAP 1.2 XSD (tests/fixtures/cap). Import parses untrusted XML with
defusedxml and refuses any DTD (so no entity expansion, internal or external),
anything that is not well-formed, and anything that is not a CAP 1.2 alert.

Mapping (both ways):
- severity low/medium/high/critical ↔ CAP Minor/Moderate/Severe/Extreme;
- urgency and certainty are CAP's own vocabularies;
- ``status`` is Exercise for drills, Actual otherwise; the headline of a drill
  starts with "EXERCISE: ";
- ``scope`` is Restricted. ``<restriction>`` says who may read the alert (every
  agency deployed at the crossing point: the point's alert stream is the
  committee's shared board) and which agencies must acknowledge it (or, without
  acknowledgement, are addressed); ``<addresses>`` lists those targeted agencies'
  codes, and is what import reads as the targets (documents exported before
  ``<addresses>`` carried ``Border agencies: <codes>`` in ``<restriction>``,
  still understood);
- ``<incidents>`` carries the linked incident's ref. On import it links the
  alert to that incident when the incident exists at the same crossing point and
  the importing officer may read it; any other reference (unknown, elsewhere, not
  readable, or a partner system's own incident id) is kept as a last line of the
  body, ``Incidents named in the CAP document (not linked): <refs>``, so nothing
  in the document is lost and nothing about incidents the officer may not see
  is revealed;
- ``msgType`` is Alert (version 1), Update (later versions) or Cancel, and
  ``<references>`` lists the earlier versions;
- the area is the crossing point, a circle of ``AREA_RADIUS_KM`` round its
  coordinates, with its code as a geocode;
- the hub's own category and the acknowledgement requirement travel as
  ``eventCode``/``parameter`` pairs, so an export imports back unchanged.
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from django.conf import settings

from hub.alerts.models import Alert, AlertCategory, AlertStatus
from hub.errors import HubError, InvalidInput
from hub.events.models import Event

NS = "urn:oasis:names:tc:emergency:cap:1.2"
AREA_RADIUS_KM = 5
EXERCISE_PREFIX = "EXERCISE: "
RESTRICTION_PREFIX = "Border agencies:"  # targets, in documents exported before <addresses>
INCIDENT_NOTE = "Incidents named in the CAP document (not linked):"
MAX_INCIDENTS_TEXT = 500
CATEGORY_CODE = "border-hub:category"
ACK_PARAMETER = "border-hub:ackRequired"
POINT_GEOCODE = "border-hub:crossing-point"
CAP_IMPORT_NAMESPACE = uuid.UUID("2b7a0c55-6a55-4c55-9a2e-8f1e5f4c7d10")

SEVERITY_TO_CAP = {"low": "Minor", "medium": "Moderate", "high": "Severe", "critical": "Extreme"}
CAP_TO_SEVERITY = {v: k for k, v in SEVERITY_TO_CAP.items()} | {"Unknown": "medium"}
CATEGORY_TO_CAP = {
    "wanted_person": "Security",
    "trafficking_risk": "Security",
    "smuggling": "Security",
    "document_fraud": "Security",
    "vessel_of_interest": "Transport",
    "security_threat": "Security",
    "health": "Health",
    "weather": "Met",
    "systems": "Infra",
    "other": "Other",
}
CAP_TO_CATEGORY = {
    "Security": "security_threat",
    "Health": "health",
    "Met": "weather",
    "Geo": "weather",
    "Infra": "systems",
    "Transport": "vessel_of_interest",
}


class XmlRefused(HubError):
    status = 400
    default_code = "xml_refused"


class NotCap(HubError):
    status = 422
    default_code = "not_cap"


def cap_time(value: datetime) -> str:
    """CAP's dateTime form: seconds, explicit offset (the schema refuses "Z")."""
    return value.astimezone(UTC).replace(microsecond=0).isoformat()


def identifier(alert: Alert, version: int) -> str:
    host = settings.HUB_CAP_SENDER.split("@")[-1]
    return f"{host}.alert.{alert.pk}.v{version}"


def _version_times(alert: Alert) -> dict[int, datetime]:
    events = Event.objects.filter(
        stream__name=alert.stream_name,
        kind__in=["alert.issued", "alert.updated", "alert.cancelled"],
        payload__alert_id=alert.pk,
    ).values_list("payload", "at")
    return {int(payload["version"]): at for payload, at in events}


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, f"{{{NS}}}{tag}")
    if text is not None:
        element.text = text
    return element


def restriction_text(alert: Alert, targets: list[str]) -> str:
    """Who may read the alert, and who must act on it (CAP ``<restriction>``)."""
    point = alert.crossing_point
    readers = (
        f"Border Coordination Hub: readable by the agencies deployed at {point.code} ({point.name})"
    )
    if alert.ack_required:
        return f"{readers}; acknowledgement required from {', '.join(targets)}."
    return f"{readers}; addressed to {', '.join(targets)} (no acknowledgement required)."


def alert_to_cap(alert: Alert) -> bytes:
    """The alert's current version as a CAP 1.2 document."""
    sender = settings.HUB_CAP_SENDER
    times = _version_times(alert)
    sent = times.get(alert.version, alert.updated_at)
    point = alert.crossing_point
    targets = sorted(t.agency.code for t in alert.target_rows.all())

    root = ET.Element(f"{{{NS}}}alert")
    _sub(root, "identifier", identifier(alert, alert.version))
    _sub(root, "sender", sender)
    _sub(root, "sent", cap_time(sent))
    _sub(root, "status", "Exercise" if alert.is_exercise else "Actual")
    if alert.status == AlertStatus.CANCELLED:
        msg_type = "Cancel"
    elif alert.version > 1:
        msg_type = "Update"
    else:
        msg_type = "Alert"
    _sub(root, "msgType", msg_type)
    _sub(root, "source", alert.issuing_agency.name)
    _sub(root, "scope", "Restricted")
    _sub(root, "restriction", restriction_text(alert, targets))
    _sub(root, "addresses", " ".join(targets))
    if alert.status == AlertStatus.CANCELLED and alert.cancel_reason:
        _sub(root, "note", f"Cancelled: {alert.cancel_reason}")
    earlier = [
        f"{sender},{identifier(alert, v)},{cap_time(times[v])}"
        for v in sorted(times)
        if v < alert.version
    ]
    if earlier:
        _sub(root, "references", " ".join(earlier))
    if alert.incident is not None:
        _sub(root, "incidents", alert.incident.ref)

    info = _sub(root, "info")
    _sub(info, "language", "en")
    _sub(info, "category", CATEGORY_TO_CAP[alert.category])
    _sub(info, "event", AlertCategory(alert.category).label)
    _sub(info, "responseType", "AllClear" if msg_type == "Cancel" else "Monitor")
    _sub(info, "urgency", alert.urgency)
    _sub(info, "severity", SEVERITY_TO_CAP[alert.severity])
    _sub(info, "certainty", alert.certainty)
    code = _sub(info, "eventCode")
    _sub(code, "valueName", CATEGORY_CODE)
    _sub(code, "value", alert.category)
    _sub(info, "effective", cap_time(alert.created_at))
    if alert.expires_at is not None:
        _sub(info, "expires", cap_time(alert.expires_at))
    _sub(info, "senderName", alert.issuing_agency.name)
    headline = (EXERCISE_PREFIX if alert.is_exercise else "") + alert.title
    _sub(info, "headline", headline)
    if alert.body:
        _sub(info, "description", alert.body)
    if alert.ack_required:
        _sub(info, "instruction", "Acknowledge for your agency in the Border Coordination Hub.")
    parameter = _sub(info, "parameter")
    _sub(parameter, "valueName", ACK_PARAMETER)
    _sub(parameter, "value", "true" if alert.ack_required else "false")
    area = _sub(info, "area")
    _sub(area, "areaDesc", f"{point.name} ({point.code})")
    _sub(area, "circle", f"{point.latitude},{point.longitude} {AREA_RADIUS_KM}")
    geocode = _sub(area, "geocode")
    _sub(geocode, "valueName", POINT_GEOCODE)
    _sub(geocode, "value", point.code)

    ET.register_namespace("", NS)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body


# --- import -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CapAlert:
    """What an imported CAP document asks the hub to issue."""

    identifier: str
    sender: str
    is_exercise: bool
    category: str
    severity: str
    urgency: str
    certainty: str
    title: str
    body: str
    expires_at: datetime | None
    targets: list[str] | None
    ack_required: bool
    crossing_point: str | None
    incidents: tuple[str, ...] = ()

    @property
    def client_msg_id(self) -> uuid.UUID:
        """Importing the same document twice is the same write."""
        return uuid.uuid5(CAP_IMPORT_NAMESPACE, f"{self.sender}\n{self.identifier}")


def _text(parent: Any, tag: str) -> str | None:
    element = parent.find(f"{{{NS}}}{tag}")
    if element is None or element.text is None:
        return None
    text: str = element.text.strip()
    return text


def _required(parent: Any, tag: str) -> str:
    value = _text(parent, tag)
    if not value:
        raise NotCap(f"CAP element <{tag}> is missing.")
    return value


def _pairs(parent: Any, tag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for element in parent.findall(f"{{{NS}}}{tag}"):
        name, value = _text(element, "valueName"), _text(element, "value")
        if name and value is not None:
            out[name] = value
    return out


def _cap_datetime(value: str, field: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise NotCap(f"<{field}> is not a CAP date and time.") from None
    if parsed.tzinfo is None:
        raise NotCap(f"<{field}> has no time zone offset.")
    return parsed


def parse_cap(document: bytes) -> CapAlert:
    """Parse an untrusted CAP 1.2 document (raises XmlRefused, NotCap or InvalidInput)."""
    if not document.strip():
        raise XmlRefused("The body is empty; send a CAP 1.2 XML document.", code="invalid_xml")
    try:
        root = SafeET.fromstring(
            document, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except DefusedXmlException as exc:
        raise XmlRefused(
            f"The document declares a DTD or entities, which are refused ({type(exc).__name__}).",
            code="xml_forbidden",
        ) from None
    except ET.ParseError as exc:
        raise XmlRefused(f"The body is not well-formed XML: {exc}.", code="invalid_xml") from None
    if root.tag != f"{{{NS}}}alert":
        raise NotCap(f"The root element is {root.tag!r}, not a CAP 1.2 <alert>.")
    ident = _required(root, "identifier")
    sender = _required(root, "sender")
    _cap_datetime(_required(root, "sent"), "sent")
    status = _required(root, "status")
    if status not in {"Actual", "Exercise"}:
        raise NotCap(f"status {status!r} is not imported; only Actual and Exercise alerts are.")
    msg_type = _required(root, "msgType")
    if msg_type != "Alert":
        raise NotCap(f"msgType {msg_type!r} is not imported; import the alert as msgType Alert.")
    _required(root, "scope")
    info = root.find(f"{{{NS}}}info")
    if info is None:
        raise NotCap("The CAP alert has no <info> block.")
    severity_cap = _required(info, "severity")
    if severity_cap not in CAP_TO_SEVERITY:
        raise NotCap(f"Unknown CAP severity {severity_cap!r}.")
    codes = _pairs(info, "eventCode")
    category = codes.get(CATEGORY_CODE) or CAP_TO_CATEGORY.get(
        _text(info, "category") or "", "other"
    )
    exercise = status == "Exercise"
    headline = _text(info, "headline") or _required(info, "event")
    if exercise and headline.startswith(EXERCISE_PREFIX):
        headline = headline[len(EXERCISE_PREFIX) :]
    expires = _text(info, "expires")
    addresses = _text(root, "addresses")
    restriction = _text(root, "restriction") or ""
    targets: list[str] | None = None
    if addresses:
        targets = _addresses(addresses)
    elif restriction.startswith(RESTRICTION_PREFIX):
        targets = restriction[len(RESTRICTION_PREFIX) :].split()
    incidents_text = _text(root, "incidents") or ""
    if len(incidents_text) > MAX_INCIDENTS_TEXT:
        raise NotCap(f"<incidents> is longer than {MAX_INCIDENTS_TEXT} characters.")
    parameters = _pairs(info, "parameter")
    point: str | None = None
    area = info.find(f"{{{NS}}}area")
    if area is not None:
        point = _pairs(area, "geocode").get(POINT_GEOCODE)
    return CapAlert(
        identifier=ident[:300],
        sender=sender[:300],
        is_exercise=exercise,
        category=category,
        severity=CAP_TO_SEVERITY[severity_cap],
        urgency=_required(info, "urgency"),
        certainty=_required(info, "certainty"),
        title=headline,
        body=_text(info, "description") or "",
        expires_at=_cap_datetime(expires, "expires") if expires else None,
        targets=targets,
        ack_required=parameters.get(ACK_PARAMETER, "true").lower() != "false",
        crossing_point=point,
        incidents=tuple(dict.fromkeys(incidents_text.split())),
    )


def _addresses(text: str) -> list[str]:
    """CAP's space-delimited list, where an address with spaces is in double quotes."""
    return [quoted or bare for quoted, bare in re.findall(r'"([^"]*)"|(\S+)', text)]


def incident_note(incidents: list[str]) -> str:
    return f"{INCIDENT_NOTE} {' '.join(incidents)}" if incidents else ""


__all__ = ["CapAlert", "InvalidInput", "NotCap", "XmlRefused", "alert_to_cap", "parse_cap"]
