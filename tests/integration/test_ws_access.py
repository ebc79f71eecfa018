"""Access that changes under an open socket, when the control message is lost or late.

Control messages are at most once (a publish error is logged and dropped), so
the live layer must also notice on its own: every client frame re-reads the
user and their session or token, and every ``HUB_WS_RECHECK_INTERVAL`` seconds
each worker re-checks all its sockets in one batch. These tests suppress the
control message (``hub.events.control._publish``) and show that the socket is
closed, or its subscription ended, all the same; they also cover the order of
concurrent subscribes and re-checks, re-checks that must not stall the reader,
a consumer cancelled mid-replay, a Redis loss that must reach every socket at
once, pending alerts and presence of an officer who belongs to two agencies, and
sign-out through the API and the admin.

Waits are generous timeouts for something that must happen, never timings.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.sessions.models import Session
from django.db import connections, transaction
from django.test import Client
from django.utils import timezone

from hub.accounts.models import ApiToken
from hub.accounts.services import token_issue
from hub.agencies.models import Agency, CrossingPoint, Membership, Role
from hub.agencies.selectors import access_for
from hub.agencies.services import membership_revoke, user_deactivate
from hub.alerts.services import alert_issue
from hub.asgi import application
from hub.events import control
from hub.incidents import services as incidents
from hub.incidents.models import Incident, Message
from hub.realtime import protocol as p
from hub.realtime.hub import RealtimeHub, current_hub, reset_hub
from hub.realtime.selectors import accesses_for
from tests.factories import officer, post, report, seed
from tests.realtime_support import NOISE, ORIGIN, Socket, signed_in_browser

pytestmark = pytest.mark.django_db(transaction=True)

Frame = dict[str, Any]
WAIT = 20.0  # seconds: generous, for something that must happen


class Sockets:
    def __init__(self) -> None:
        self.opened: list[Socket] = []

    async def open(self, username: str | None = None, **kwargs: Any) -> Socket:
        socket = await Socket.open(username, **kwargs)
        self.opened.append(socket)
        return socket

    async def close_all(self) -> None:
        for socket in self.opened:
            with contextlib.suppress(Exception):
                await socket.close()


@pytest.fixture
async def region(settings: Any) -> AsyncIterator[Sockets]:
    """The demo region on the in-process bus, with a fast periodic re-check."""
    settings.REDIS_URL = None
    settings.HUB_WS_RECHECK_INTERVAL = 0.2
    await sync_to_async(seed)()
    sockets = Sockets()
    yield sockets
    await sockets.close_all()
    await reset_hub()
    await sync_to_async(connections.close_all)()


@contextlib.contextmanager
def control_messages_lost() -> Iterator[mock.MagicMock]:
    """Control messages are published into the void (as when Redis drops them)."""
    with mock.patch.object(control, "_publish") as publish:
        yield publish


def the_hub() -> RealtimeHub:
    hub = current_hub()
    assert hub is not None
    return hub


async def frames_until(s: Socket, wanted: Callable[[Frame], bool], timeout: float = WAIT) -> Frame:
    """Frames until one satisfies ``wanted`` (anything else is skipped)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        frame = await s.recv(max(deadline - loop.time(), 0.01))
        if wanted(frame):
            return frame
        assert frame["type"] != "__closed__", frame


async def reply(s: Socket, timeout: float = 5) -> Frame:
    return await frames_until(s, lambda f: f["type"] not in NOISE, timeout)


def revoked(stream: str) -> Callable[[Frame], bool]:
    return lambda f: f == {"type": "unsubscribed", "stream": stream, "reason": "access_revoked"}


def events_in(frames: list[Frame]) -> list[Frame]:
    return [f for f in frames if f["type"] == "event"]


async def drain(s: Socket, quiet: float = 0.4) -> list[Frame]:
    frames = []
    while not await s.nothing(quiet):
        frames.append(await s.recv())
    return frames


def deactivate(username: str) -> None:
    user_deactivate(user=officer(username))


def revoke_membership(username: str) -> None:
    membership_revoke(membership=Membership.objects.get(user__username=username, is_active=True))


def narrow_visibility(ref: str) -> None:
    incidents.incident_update(
        actor=officer("na-imm.duty"), ref=ref, changes={"visibility": "participants"}
    )


def issue_token(username: str) -> tuple[int, str]:
    issued = token_issue(user=officer(username), name="ws access test")
    return issued.token.pk, issued.raw


