"""A record that goes back (a database restored from a backup) under open sockets.

A worker's feed remembers the last seq it delivered. If the record's head is
later found *behind* it, the events the feed would accept next reuse seqs it has
already delivered: without care they would be dropped as duplicates, silently,
forever. The sweeper notices and sends every live subscriber back to the record
with ``resync_required`` (``ahead_of_stream``, the record's head), and a fresh
subscription then receives new events again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import connection, connections

from hub.realtime.hub import current_hub, reset_hub
from tests.factories import post, report, seed
from tests.realtime_support import Socket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def region(settings: Any) -> AsyncIterator[None]:
    settings.REDIS_URL = None
    await sync_to_async(seed)()
    yield
    await reset_hub()
    await sync_to_async(connections.close_all)()


def restore_to(stream: str, seq: int) -> None:
    """What restoring an older backup does to one stream: its tail is gone."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")  # past the trigger
        cursor.execute(
            "DELETE FROM events_event WHERE seq > %s AND stream_id ="
            " (SELECT id FROM events_stream WHERE name = %s)",
            [seq, stream],
        )
        cursor.execute(
            "UPDATE events_stream SET last_seq = %s, last_hash ="
            " (SELECT hash FROM events_event e WHERE e.seq = %s AND e.stream_id = events_stream.id)"
            " WHERE name = %s",
            [seq, seq, stream],
        )
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = origin")


@pytest.mark.usefixtures("region")
async def test_a_rewound_record_sends_live_subscribers_back_to_it() -> None:
    incident = await sync_to_async(report)("na-imm.duty", "WDH")
    stream = incident.stream_name
    for text in ("one", "two", "three"):
        await sync_to_async(post)("na-imm.duty", incident.ref, text)
    socket = await Socket.open("na-imm.duty")
    frames = await socket.subscribe(stream)
    assert frames[-1] == {"type": "caught_up", "stream": stream, "seq": 4}

    await sync_to_async(restore_to)(stream, 2)
    hub = current_hub()
    assert hub is not None
    await hub.sweep()

    resync = await socket.recv_until("resync_required")
    assert resync[-1] == {
        "type": "resync_required",
        "stream": stream,
        "head": 2,
        "reason": "ahead_of_stream",
    }
    # The client drops what it holds beyond the head and resumes from it: new
    # events (which reuse seqs 3 and 4) reach it, none is taken for a duplicate.
    frames = await socket.subscribe(stream, after=2)
    assert frames[-1] == {"type": "caught_up", "stream": stream, "seq": 2}
    await sync_to_async(post)("na-imm.duty", incident.ref, "after the restore")
    [event] = [f for f in await socket.recv_until("event") if f["type"] == "event"]
    assert (event["seq"], event["payload"]["body"]) == (3, "after the restore")
    await socket.close()


@pytest.mark.usefixtures("region")
async def test_events_delivered_while_the_sweeper_reads_heads_are_not_a_rewind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import time

    from hub.realtime import hub as hub_module

    incident = await sync_to_async(report)("na-imm.duty", "WDH")
    stream = incident.stream_name
    socket = await Socket.open("na-imm.duty")
    await socket.subscribe(stream)
    hub = current_hub()
    assert hub is not None
    feed = hub.feeds[stream]
    real = hub_module.stream_heads

    def heads_then_two_more(names: list[str]) -> dict[str, int]:
        """The heads are read; then, before the sweeper looks at them, two more
        events commit and reach the feed (as happens under live traffic)."""
        heads = real(names)
        post("na-imm.duty", incident.ref, "during the sweep 1")
        post("na-imm.duty", incident.ref, "during the sweep 2")
        deadline = time.monotonic() + 20
        while feed.head < heads[stream] + 2:
            assert time.monotonic() < deadline, "the feed never delivered"
            time.sleep(0.01)
        connection.close()
        return heads

    monkeypatch.setattr(hub_module, "stream_heads", heads_then_two_more)
    await hub.sweep()
    monkeypatch.undo()

    assert hub.feeds.get(stream) is feed  # not taken for a rewound record
    frames = await socket.recv_until("event")
    frames += await socket.recv_until("event")
    events = [f for f in frames if f["type"] == "event"]
    assert [e["payload"]["body"] for e in events] == ["during the sweep 1", "during the sweep 2"]
    assert not [f for f in frames if f["type"] == "resync_required"]
    await socket.close()
