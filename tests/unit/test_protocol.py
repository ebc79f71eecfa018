"""The protocol module, its committed JSON Schema and its documentation agree."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import get_args

import pytest
from pydantic import ValidationError

from hub.realtime import protocol as p

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "protocol.md").read_text()


def test_committed_schema_is_current() -> None:
    committed = (ROOT / "docs" / "protocol.schema.json").read_text()
    assert committed == p.schema_text(), (
        "docs/protocol.schema.json is stale: run "
        "`python -m hub.realtime.protocol > docs/protocol.schema.json` "
        "and `npm run gen:protocol` in frontend/"
    )


def _types(union: object) -> set[str]:
    members = get_args(get_args(union)[0])
    return {m.model_fields["type"].annotation.__args__[0] for m in members}


def test_every_frame_is_strict_and_documented() -> None:
    client, server = _types(p.ClientFrame), _types(p.ServerFrame)
    assert client == set(p.CLIENT_TYPES)
    for kind in client | server:
        assert f"`{kind}`" in DOC, f"{kind} is not documented in docs/protocol.md"
    schema = json.loads((ROOT / "docs" / "protocol.schema.json").read_text())
    for name, definition in schema["$defs"].items():
        if definition.get("type") == "object":
            assert definition.get("additionalProperties") is False, name


def test_every_error_and_close_code_is_documented() -> None:
    codes = {v for k, v in vars(p.ErrorCode).items() if not k.startswith("_")}
    for code in codes:
        assert f"`{code}`" in DOC, code
    closes = {v for k, v in vars(p.CloseCode).items() if not k.startswith("_")}
    documented = {int(c) for c in re.findall(r"^\| (\d{4}) \|", DOC, re.M)}
    assert closes <= documented


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "subscribe", "stream": "incident:WDH-2026-0001"},
        {"type": "subscribe", "stream": "incident:WDH-2026-0001", "after": 5},
        {
            "type": "message.send",
            "stream": "incident:A",
            "client_msg_id": "6f1c1c54-5a7e-4f87-9b54-3f7d9d7e8a01",
            "body": "x",
        },
        {
            "type": "alert.ack",
            "alert_id": 3,
            "client_msg_id": "6f1c1c54-5a7e-4f87-9b54-3f7d9d7e8a01",
        },
        {"type": "typing", "stream": "incident:A-1"},
        {"type": "ping"},
        {"type": "unsubscribe", "stream": "crossing:WDH"},
    ],
)
def test_valid_client_frames_parse(frame: dict[str, object]) -> None:
    assert p.CLIENT_FRAME.validate_python(frame).type == frame["type"]


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "subscribe"},
        {"type": "subscribe", "stream": "incident:A", "after": -1},
        {"type": "subscribe", "stream": "incident:A", "extra": 1},
        {"type": "message.send", "stream": "incident:A", "client_msg_id": "nope", "body": "x"},
        {
            "type": "message.send",
            "stream": "incident:A",
            "client_msg_id": "6f1c1c54-5a7e-4f87-9b54-3f7d9d7e8a01",
            "body": "",
        },
        {
            "type": "alert.ack",
            "alert_id": 0,
            "client_msg_id": "6f1c1c54-5a7e-4f87-9b54-3f7d9d7e8a01",
        },
        {"type": "ping", "x": 1},
        {"type": "pong"},
    ],
)
def test_invalid_client_frames_are_refused(frame: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        p.CLIENT_FRAME.validate_python(frame)


def test_event_frames_published_by_emit_parse_as_server_frames() -> None:
    from datetime import UTC, datetime

    from hub.events.pipeline import encode_event_frame
    from hub.events.types import ActorRef, EventEnvelope

    frame = encode_event_frame(
        EventEnvelope(
            stream="incident:WDH-2026-0001",
            seq=3,
            kind="message.posted",
            at=datetime(2026, 1, 2, tzinfo=UTC),
            actor=ActorRef(id=1, username="a", name="A", agency="NA-IMM"),
            payload={"message_id": 1, "body": "hi", "redacted": False},
        )
    )
    parsed = p.SERVER_FRAME.validate_json(frame)
    assert isinstance(parsed, p.EventFrame)
    assert parsed.seq == 3