def expire_token(token_id: int) -> None:
    ApiToken.objects.filter(pk=token_id).update(expires_at=timezone.now() - timedelta(seconds=1))


def expire_session(cookie: str) -> None:
    key = cookie.split("=", 1)[1]
    Session.objects.filter(session_key=key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )


async def incident(username: str = "na-imm.duty", **fields: Any) -> Incident:
    return await sync_to_async(report)(username, "WDH", **fields)


async def posted(username: str, ref: str, body: str = "a message") -> int:
    return (await sync_to_async(post)(username, ref, body)).seq


# --- 1. sign-in state is re-read, without any control message ----------------------------


async def test_deactivation_without_a_control_message_closes_within_the_recheck(
    region: Sockets,
) -> None:
    inc = await incident()
    s = await region.open("na-imm.coord")
    await s.subscribe(inc.stream_name)
    with control_messages_lost() as publish:
        await sync_to_async(deactivate)("na-imm.coord")
    assert publish.called, "the service did announce it; the message was lost"
    assert await s.closed_with(WAIT) == p.CloseCode.UNAUTHENTICATED


async def test_an_expired_token_closes_its_socket_within_the_recheck(region: Sockets) -> None:
    token_id, raw = await sync_to_async(issue_token)("na-imm.duty")
    bearer = await region.open(token=raw)
    browser = await region.open("na-imm.duty")
    await sync_to_async(expire_token)(token_id)  # expiry has no control message at all
    assert await bearer.closed_with(WAIT) == p.CloseCode.UNAUTHENTICATED
    await browser.send({"type": "ping"})
    assert await reply(browser) == {"type": "pong"}  # the same user's session socket stays


async def test_an_expired_session_closes_its_socket_within_the_recheck(region: Sockets) -> None:
    _, cookie = await sync_to_async(signed_in_browser)("na-imm.duty")
    s = await region.open(cookie=cookie)
    await sync_to_async(expire_session)(cookie)
    assert await s.closed_with(WAIT) == p.CloseCode.UNAUTHENTICATED


@pytest.mark.parametrize("frame_kind", ["ping", "message.send", "unsubscribe"])
async def test_the_next_frame_of_a_deactivated_user_is_refused(
    region: Sockets, settings: Any, frame_kind: str
) -> None:
    settings.HUB_WS_RECHECK_INTERVAL = 3600  # only the per-frame check can notice
    inc = await incident()
    s = await region.open("na-imm.coord")
    await s.subscribe(inc.stream_name)
    before = await sync_to_async(Message.objects.count)()
    with control_messages_lost():
        await sync_to_async(deactivate)("na-imm.coord")
    frames: dict[str, Frame] = {
        "ping": {"type": "ping"},
        "unsubscribe": {"type": "unsubscribe", "stream": inc.stream_name},
        "message.send": {
            "type": "message.send",
            "stream": inc.stream_name,
            "client_msg_id": str(uuid.uuid4()),
            "body": "after my deactivation",
        },
    }
    await s.send(frames[frame_kind])
    assert await s.closed_with() == p.CloseCode.UNAUTHENTICATED
    assert await sync_to_async(Message.objects.count)() == before


async def test_an_alert_ack_after_deactivation_is_refused_and_acknowledges_nothing(
    region: Sockets, settings: Any
) -> None:
    # The sign-in check of a write frame runs in the same database call as the write.
    settings.HUB_WS_RECHECK_INTERVAL = 3600
    from hub.alerts.models import AlertTarget

    def issue() -> int:
        return alert_issue(
            actor=officer("na-cus.duty"),
            crossing_point="WDH",
            category="wanted_person",
            severity="high",
            title="Watch-list hit",
            targets=["NA-IMM"],
        ).alert.pk

    alert_id = await sync_to_async(issue)()
    s = await region.open("na-imm.duty")
    with control_messages_lost():
        await sync_to_async(deactivate)("na-imm.duty")
    await s.send({"type": "alert.ack", "alert_id": alert_id, "client_msg_id": str(uuid.uuid4())})
    assert await s.closed_with() == p.CloseCode.UNAUTHENTICATED

    def acknowledged() -> int:
        return AlertTarget.objects.filter(alert_id=alert_id, acknowledged_at__isnull=False).count()

    assert await sync_to_async(acknowledged)() == 0


