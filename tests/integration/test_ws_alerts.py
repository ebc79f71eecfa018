"""Alerts over the WebSocket: alert.ack, and re-delivery of unacknowledged alerts."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from hub.alerts import services
from hub.alerts.models import AlertTarget
from hub.realtime.hub import reset_hub
from tests.factories import officer, seed
from tests.realtime_support import Socket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def alert_id(settings: Any) -> AsyncIterator[int]:
    settings.REDIS_URL = None

    def setup() -> int:
        seed()
        return services.alert_issue(
            actor=officer("na-imm.coord"),
            crossing_point="WDH",
            category="document_fraud",
            severity="high",
            title="Counterfeit visas",
            targets=["NA-POL", "NA-CUS"],
        ).alert.pk

    yield await sync_to_async(setup)()
    await reset_hub()
    await sync_to_async(connections.close_all)()


async def test_pending_alerts_are_redelivered_on_connect_and_resume(alert_id: int) -> None:
    s = await Socket.open("na-pol.duty")
    pending = await s.recv()
    assert pending["type"] == "pending_alerts"
    assert pending["crossing_point"] is None
    [item] = pending["alerts"]
    assert (item["id"], item["agencies"], item["exercise"], item["overdue"]) == (
        alert_id,
        ["NA-POL"],
        False,
        False,
    )
    frames = await s.subscribe("crossing:WDH")
    assert [f["kind"] for f in frames if f["type"] == "event"] == ["alert.issued"]
    resumed = await s.recv_until("pending_alerts")
    assert resumed[-1]["crossing_point"] == "WDH"
    assert [a["id"] for a in resumed[-1]["alerts"]] == [alert_id]
    await s.close()


async def test_untargeted_agency_gets_no_pending_alerts(alert_id: int) -> None:
    s = await Socket.open("na-air.duty")
    assert await s.nothing(0.3)
    frames = await s.subscribe("crossing:WDH")
    assert frames[-1]["type"] == "caught_up"
    after = await s.recv_until("pending_alerts")
    assert after[-1]["alerts"] == []
    await s.close()


async def test_alert_ack_over_the_socket(alert_id: int) -> None:
    s = await Socket.open("na-pol.duty")
    await s.recv()  # pending_alerts
    await s.subscribe("crossing:WDH")
    await s.recv_until("pending_alerts")
    cmid = str(uuid.uuid4())
    await s.send({"type": "alert.ack", "alert_id": alert_id, "client_msg_id": cmid})
    frames = [await s.recv(), await s.recv()]
    ack = next(f for f in frames if f["type"] == "ack")
    event = next(f for f in frames if f["type"] == "event")
    assert ack == {"type": "ack", "client_msg_id": cmid, "stream": "crossing:WDH", "seq": 2}
    assert (event["kind"], event["seq"], event["payload"]["agency"]) == (
        "alert.acknowledged",
        2,
        "NA-POL",
    )
    assert event["payload"]["pending"] == ["NA-CUS"]
    await s.send({"type": "alert.ack", "alert_id": alert_id, "client_msg_id": cmid})
    assert await s.recv() == ack, "a repeat gets the same ack"
    acked = await sync_to_async(
        lambda: (
            AlertTarget.objects.filter(alert_id=alert_id, agency__code="NA-POL")
            .values_list("acknowledged_by__username", flat=True)
            .get()
        )
    )()
    assert acked == "na-pol.duty"
    await s.close()
    again = await Socket.open("na-pol.duty")
    assert await again.nothing(0.3), "nothing pending any more"
    await again.close()


async def test_alert_ack_refusals(alert_id: int) -> None:
    s = await Socket.open("na-air.duty")
    cmid = str(uuid.uuid4())
    await s.send({"type": "alert.ack", "alert_id": alert_id, "client_msg_id": cmid})
    refused = await s.recv()
    # ref echoes the client_msg_id, which the client correlates its writes on.
    assert (refused["type"], refused["code"], refused["ref"]) == ("error", "forbidden", cmid)
    await s.close()
    other = await Socket.open("za-imm.duty")
    cmid = str(uuid.uuid4())
    await other.send({"type": "alert.ack", "alert_id": alert_id, "client_msg_id": cmid})
    hidden = await other.recv()
    assert (hidden["code"], hidden["ref"]) == ("not_found", cmid)
    await other.close()


@pytest.mark.parametrize("username", ["za-imm.duty", "na-cgd.duty", "na-cgd.senior"])
async def test_nobody_outside_the_crossing_point_reads_its_alerts_live(
    alert_id: int, username: str
) -> None:
    """Another country (ZA-IMM) or another point of the same country (NA-CGD at WVB):
    no pending alerts, and subscribing to crossing:WDH is refused as if it did not exist."""
    s = await Socket.open(username)
    assert await s.nothing(0.3), "no pending alerts from a point one does not serve"
    await s.send({"type": "subscribe", "stream": "crossing:WDH", "after": 0})
    refused = await s.recv()
    assert (refused["type"], refused["code"]) == ("error", "not_found")
    assert await s.nothing(0.3), "no events follow the refusal"
    await s.close()
