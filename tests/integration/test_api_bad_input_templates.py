"""Property tests: the SOP template endpoints survive arbitrary and hostile input.

The harness of ``test_api_bad_input`` (``exchange``, the strategies, ``bodies``),
thrown at ``POST /checklist-templates`` (a new template) and ``POST
/checklist-templates/{code}/versions`` (a new version), as an administrator, by
session and by bearer token, and at the read endpoints' paths and query strings.

Properties checked on every example:

- never a 5xx; every 4xx is a JSON object with string ``code`` and ``detail``; a 422
  with ``errors`` lists ``{loc, msg, type}`` with ``loc`` inside the request;
- a 4xx wrote nothing: besides what ``exchange`` compares (events, receipts,
  streams...), every template and item row is exactly as before;
- a 2xx is one valid write: exactly one ``template.published`` on the template's
  stream, one receipt (or, for a repeat, nothing), a ``TemplateOut`` answer, and
  stored items that keep the rules (distinct positions, offsets in range, known
  agency kinds, trimmed titles without control characters).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.accounts.services import token_issue
from hub.agencies.models import AgencyKind
from hub.events.models import Event
from hub.events.types import validate_payload
from hub.operations.api import TemplateOut
from hub.operations.models import ChecklistTemplate, TemplateItem
from hub.operations.sops import SOPS, load_sops
from hub.operations.templates import MAX_DUE_OFFSET_MINUTES, MAX_ITEMS
from tests.factories import officer
from tests.integration.test_api_bad_input import (
    CMID,
    GOOD_TEXT,
    NASTY_STRINGS,
    ODD_FLOATS,
    ODD_INTS,
    ODD_TEXT,
    ODD_VALUE,
    PROFILE,
    Field,
    Outcome,
    _query,
    bodies,
    codes,
    encode,
    exchange,
    text,
)

API = "/api/v1/checklist-templates"
ACTOR = "na-imm.admin"
AUTHS = st.sampled_from(["session", "bearer"])
AGENCY_KINDS = [k.value for k in AgencyKind]
CODES = [sop.code for sop in SOPS]


@dataclass
class World:
    session: Client
    bearer: Client

    def client(self, auth: str) -> Client:
        return self.session if auth == "session" else self.bearer


@pytest.fixture
def world(demo: None) -> World:
    load_sops()
    session = Client(raise_request_exception=False)
    session.force_login(officer(ACTOR))
    raw = token_issue(user=officer(ACTOR), name="bad-input template tests").raw
    bearer = Client(headers={"Authorization": f"Bearer {raw}"}, raise_request_exception=False)
    return World(session=session, bearer=bearer)


# --- strategies -----------------------------------------------------------------------

INT_ODD = st.one_of(ODD_INTS, ODD_FLOATS, st.sampled_from(["1", -1, 0, 10_001]), ODD_VALUE)
ITEM_FIELDS = {
    "position": Field(st.integers(1, 40), INT_ODD, True),
    "title": text(GOOD_TEXT, required=True),
    "agency_kind": codes(AGENCY_KINDS, required=True, odd=["navy", "POLICE", "", "police "]),
    "due_offset_minutes": Field(
        st.integers(0, MAX_DUE_OFFSET_MINUTES),
        st.one_of(INT_ODD, st.sampled_from([-5, MAX_DUE_OFFSET_MINUTES + 1])),
        True,
    ),
    "guidance": text(GOOD_TEXT),
    "requires_note": Field(st.booleans(), st.one_of(st.sampled_from(["true", 1, 0]), ODD_VALUE)),
    "requires_cosign": Field(st.booleans(), st.one_of(st.sampled_from(["yes", 1]), ODD_VALUE)),
    "key": Field(st.none(), st.one_of(st.sampled_from(["k1", "a b", "x" * 41, ""]), ODD_TEXT)),
}
VALID_ITEM = st.fixed_dictionaries(
    {n: f.valid for n, f in ITEM_FIELDS.items() if f.required},
    optional={n: f.valid for n, f in ITEM_FIELDS.items() if not f.required},
)
ITEM_LISTS = Field(
    st.lists(VALID_ITEM, min_size=1, max_size=6, unique_by=lambda item: item["position"]),
    st.one_of(
        st.just([]),
        st.lists(bodies(ITEM_FIELDS), min_size=1, max_size=4),
        st.lists(VALID_ITEM, min_size=MAX_ITEMS + 1, max_size=MAX_ITEMS + 3),
        ODD_VALUE,
    ),
    True,
)
COMMON = {
    "title": text(GOOD_TEXT, required=True),
    "description": text(GOOD_TEXT),
    "items": ITEM_LISTS,
    "client_msg_id": CMID,
}
CREATE_BODIES = bodies(
    {
        # Mostly fresh codes (a taken one is a 409), sometimes a spoiled or taken one.
        "code": text(
            st.text("abcdefghjk0123456789-", min_size=1, max_size=20).map(lambda s: f"t{s}"),
            required=True,
            odd=[*CODES, "Flood", "flood_response", "-x", "a", "x" * 61, *NASTY_STRINGS],
        ),
        **COMMON,
    }
)
VERSION_BODIES = bodies(
    {
        "base_version": Field(st.just(1), st.one_of(INT_ODD, st.just(2)), True),
        **COMMON,
    }
)


# --- checking an answer ---------------------------------------------------------------

Rows = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]


def rows() -> Rows:
    return (
        list(ChecklistTemplate.objects.order_by("pk").values_list()),
        list(TemplateItem.objects.order_by("pk").values_list()),
    )


def check(outcome: Outcome, before: Rows) -> None:
    if outcome.status >= 400:
        assert rows() == before, outcome.where
        if outcome.status == 422 and outcome.data.get("errors"):
            for error in outcome.data["errors"]:
                assert set(error) == {"loc", "msg", "type"}, outcome.where
                assert error["loc"][0] in {"body", "path", "query"}, (outcome.where, error)
                assert all(isinstance(part, str) for part in error["loc"]), outcome.where
        return
    shown = TemplateOut.model_validate(outcome.data)
    template = ChecklistTemplate.objects.get(code=shown.code, version=shown.version)
    new_events = list(
        Event.objects.filter(pk__gt=outcome.before.last_event_id).select_related("stream")
    )
    if outcome.status == 200:  # a repeat of a client_msg_id: the original, nothing new
        assert new_events == [], outcome.where
        assert rows() == before, outcome.where
        return
    assert outcome.status == 201, outcome.where
    [event] = new_events
    assert (event.kind, event.stream.name, event.seq) == (
        "template.published",
        template.stream_name,
        template.seq,
    )
    validate_payload(event.kind, event.payload)
    assert outcome.before.delta(outcome.after, "receipts") == 1
    items = list(template.items.order_by("position"))
    assert 1 <= len(items) <= MAX_ITEMS
    assert len({i.position for i in items}) == len(items)
    assert len({i.key for i in items}) == len(items)
    for item in items:
        assert item.title
        assert item.title == item.title.strip()
        assert "\x00" not in item.title + item.guidance
        assert item.agency_kind in AGENCY_KINDS
        assert 0 <= item.due_offset_minutes <= MAX_DUE_OFFSET_MINUTES
    assert [i.key for i in shown.items] == [i.key for i in items]


# --- the writes -----------------------------------------------------------------------


@settings(PROFILE, max_examples=150)
@given(body=CREATE_BODIES, auth=AUTHS)
def test_create_a_template_with_any_body(world: World, body: Any, auth: str) -> None:
    before = rows()
    outcome = exchange(world.client(auth), "POST", API, encode(body))
    check(outcome, before)


@settings(PROFILE, max_examples=150)
@given(body=VERSION_BODIES, auth=AUTHS, keep=st.lists(st.integers(0, 99), max_size=4, unique=True))
def test_publish_a_version_with_any_body(
    world: World, body: Any, auth: str, keep: list[int]
) -> None:
    # The version being edited is the current one (a valid body says so; earlier
    # examples may have published), and some items carry its keys, as the editor sends.
    if isinstance(body, dict) and body.get("base_version") == 1:
        body["base_version"] = ChecklistTemplate.objects.get(
            code="tip-screening", is_current=True
        ).version
    current_keys = list(
        TemplateItem.objects.filter(template__code="tip-screening", template__is_current=True)
        .order_by("position")
        .values_list("key", flat=True)
    )
    if isinstance(body, dict) and isinstance(body.get("items"), list):
        for index, key_index in zip(range(len(body["items"])), keep, strict=False):
            if isinstance(body["items"][index], dict):
                body["items"][index]["key"] = current_keys[key_index % len(current_keys)]
    before = rows()
    outcome = exchange(world.client(auth), "POST", f"{API}/tip-screening/versions", encode(body))
    check(outcome, before)


# --- paths and query strings ----------------------------------------------------------

PATH_CODES = st.one_of(
    st.sampled_from([*CODES, "TIP-SCREENING", "no-such-sop", "", "x" * 200, "tip-screening\x00"]),
    ODD_TEXT,
)
QUERY_VALUES = st.one_of(
    st.sampled_from(["1", "2", "0", "-1", "1.5", "", "true", "99999999999999999999"]),
    ODD_TEXT,
)


@settings(PROFILE, max_examples=150)
@given(
    code=PATH_CODES,
    suffix=st.sampled_from(["", "/versions", "/diff"]),
    params=st.dictionaries(st.sampled_from(["from", "to", "version", "x"]), QUERY_VALUES),
    auth=AUTHS,
)
def test_reads_with_odd_codes_and_query_strings(
    world: World, code: str, suffix: str, params: dict[str, str], auth: str
) -> None:
    path = f"{API}/{quote(code, safe='', errors='surrogatepass')}{suffix}"
    before = rows()
    outcome = exchange(world.client(auth), "GET", path + _query(params))
    assert rows() == before
    if outcome.status == 200 and suffix == "":
        assert TemplateOut.model_validate(outcome.data).code in CODES
