"""The protocol module, its committed JSON Schema and its documentation agree."""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import re
import textwrap
import types
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import ValidationError

from hub.errors import HubError
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


def _members(union: object) -> list[type[p.Frame]]:
    """The frame models of a discriminated union, nested unions (``notice``) included."""
    found: list[type[p.Frame]] = []
    for member in get_args(get_args(union)[0]):
        if isinstance(member, type) and issubclass(member, p.Frame):
            found.append(member)
        else:
            found.extend(_members(member))
    return found


def _types(union: object) -> set[str]:
    return {get_args(m.model_fields["type"].annotation)[0] for m in _members(union)}


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


# --- every code a frame can produce is documented -------------------------------------

ENTRY_MODULES = (
    "hub.realtime.consumers",
    "hub.realtime.services",
    "hub.realtime.hub",
    "hub.realtime.selectors",
)


def _functions_of(module: types.ModuleType) -> list[Any]:
    found = []
    for value in vars(module).values():
        if inspect.isfunction(value) and value.__module__ == module.__name__:
            found.append(value)
        elif isinstance(value, type) and value.__module__ == module.__name__:
            found.extend(f for f in vars(value).values() if inspect.isfunction(f))
    return found


def reachable_codes() -> tuple[set[str], set[int]]:
    """Error and close codes of the live layer and everything it calls in ``hub``.

    Starting from every function of the live layer's server modules, it follows
    calls that resolve to functions of ``hub.*`` (by name, through modules, and
    ``self.`` methods) and collects ``code="..."`` arguments, the default code of
    every ``HubError`` raised without one, ``ErrorCode``/``CloseCode`` constants,
    and literal codes passed to ``close_with``.
    """
    errors: set[str] = set()
    closes: set[int] = set()
    seen: set[Any] = set()
    todo = [f for name in ENTRY_MODULES for f in _functions_of(importlib.import_module(name))]
    while todo:
        func = inspect.unwrap(todo.pop())
        if func in seen or not getattr(func, "__module__", "").startswith("hub."):
            continue
        seen.add(func)
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
        except (OSError, TypeError):
            continue
        scope = func.__globals__
        owner = scope.get(func.__qualname__.split(".")[0]) if "." in func.__qualname__ else None

        def resolve(node: ast.AST, scope: dict[str, Any] = scope, owner: Any = owner) -> Any:
            if isinstance(node, ast.Name):
                return scope.get(node.id)
            if isinstance(node, ast.Attribute):
                if isinstance(node.value, ast.Name) and node.value.id == "self":
                    return getattr(owner, node.attr, None) if owner is not None else None
                base = resolve(node.value)
                if isinstance(base, types.ModuleType | type):
                    return getattr(base, node.attr, None)
            return None

        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                has_code = False
                for kw in node.keywords:
                    if kw.arg == "code":
                        has_code = True
                        if isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                            errors.add(kw.value.value)
                target = resolve(node.func)
                if isinstance(target, type) and issubclass(target, HubError):
                    if not has_code:
                        errors.add(target.default_code)
                elif inspect.isfunction(target):
                    todo.append(target)
                if isinstance(node.func, ast.Attribute) and node.func.attr == "close_with":
                    first = node.args[0] if node.args else None
                    if isinstance(first, ast.Constant) and isinstance(first.value, int):
                        closes.add(first.value)
            elif isinstance(node, ast.Attribute):
                holder = resolve(node.value)
                if holder is p.ErrorCode:
                    errors.add(getattr(p.ErrorCode, node.attr))
                elif holder is p.CloseCode:
                    closes.add(getattr(p.CloseCode, node.attr))
    return errors, closes


def test_the_code_crawler_finds_the_services_codes() -> None:
    errors, closes = reachable_codes()
    # Codes known to be raised deep inside the services a frame calls: if the crawler
    # stopped following calls, this fails instead of the next test passing vacuously.
    assert {"incident_closed", "alert_expired", "already_acknowledged"} <= errors
    assert {"client_msg_id_reused", "not_found", "forbidden", "invalid_request"} <= errors
    assert {p.CloseCode.UNAUTHENTICATED, p.CloseCode.TOO_SLOW, 1011} <= closes


def test_every_reachable_error_and_close_code_is_documented() -> None:
    errors, closes = reachable_codes()
    undocumented = sorted(code for code in errors if f"`{code}`" not in DOC)
    assert not undocumented, f"error codes missing from docs/protocol.md: {undocumented}"
    documented = {int(c) for c in re.findall(r"^\| (\d{4}) \|", DOC, re.M)}
    assert closes <= documented, f"close codes missing: {sorted(closes - documented)}"
    for code in ("conflict", "bad_request"):  # the generic forms of service refusals
        assert f"`{code}`" in DOC, code


def test_resync_reasons_are_documented() -> None:
    reasons = get_args(p.ResyncRequired.model_fields["reason"].annotation)
    assert set(reasons) == {"too_far_behind", "ahead_of_stream", "gap"}
    for reason in reasons:
        assert f"`{reason}`" in DOC, reason


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
            "type": "message.send",
            "stream": "incident:A",
            "client_msg_id": "6f1c1c54-5a7e-4f87-9b54-3f7d9d7e8a01",
            "body": "x",
            "attachments": [3, 1],
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
            "body": "x" * 10_001,
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


SEND = {
    "type": "message.send",
    "stream": "incident:A",
    "client_msg_id": "6f1c1c54-5a7e-4f87-9b54-3f7d9d7e8a01",
    "body": "x",
}


def test_message_send_attachments_default_to_empty_and_keep_their_order() -> None:
    plain = p.CLIENT_FRAME.validate_json(json.dumps(SEND), strict=True)
    assert isinstance(plain, p.MessageSend)
    assert plain.attachments == []
    ten = list(range(10, 0, -1))
    full = p.CLIENT_FRAME.validate_json(json.dumps({**SEND, "attachments": ten}), strict=True)
    assert isinstance(full, p.MessageSend)
    assert full.attachments == ten


@pytest.mark.parametrize(
    "attachments",
    [list(range(1, 12)), ["1"], [True], [1.0], [0], [-4], [2**53 + 1], None, 7, {"1": 1}],
    ids=[
        "eleven",
        "string",
        "boolean",
        "float",
        "zero",
        "negative",
        "too-large",
        "null",
        "not-a-list",
        "object",
    ],
)
def test_message_send_attachments_are_at_most_ten_strict_ids(attachments: object) -> None:
    """The consumer parses frames strictly from the JSON text, as here."""
    with pytest.raises(ValidationError):
        p.CLIENT_FRAME.validate_json(json.dumps({**SEND, "attachments": attachments}), strict=True)


def test_message_send_attachments_are_in_the_schema_as_an_optional_id_list() -> None:
    schema = json.loads((ROOT / "docs" / "protocol.schema.json").read_text())
    frame = schema["$defs"]["MessageSend"]
    assert "attachments" in frame["properties"]
    assert "attachments" not in frame["required"]
    field = frame["properties"]["attachments"]
    assert field["type"] == "array"
    assert field["items"]["type"] == "integer"
    assert field["items"]["minimum"] == 1


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
