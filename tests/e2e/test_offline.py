"""A bad network in the browser: the persisted outbox, and an offline start.

The outbox: NA-IMM's duty officer loses the socket (the test cuts it with
``route_web_socket``: the hub's REST API still answers, yet writes must wait
until the socket is live again) and posts two messages. Both stay visibly
pending, counted in the top bar, and nothing reaches the hub, across a reload
too. When the socket comes back the app reconnects by itself and sends them:
NA-POL's duty officer, on the other worker, gets each exactly once, in order,
and the hub holds exactly one message for each.

The offline start: after one visit (the board and a room opened, the service
worker in control) the browser loses the network entirely; a new navigation
still opens the app, showing the board and the room read-only, marked with the
time they were last live.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from hub.incidents.models import Message
from tests.e2e.conftest import Hub
from tests.e2e.officers import DEMO_ALERT, DEMO_INCIDENT, sign_in

FIRST = "Outbox check 1: escort leaving the terminal now"
SECOND = "Outbox check 2: escort arrived at the police post"


class SocketSwitch:
    """Routes every /ws/ socket of a browser context: to the hub, or (cut) nowhere.

    A cut closes the sockets that are open and every new one at once, as a link
    that drops does; the app's REST calls are untouched.
    """

    def __init__(self) -> None:
        self.cut = False
        self.open: list[tuple[Any, Any]] = []

    def install(self, page: Any) -> None:
        page.context.route_web_socket(re.compile(r"/ws/$"), self.route)

    def route(self, ws: Any) -> None:
        if self.cut:
            ws.close()
            return
        self.open.append((ws, ws.connect_to_server()))

    def cut_now(self) -> None:
        self.cut = True
        for ws, server in self.open:
            server.close()
            ws.close()
        self.open.clear()

    def restore(self) -> None:
        self.cut = False


def timeline_texts(page: Any) -> list[str]:
    texts: list[str] = (
        page.get_by_test_id("timeline")
        .locator("li[data-testid=message] p.body")
        .all_text_contents()
    )
    return texts


@pytest.mark.django_db(transaction=True)
def test_outbox_keeps_writes_through_a_cut_socket_and_a_reload(
    browser: Any, hub: Hub, contexts: list[Any]
) -> None:
    switch = SocketSwitch()
    room = f"/incidents/{DEMO_INCIDENT}"
    a = sign_in(contexts, browser, hub.a, "na-imm.duty", room, before=switch.install)
    b = sign_in(contexts, browser, hub.b, "na-pol.duty", room)
    for page in (a, b):
        expect(page.get_by_test_id("timeline").get_by_test_id("message").first).to_be_visible()
    connection = a.get_by_test_id("connection")

    switch.cut_now()
    expect(connection).to_have_attribute("data-status", "offline")
    composer = a.get_by_label("Message", exact=True)
    composer.fill(FIRST)
    composer.press("Enter")
    expect(composer).to_have_value("")
    composer.fill(SECOND)
    a.get_by_role("button", name="Send").click()

    def assert_both_pending() -> None:
        unsent = a.get_by_test_id("unsent")
        expect(unsent).to_have_count(2)
        expect(unsent.nth(0)).to_contain_text(FIRST)
        expect(unsent.nth(1)).to_contain_text(SECOND)
        for i in range(2):
            expect(unsent.nth(i)).to_have_attribute("data-status", "pending")
        expect(a.get_by_test_id("unsent-count")).to_contain_text("2 items not sent yet")
        assert not Message.objects.filter(body__in=[FIRST, SECOND]).exists(), (
            "sent while the socket was down"
        )

    assert_both_pending()
    a.reload()
    expect(a.get_by_test_id("room")).to_be_visible()
    expect(connection).to_have_attribute("data-status", "offline")
    assert_both_pending()
    assert FIRST not in timeline_texts(b)

    # The link comes back: the app reconnects on its own (no reload) and sends both.
    switch.restore()
    # Its next attempt is at most 10 s away (the socket's back-off ceiling): wait past that.
    expect(connection).to_have_attribute("data-status", "live", timeout=40_000)
    expect(a.get_by_test_id("unsent")).to_have_count(0)
    expect(a.get_by_test_id("unsent-count")).to_have_count(0)
    expect(a.get_by_test_id("timeline").locator("li.mine", has_text=SECOND)).to_be_visible()
    expect(
        b.get_by_test_id("timeline").get_by_test_id("message").filter(has_text=SECOND)
    ).to_be_visible()

    for page in (a, b):
        texts = timeline_texts(page)
        firsts = [i for i, t in enumerate(texts) if t.strip() == FIRST]
        seconds = [i for i, t in enumerate(texts) if t.strip() == SECOND]
        assert len(firsts) == 1, texts
        assert len(seconds) == 1, texts
        assert firsts[0] < seconds[0], texts
    recorded = list(Message.objects.filter(body__in=[FIRST, SECOND]).order_by("seq"))
    assert [m.body for m in recorded] == [FIRST, SECOND]
    assert {m.author.username for m in recorded} == {"na-imm.duty"}


# Polls the app's last-known-state store until `key` is saved; answers its savedAt (ms).
SAVED_AT = """async (key) => {
  const read = () => new Promise((resolve) => {
    const open = indexedDB.open("hub-cache");
    open.onerror = () => resolve(null);
    open.onsuccess = () => {
      const db = open.result;
      if (!db.objectStoreNames.contains("snapshots")) { db.close(); resolve(null); return; }
      const get = db.transaction("snapshots").objectStore("snapshots").get(key);
      get.onsuccess = () => { db.close(); resolve(get.result ? get.result.savedAt : null); };
      get.onerror = () => { db.close(); resolve(null); };
    };
  });
  for (let tries = 0; tries < 100; tries++) {
    const savedAt = await read();
    if (savedAt !== null) return savedAt;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return null;
}"""


def wait_cached(page: Any, key: str) -> int:
    """When the app's last-known copy of ``key`` was saved (ms), once it exists."""
    saved_at = page.evaluate(SAVED_AT, key)
    assert isinstance(saved_at, int | float), f"the app never saved {key} for an offline start"
    return int(saved_at)


@pytest.mark.one_officer
@pytest.mark.django_db(transaction=True)
def test_offline_start_shows_the_last_known_board_and_room_read_only(
    browser: Any, hub: Hub, contexts: list[Any]
) -> None:
    page = sign_in(contexts, browser, hub.a, "na-imm.duty", "/points/WDH")
    row = page.locator(f"[data-testid=incident-row][data-ref='{DEMO_INCIDENT}']")
    expect(row).to_be_visible()
    expect(page.get_by_test_id("alert").filter(has_text=DEMO_ALERT)).to_be_visible()
    row.get_by_role("link").click()
    expect(page.get_by_test_id("timeline").get_by_test_id("message").first).to_be_visible()
    room_saved = wait_cached(page, f"room:{DEMO_INCIDENT}")
    board_saved = wait_cached(page, "board:WDH")
    wait_cached(page, "session")
    page.evaluate("async () => { await navigator.serviceWorker.ready; }")
    page.wait_for_function("navigator.serviceWorker.controller !== null", polling=200)

    page.context.set_offline(True)
    page.goto(hub.a.base_url + "/points/WDH")
    board = page.get_by_test_id("board")
    expect(page.get_by_test_id("connection")).to_have_attribute("data-status", "offline")
    expect(board.get_by_test_id("stale")).to_contain_text(
        f"Offline: read-only, last live at {windhoek_hhmm(board_saved)}"
    )
    expect(row).to_be_visible()
    expect(board.get_by_test_id("alert").filter(has_text=DEMO_ALERT)).to_be_visible()
    expect(board.get_by_role("link", name="Report incident")).to_have_count(0)
    expect(board.get_by_role("link", name="Issue alert")).to_have_count(0)
    expect(board.get_by_role("button", name=re.compile("^Acknowledge for"))).to_have_count(0)

    row.get_by_role("link").click()
    room = page.get_by_test_id("room")
    expect(room.get_by_test_id("stale")).to_contain_text(
        f"Offline: read-only, last live at {windhoek_hhmm(room_saved)}"
    )
    expect(room.get_by_test_id("timeline").get_by_test_id("message").first).to_be_visible()
    expect(room.get_by_test_id("composer")).to_have_count(0)
    expect(room).to_contain_text("Offline: writing is not possible until the hub is reachable.")


def windhoek_hhmm(ms: int) -> str:
    """HH:MM of a moment at WDH (Africa/Windhoek), as the app shows the last-live time."""
    at = datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(ZoneInfo("Africa/Windhoek"))
    return at.strftime("%H:%M")
