"""Mentions, notices and read-marker frames: the parts that need no database."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from hub.events.reads import encode_seen_frame
from hub.events.types import Mention, MessageEdited, MessagePosted, validate_payload
from hub.incidents.mentions import EXCERPT_LENGTH, MAX_MENTIONS, excerpt, mention_tokens
from hub.realtime import protocol as p


@pytest.mark.parametrize(
    ("body", "tokens"),
    [
        ("@NA-CUS please check the cargo", ["NA-CUS"]),
        ("cc @na-pol.duty, @NA-CUS.", ["na-pol.duty", "NA-CUS"]),
        ("(@na-imm.coord) and @na-imm.coord again", ["na-imm.coord"]),
        ("@na-cus @NA-CUS @Na-Cus", ["na-cus"]),  # one name, whatever its case
        ("write to duty@na-cus.example or ops.@na-pol", []),  # addresses, not mentions
        ("@@na-pol.duty", []),
        ("email me at a@b", []),
        ("trailing @ alone and @- and @.x", []),
        ("@x", ["x"]),
        ("line one\n@na-pol.duty: check gate 3", ["na-pol.duty"]),
        ("@na-pol.duty's report", ["na-pol.duty"]),
        ("no mentions here", []),
    ],
)
def test_mention_tokens(body: str, tokens: list[str]) -> None:
    assert mention_tokens(body) == tokens


def test_mention_tokens_are_capped() -> None:
    body = " ".join(f"@user{i}" for i in range(MAX_MENTIONS + 5))
    assert mention_tokens(body) == [f"user{i}" for i in range(MAX_MENTIONS)]


def test_excerpt_is_the_first_140_characters() -> None:
    body = "é" * 100 + "x" * 100
    assert excerpt(body) == body[:140]
    assert len(excerpt(body)) == EXCERPT_LENGTH == 140
    assert excerpt("short") == "short"


def test_payloads_recorded_before_mentions_still_validate() -> None:
    legacy = {"message_id": 3, "body": "hi", "redacted": False}
    posted = validate_payload("message.posted", legacy)
    assert isinstance(posted, MessagePosted)
    assert posted.mentions == []
    edited = validate_payload(
        "message.edited", {"message_id": 3, "body": "hi", "edit_number": 1, "redacted": False}
    )
    assert isinstance(edited, MessageEdited)
    assert edited.mentions == []


def test_mentions_are_typed_and_strict() -> None:
    payload = MessagePosted(
        message_id=1,
        body="@NA-CUS",
        mentions=[Mention(kind="agency", key="NA-CUS", name="Namibia Customs and Excise")],
    )
    assert payload.model_dump(mode="json")["mentions"] == [
        {"kind": "agency", "key": "NA-CUS", "name": "Namibia Customs and Excise"}
    ]
    with pytest.raises(ValidationError):
        validate_payload(
            "message.posted",
            {"message_id": 1, "body": "x", "mentions": [{"kind": "team", "key": "a", "name": "A"}]},
        )
    with pytest.raises(ValidationError):
        Mention.model_validate({"kind": "agency", "key": "A", "name": "A", "extra": 1})


def test_the_seen_frame_the_service_publishes_is_a_server_frame() -> None:
    text = encode_seen_frame(
        stream="incident:WDH-2026-0001", username="na-imm.duty", name="N", agency="NA-IMM", seq=4
    )
    frame = p.SERVER_FRAME.validate_json(text)
    assert isinstance(frame, p.Seen)
    assert (frame.stream, frame.user.user, frame.user.agency, frame.seq) == (
        "incident:WDH-2026-0001",
        "na-imm.duty",
        "NA-IMM",
        4,
    )
    assert json.loads(text) == json.loads(p.encode(frame))


def test_notice_frames_parse_by_kind() -> None:
    incident = {
        "type": "notice",
        "kind": "incident",
        "crossing_point": "WDH",
        "ref": "WDH-2026-0001",
        "stream": "incident:WDH-2026-0001",
        "seq": 3,
    }
    assert isinstance(p.SERVER_FRAME.validate_python(incident), p.IncidentNotice)
    mention = {
        **incident,
        "kind": "mention",
        "by": {"user": "na-imm.duty", "name": "N", "agency": "NA-IMM"},
        "excerpt": "@NA-CUS check",
    }
    assert isinstance(p.SERVER_FRAME.validate_python(mention), p.MentionNotice)
    with pytest.raises(ValidationError):  # an incident notice carries no author
        p.SERVER_FRAME.validate_python({**incident, "by": mention["by"]})
    with pytest.raises(ValidationError):
        p.SERVER_FRAME.validate_python({**mention, "kind": "board"})


@pytest.mark.parametrize(
    ("frame", "ok"),
    [
        ({"type": "read", "stream": "incident:WDH-2026-0001", "seq": 0}, True),
        ({"type": "read", "stream": "incident:WDH-2026-0001", "seq": 2**53}, True),
        ({"type": "read", "stream": "incident:WDH-2026-0001", "seq": -1}, False),
        ({"type": "read", "stream": "incident:WDH-2026-0001", "seq": 2**53 + 1}, False),
        ({"type": "read", "stream": "incident:WDH-2026-0001"}, False),
        ({"type": "read", "seq": 1}, False),
        ({"type": "read", "stream": "incident:WDH-2026-0001", "seq": 1, "x": 1}, False),
    ],
)
def test_read_frames(frame: dict[str, object], ok: bool) -> None:
    if ok:
        assert isinstance(p.CLIENT_FRAME.validate_python(frame), p.Read)
    else:
        with pytest.raises(ValidationError):
            p.CLIENT_FRAME.validate_python(frame)
    assert "read" in p.CLIENT_TYPES