async def test_the_next_frame_on_an_expired_token_is_refused(
    region: Sockets, settings: Any
) -> None:
    settings.HUB_WS_RECHECK_INTERVAL = 3600
    token_id, raw = await sync_to_async(issue_token)("na-imm.duty")
    s = await region.open(token=raw)
    await sync_to_async(expire_token)(token_id)
    await s.send({"type": "ping"})
    assert await s.closed_with() == p.CloseCode.UNAUTHENTICATED


async def test_revoked_membership_without_a_control_message_ends_the_subscription(
    region: Sockets,
) -> None:
    inc = await incident()
    coord = await region.open("na-imm.coord")
    await coord.subscribe(inc.stream_name)
    with control_messages_lost():
        await sync_to_async(revoke_membership)("na-imm.coord")
    await frames_until(coord, revoked(inc.stream_name))
    await posted("na-imm.duty", inc.ref, "after the revocation")
    assert events_in(await drain(coord)) == []


async def test_narrowed_visibility_without_a_control_message_ends_the_subscription(
    region: Sockets,
) -> None:
    inc = await incident(visibility="crossing_point")
    pol = await region.open("na-pol.duty")
    await pol.subscribe(inc.stream_name)
    with control_messages_lost():
        await sync_to_async(narrow_visibility)(inc.ref)
    await frames_until(pol, revoked(inc.stream_name))


# --- 12. sign-out through the API and the admin ----------------------------------------


async def test_logout_through_the_api_closes_that_session_socket(region: Sockets) -> None:
    browser, cookie = await sync_to_async(signed_in_browser)("na-imm.duty")
    s = await region.open(cookie=cookie)
    other = await region.open("na-imm.duty")  # another session of the same user
    response = await sync_to_async(browser.post)("/api/v1/auth/logout")
    assert response.status_code == 200
    assert await s.closed_with(WAIT) == p.CloseCode.UNAUTHENTICATED
    await other.send({"type": "ping"})
    assert await reply(other) == {"type": "pong"}


async def test_logout_through_the_admin_closes_that_session_socket(region: Sockets) -> None:
    browser, cookie = await sync_to_async(signed_in_browser)("na-imm.admin")
    s = await region.open(cookie=cookie)
    response = await sync_to_async(browser.post)("/admin/logout/")
    assert response.status_code == 200
    assert await s.closed_with(WAIT) == p.CloseCode.UNAUTHENTICATED


async def test_logout_whose_control_message_is_lost_still_closes(region: Sockets) -> None:
    browser, cookie = await sync_to_async(signed_in_browser)("na-imm.duty")
    s = await region.open(cookie=cookie)
    with control_messages_lost() as publish:
        response = await sync_to_async(browser.post)("/api/v1/auth/logout")
    assert response.status_code == 200
    assert publish.called
    assert await s.closed_with(WAIT) == p.CloseCode.UNAUTHENTICATED


async def test_a_token_revoked_through_the_api_closes_its_socket(region: Sockets) -> None:
    _, raw = await sync_to_async(issue_token)("na-pol.duty")
    s = await region.open(token=raw)
    browser = await region.open("na-pol.duty")

    def revoke_presented_token() -> int:
        response = Client().post(
            "/api/v1/auth/token/revoke",
            "{}",
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {raw}",
        )
        return int(response.status_code)

    assert await sync_to_async(revoke_presented_token)() == 200
    assert await s.closed_with(WAIT) == p.CloseCode.UNAUTHENTICATED
    await browser.send({"type": "ping"})
    assert await reply(browser) == {"type": "pong"}


# --- 2. a subscribe racing an access re-check ------------------------------------------


