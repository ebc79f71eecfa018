"""Links and sessions in the browser: deep links, not-found, and a session that ends.

A link to an incident room, opened signed out, goes through sign-in and lands
in the room; a reload stays there. An unknown incident ref and an unknown path
both answer "not found". When the officer's session ends on the server (all
their sessions deleted, as an administrator would), the next write takes them
to sign-in with ``?next=`` pointing back at the room, telling them their unsent
message is kept; after signing in they are back in the room and the message is
sent, once.

The hub's socket notices an ended session too (it re-checks on the next frame
from the page, and every 15 s) and closes with 4401, which also leads to
sign-in. This test holds that close back from the page, as when the write comes
before the socket's next re-check, so that the REST write is what finds the
session gone: deterministically, and on the path that must keep the write.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import pytest
from django.contrib.sessions.models import Session
from playwright.sync_api import expect

from hub.accounts.models import User
from hub.incidents.models import Message
from tests.e2e.conftest import Hub
from tests.e2e.officers import DEMO_INCIDENT, new_page, sign_in_on

MESSAGE = "Handing over to the night shift; the family stays at secondary screening"


def late_socket_close(ws: Any) -> None:
    """Connect every socket to the hub, but never pass the hub's close on to the page."""
    server = ws.connect_to_server()
    server.on_close(lambda code, reason: None)


def end_sessions_of(username: str) -> int:
    """Delete every session of the user (what the hub's session store holds); how many."""
    user = User.objects.get(username=username)
    ended = 0
    for session in Session.objects.all():
        if session.get_decoded().get("_auth_user_id") == str(user.pk):
            session.delete()
            ended += 1
    return ended


@pytest.mark.one_officer
@pytest.mark.django_db(transaction=True)
def test_deep_links_not_found_and_a_session_that_ends(
    browser: Any, hub: Hub, contexts: list[Any]
) -> None:
    room_path = f"/incidents/{DEMO_INCIDENT}"
    page = new_page(contexts, browser)
    page.context.route_web_socket(re.compile(r"/ws/$"), late_socket_close)
    page.goto(hub.a.base_url + room_path)
    expect(page).to_have_url(re.compile(rf"/signin\?next={re.escape(quote(room_path, safe=''))}$"))
    sign_in_on(page, "na-imm.duty")
    room = page.get_by_test_id("room")
    expect(room.get_by_test_id("incident-title")).to_contain_text(DEMO_INCIDENT)
    expect(page).to_have_url(hub.a.base_url + room_path)

    page.reload()
    expect(room.get_by_test_id("incident-title")).to_contain_text(DEMO_INCIDENT)
    expect(room.get_by_test_id("timeline").get_by_test_id("message").first).to_be_visible()

    page.goto(hub.a.base_url + "/incidents/WDH-2026-9999")
    missing = page.get_by_test_id("not-found")
    expect(missing).to_contain_text("Incident WDH-2026-9999 does not exist")
    expect(room).to_have_count(0)
    page.goto(hub.a.base_url + "/no/such/screen")
    expect(missing).to_contain_text("There is no page at /no/such/screen")

    page.goto(hub.a.base_url + room_path)
    expect(page.get_by_test_id("connection")).to_have_attribute("data-status", "live")
    expect(room.get_by_test_id("timeline").get_by_test_id("message").first).to_be_visible()
    # The room's lazy panels (situation report, operations) fetch after it renders;
    # on a slow machine one of those reads, not the write, would find the session
    # gone. Let the page settle so that the write is what finds it.
    page.wait_for_load_state("networkidle")
    page.get_by_label("Message", exact=True).fill(MESSAGE)
    assert end_sessions_of("na-imm.duty") >= 1
    page.get_by_role("button", name="Send").click()
    form = page.get_by_test_id("sign-in")
    expect(form).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/signin\?next={re.escape(quote(room_path, safe=''))}$"))
    expect(form).to_contain_text("Your session has ended.")
    expect(form).to_contain_text("1 unsent item is kept and will be sent after you sign in.")
    assert not Message.objects.filter(body=MESSAGE).exists()

    sign_in_on(page, "na-imm.duty")
    expect(page).to_have_url(hub.a.base_url + room_path)
    sent = room.get_by_test_id("timeline").locator("li[data-testid=message].mine", has_text=MESSAGE)
    expect(sent).to_have_count(1)
    expect(page.get_by_test_id("unsent")).to_have_count(0)
    assert Message.objects.filter(body=MESSAGE).count() == 1
