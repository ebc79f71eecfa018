"""An Atom feed (RFC 4287) of a crossing point's current alerts, each linking its CAP document."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from django.conf import settings

from hub.agencies.models import CrossingPoint
from hub.alerts.models import Alert, AlertCategory

ATOM = "http://www.w3.org/2005/Atom"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    if text is not None:
        element.text = text
    return element


def _time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def alerts_feed(point: CrossingPoint, alerts: list[Alert], *, base_url: str) -> bytes:
    host = settings.HUB_CAP_SENDER.split("@")[-1]
    feed = ET.Element(f"{{{ATOM}}}feed")
    _sub(feed, "id", f"tag:{host},2026:crossing:{point.code}:alerts")
    _sub(feed, "title", f"Alerts at {point.name} ({point.code})")
    updated = max((a.updated_at for a in alerts), default=datetime.now(UTC))
    _sub(feed, "updated", _time(updated))
    author = _sub(feed, "author")
    _sub(author, "name", "Border Coordination Hub")
    _sub(
        feed, "link", rel="self", href=f"{base_url}/api/v1/crossing-points/{point.code}/alerts.atom"
    )
    for alert in alerts:
        entry = _sub(feed, "entry")
        _sub(entry, "id", f"tag:{host},2026:alert:{alert.pk}")
        prefix = "[EXERCISE] " if alert.is_exercise else ""
        _sub(entry, "title", f"{prefix}{alert.title}")
        _sub(entry, "published", _time(alert.created_at))
        _sub(entry, "updated", _time(alert.updated_at))
        entry_author = _sub(entry, "author")
        _sub(entry_author, "name", alert.issuing_agency.name)
        _sub(entry, "category", term=alert.category, label=AlertCategory(alert.category).label)
        targets = ", ".join(t.agency.code for t in alert.target_rows.all())
        summary = f"{alert.severity.upper()} · to {targets}"
        if alert.body:
            summary += f" — {alert.body}"
        _sub(entry, "summary", summary)
        _sub(
            entry,
            "link",
            rel="alternate",
            type="application/cap+xml",
            href=f"{base_url}/api/v1/alerts/{alert.pk}/cap",
        )
    ET.register_namespace("", ATOM)
    body: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return body