async def test_a_subscribe_authorized_before_a_revocation_does_not_go_live(
    region: Sockets, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The subscribe reads its grants, then waits; meanwhile the membership is revoked
    and the re-check (which does not see the stream yet) completes. The subscribe must
    not go live on its stale grants, nor put them back over the fresh ones."""
    settings.HUB_WS_RECHECK_INTERVAL = 3600  # only the control message re-checks
    from hub.realtime import consumers

    inc = await incident()
    coord = await region.open("na-imm.coord")
    read_grants = threading.Event()
    go_on = threading.Event()
    real_start = consumers.subscription_start

    def slow_start(user: Any, stream: str) -> Any:
        start = real_start(user, stream)  # grants read now: the stream is readable
        read_grants.set()
        assert go_on.wait(WAIT)
        return start

    monkeypatch.setattr(consumers, "subscription_start", slow_start)
    await coord.send({"type": "subscribe", "stream": inc.stream_name, "after": 0})
    assert await asyncio.to_thread(read_grants.wait, WAIT)
    await sync_to_async(revoke_membership)("na-imm.coord")
    conn = next(iter(the_hub().conns.values()))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while conn.access.grants:  # the re-check has adopted the revoked grants
        assert loop.time() < deadline, "the re-check never ran"
        await asyncio.sleep(0.02)
    go_on.set()
    # Refused one way or the other, never live: with the fresh grants the replay is
    # refused (not_found); had the stale ones been kept, it would have gone live.
    frame = await reply(coord)
    while frame["type"] == "event":
        frame = await reply(coord)
    assert frame in (
        {"type": "unsubscribed", "stream": inc.stream_name, "reason": "access_revoked"},
        {
            "type": "error",
            "code": "not_found",
            "detail": "No such stream.",
            "ref": inc.stream_name,
        },
    )
    assert not conn.access.grants, "an older snapshot must not replace the fresh one"
    assert inc.stream_name not in conn.subs
    await posted("na-imm.duty", inc.ref, "after the revocation")
    assert [f for f in await drain(coord) if f["type"] in {"event", "caught_up"}] == []


async def test_a_subscribe_finishing_while_a_recheck_is_pending_is_verified_again(
    region: Sockets, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The re-check asked for by the revocation is still in the database when the
    subscribe's replay (on grants read before the revocation) ends: the subscribe
    must verify again before ``caught_up``, not go live and wait to be dropped."""
    settings.HUB_WS_RECHECK_INTERVAL = 3600
    from hub.realtime import consumers

    inc = await incident()
    coord = await region.open("na-imm.coord")
    read_grants, go_on = threading.Event(), threading.Event()
    rechecking, finish_recheck = threading.Event(), threading.Event()
    real_start, real_recheck = consumers.subscription_start, consumers.connection_recheck

    def slow_start(user: Any, stream: str) -> Any:
        start = real_start(user, stream)
        read_grants.set()
        assert go_on.wait(WAIT)
        return start

    def slow_recheck(**kwargs: Any) -> Any:
        rechecking.set()
        assert finish_recheck.wait(WAIT)
        return real_recheck(**kwargs)

    monkeypatch.setattr(consumers, "subscription_start", slow_start)
    monkeypatch.setattr(consumers, "connection_recheck", slow_recheck)
    try:
        await coord.send({"type": "subscribe", "stream": inc.stream_name, "after": 0})
        assert await asyncio.to_thread(read_grants.wait, WAIT)
        await sync_to_async(revoke_membership)("na-imm.coord")
        assert await asyncio.to_thread(rechecking.wait, WAIT)
        go_on.set()
        frames = []
        while (frame := await reply(coord))["type"] == "event":
            frames.append(frame)
        assert frame == {
            "type": "unsubscribed",
            "stream": inc.stream_name,
            "reason": "access_revoked",
        }
    finally:
        go_on.set()
        finish_recheck.set()
    await posted("na-imm.duty", inc.ref, "after the revocation")
    assert [f for f in await drain(coord) if f["type"] in {"event", "caught_up"}] == []


# --- 3. re-checks never stall the reader -----------------------------------------------


def publish_now(message_kind: str, **fields: Any) -> None:
    """A control message, published at once (no transaction to wait for)."""
    with transaction.atomic():
        if message_kind == "stream":
            control.stream_access_changed(**fields)
        else:
            control.access_changed(**fields)


async def test_a_slow_recheck_does_not_hold_up_other_streams(
    region: Sockets, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub.realtime import consumers

    busy = await incident(visibility="crossing_point")
    quiet = await incident(title="Another case")
    pol = await region.open("na-pol.duty")
    imm = await region.open("na-imm.duty")
    await pol.subscribe(busy.stream_name)
    await imm.subscribe(quiet.stream_name)
    checking = threading.Event()
    release = threading.Event()
    real_recheck = consumers.connection_recheck

    def stuck_recheck(**kwargs: Any) -> Any:
        checking.set()
        assert release.wait(WAIT)
        return real_recheck(**kwargs)

    monkeypatch.setattr(consumers, "connection_recheck", stuck_recheck)
    try:
        await sync_to_async(publish_now)("stream", stream=busy.stream_name, reason="test")
        assert await asyncio.to_thread(checking.wait, WAIT)
        held = await posted("na-imm.duty", busy.ref, "held back while re-checking")
        seq = await posted("na-imm.duty", quiet.ref, "while the other re-check waits")
        # The other stream is served while the re-check is stuck in the database...
        event = await frames_until(imm, lambda f: f["type"] == "event")
        assert (event["stream"], event["seq"]) == (quiet.stream_name, seq)
        # ...and the suspended subscription got nothing yet.
        assert events_in(await drain(pol, 0.3)) == []
    finally:
        release.set()
    # Still readable: the held event is released, in order.
    event = await frames_until(pol, lambda f: f["type"] == "event")
    assert (event["stream"], event["seq"]) == (busy.stream_name, held)


async def test_narrowing_an_incident_rechecks_its_operation_subscriptions(
    region: Sockets,
) -> None:
    from hub.operations.services import operation_start
    from hub.operations.sops import seed_templates

    inc = await incident(visibility="crossing_point")

    def start() -> str:
        seed_templates()
        return operation_start(
            actor=officer("na-imm.coord"),
            crossing_point="WDH",
            template="tip-screening",
            incident=inc.ref,
        ).operation.stream_name

    stream = await sync_to_async(start)()
    # The airport authority has no task: it reads the operation through its incident.
    air = await region.open("na-air.duty")
    await air.subscribe(stream)
    await sync_to_async(narrow_visibility)(inc.ref)
    await frames_until(air, revoked(stream))


# --- 7. a consumer cancelled mid-replay leaves nothing behind --------------------------


async def test_a_consumer_cancelled_mid_subscribe_is_released(
    region: Sockets, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub.realtime import consumers

    inc = await incident()
    replaying = threading.Event()
    never = threading.Event()
    real_page = consumers.replay_page

    def stuck_page(access: Any, stream: str, *, after: int) -> Any:
        replaying.set()
        never.wait(WAIT)  # a long replay, as Daphne's application_close_timeout sees it
        return real_page(access, stream, after=after)

    monkeypatch.setattr(consumers, "replay_page", stuck_page)
    headers = [
        ORIGIN,
        (b"cookie", (await sync_to_async(signed_in_browser)("na-imm.duty"))[1].encode()),
    ]
    c = WebsocketCommunicator(application, "/ws/", headers=headers)
    connected, _ = await c.connect(timeout=10)
    assert connected
    assert (await c.receive_json_from(5))["type"] == "welcome"
    user_id = (await sync_to_async(officer)("na-imm.duty")).pk
    hub = the_hub()
    assert hub.by_user.get(user_id)
    await c.send_json_to({"type": "subscribe", "stream": inc.stream_name, "after": 0})
    assert await asyncio.to_thread(replaying.wait, WAIT)
    assert inc.stream_name in hub.feeds
    assert hub.feeds[inc.stream_name].subs
    c.future.cancel()  # what Daphne does to a consumer stuck past its close timeout
    with contextlib.suppress(asyncio.CancelledError):
        await c.future
    never.set()
    assert hub.conns == {}
    assert user_id not in hub.by_user
    assert not hub.feeds[inc.stream_name].subs
    assert not hub.memberships.get(inc.stream_name)
    # The connection no longer counts against the user's limit, here or in Redis.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    presence = hub.presence
    while getattr(presence, "_conns", {}).get(user_id):
        assert loop.time() < deadline, "the connection was never released"
        await asyncio.sleep(0.02)


# --- 9 and 10. an officer of two agencies ----------------------------------------------


def join_second_agency(username: str, agency: str, points: list[str], role: str) -> None:
    membership = Membership.objects.create(
        user=officer(username), agency=Agency.objects.get(code=agency), role=role
    )
    membership.crossing_points.set(CrossingPoint.objects.filter(code__in=points))


async def test_pending_alerts_name_only_the_agencies_owing_them_where_the_officer_serves(
    region: Sockets,
) -> None:
    # na-imm.duty also serves Walvis Bay for the police; the alert is at WDH, where
    # only their immigration membership serves, though it targets the police too.
    await sync_to_async(join_second_agency)("na-imm.duty", "NA-POL", ["WVB"], Role.DUTY_OFFICER)

    def issue() -> int:
        return alert_issue(
            actor=officer("na-cus.duty"),
            crossing_point="WDH",
            category="wanted_person",
            severity="high",
            title="Watch-list hit",
            targets=["NA-IMM", "NA-POL"],
        ).alert.pk

    alert_id = await sync_to_async(issue)()
    s = await region.open("na-imm.duty")
    pending = await reply(s)
    assert pending["type"] == "pending_alerts"
    [item] = [a for a in pending["alerts"] if a["id"] == alert_id]
    assert item["agencies"] == ["NA-IMM"]
    await s.send({"type": "subscribe", "stream": "crossing:WDH", "after": 0})
    pending = await frames_until(s, lambda f: f["type"] == "pending_alerts")
    [item] = [a for a in pending["alerts"] if a["id"] == alert_id]
    assert item["agencies"] == ["NA-IMM"]


async def test_presence_lists_a_two_agency_officer_under_the_agency_serving_the_stream(
    region: Sockets,
) -> None:
    # na-pol.duty also belongs to the coastguard at Walvis Bay; NA-CGD sorts first,
    # but it does not serve WDH, where this incident is.
    await sync_to_async(join_second_agency)("na-pol.duty", "NA-CGD", ["WVB"], Role.DUTY_OFFICER)
    inc = await incident(visibility="crossing_point")
    s = await region.open("na-pol.duty")
    await s.subscribe(inc.stream_name)
    frame = await frames_until(s, lambda f: f["type"] == "presence")
    assert set(frame["online"]) == {"NA-POL"}, frame


async def test_presence_lists_an_officer_under_each_agency_that_reads_the_stream(
    region: Sockets,
) -> None:
    await sync_to_async(join_second_agency)("na-pol.duty", "NA-AIR", ["WDH"], Role.DUTY_OFFICER)
    inc = await incident(visibility="crossing_point")
    s = await region.open("na-pol.duty")
    await s.subscribe(inc.stream_name)
    frame = await frames_until(s, lambda f: f["type"] == "presence")
    name = (await sync_to_async(officer)("na-pol.duty")).display_name
    entry = [{"user": "na-pol.duty", "name": name}]
    assert frame["online"] == {"NA-AIR": entry, "NA-POL": entry}


def test_batched_grants_equal_access_for_every_demo_user() -> None:
    from hub.accounts.models import User

    seed()
    join_second_agency("na-pol.duty", "NA-CGD", ["WVB"], Role.COORDINATOR)
    Membership.objects.filter(user__username="na-imm.coord").update(is_active=False)
    users = list(User.objects.all())
    batch = accesses_for(users)
    for user in users:
        if user.is_active:
            assert batch[user.pk] == access_for(user), user.username
        else:
            assert user.pk not in batch


async def test_an_officer_of_two_targeted_agencies_acknowledges_for_the_one_they_name(
    region: Sockets,
) -> None:
    from hub.alerts.models import AlertTarget

    # na-imm.duty also serves WDH for the police: both of their agencies owe this alert.
    await sync_to_async(join_second_agency)("na-imm.duty", "NA-POL", ["WDH"], Role.DUTY_OFFICER)

    def issue() -> int:
        return alert_issue(
            actor=officer("na-cus.duty"),
            crossing_point="WDH",
            category="wanted_person",
            severity="high",
            title="Watch-list hit",
            targets=["NA-IMM", "NA-POL"],
        ).alert.pk

    alert_id = await sync_to_async(issue)()
    s = await region.open("na-imm.duty")
    await frames_until(s, lambda f: f["type"] == "pending_alerts")
    ack_id = str(uuid.uuid4())
    await s.send(
        {"type": "alert.ack", "alert_id": alert_id, "client_msg_id": ack_id, "agency": "NA-POL"}
    )
    ack = await frames_until(s, lambda f: f["type"] in {"ack", "error"})
    assert (ack["type"], ack.get("client_msg_id")) == ("ack", ack_id), ack

    def acknowledged() -> set[str]:
        return set(
            AlertTarget.objects.filter(
                alert_id=alert_id, acknowledged_at__isnull=False
            ).values_list("agency__code", flat=True)
        )

    assert await sync_to_async(acknowledged)() == {"NA-POL"}
    # An agency of theirs that the alert does not target (or not theirs) is refused.
    await s.send(
        {
            "type": "alert.ack",
            "alert_id": alert_id,
            "client_msg_id": str(uuid.uuid4()),
            "agency": "NA-CUS",
        }
    )
    refused = await frames_until(s, lambda f: f["type"] in {"ack", "error"})
    assert refused["type"] == "error", refused
    assert await sync_to_async(acknowledged)() == {"NA-POL"}
