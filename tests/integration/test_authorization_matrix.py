"""Authorization matrix for incidents: every role x relation x action, service and REST.

Callers are the demo officers of three agencies, one per relation to an incident
reported by ``na-imm.duty`` at WDH (Hosea Kutako airport, Namibia):

- ``own``: NA-IMM, the reporting and lead agency (a participant);
- ``point``: NA-POL, deployed at WDH but not participating;
- ``foreign``: ZA-IMM, South African, serving JNB/BBR/DUR only;

each in the four roles (duty officer, coordinator, senior official, admin). NA-CUS
is invited as a second participant, so there is always someone else's message
(posted by ``na-cus.duty``) and a participant to hand the lead to.

Besides the incident actions, the matrix covers the review of an incident (``GET
/incidents/{ref}/review``), the filtered timeline (``GET /streams/{stream}/events``
with the review's filters: exactly its readers, like the unfiltered one), search
(``GET /search``: a match in the incident exactly for its readers, like the list;
absent, never refused, for anyone else), read markers of the incident's stream
(``POST /streams/{stream}/read``, ``GET /streams/{stream}/reads``: exactly its
readers, like its events), the reference-data reads (``/me``, ``/agencies``,
``/crossing-points``) and bearer tokens (issue with ``POST /auth/token``, revoke
your own or, refused, someone else's): everyone signed in may read reference data
and manage their own tokens, whatever the incident.

Every action runs through the service layer (``hub.incidents.services``,
``hub.incidents.export.incident_export``, ``hub.incidents.review.incident_review``
and, for reads, the access-checked selectors the API calls) and through the REST
endpoints under ``/api/v1``, against one incident with ``visibility="participants"``
and one with ``visibility="crossing_point"``. ``TABLE`` spells out the expected
outcome of each cell, derived by hand from the rules in ``hub.incidents.permissions``
(and, for ``/audit/verify``, from ``hub.events.api``): allowed, 404 ``not_found``
(the caller may not see the incident) or 403 ``forbidden`` (they see it but may not
act). An allowed write must append exactly its event; a denied one (and every read)
must leave the incident's stream, rows and messages exactly as they were, and a
refused write, export, review or verification must be logged on ``hub.security``.

The demo region and both incidents are built once per module inside a
transaction that is rolled back at the end; each cell runs in a savepoint that
is rolled back after it, so every cell starts from the same state.

Each cell is its own parametrized test; ``test_the_matrix_is_complete`` checks,
in any test order, that the cells are exactly every action x layer x visibility x
relation x role and that every endpoint in the API's schema is one of them (or
belongs to another matrix). The count of cells checked is reported in pytest's
terminal summary ("authorization matrix: N cells checked", see
``tests/integration/conftest.py``).
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import logging
import textwrap
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone
from pytest_django import DjangoDbBlocker

from hub.accounts.models import ApiToken
from hub.accounts.services import credentials_check, token_issue, token_revoke
from hub.agencies.demo import DEMO_PASSWORD
from hub.agencies.models import Agency
from hub.agencies.selectors import access_for
from hub.attachments import services as attachment_services
from hub.attachments.models import Attachment
from hub.errors import Forbidden, HubError, NotFound
from hub.events import api as events_api
from hub.events import signing
from hub.events.filters import EventFilter
from hub.events.models import Event, ReadMarker
from hub.events.reads import stream_mark_read, stream_readers_for
from hub.events.selectors import stream_events_for, stream_page_for
from hub.incidents import services
from hub.incidents.export import incident_export
from hub.incidents.models import Incident, Message, Participation
from hub.incidents.review import incident_review
from hub.incidents.search import search_record
from hub.incidents.selectors import incident_for, incidents_visible_to, messages_for
from hub.jobs.attachment_derivatives import attachments_derive_pending
from hub.metrics.service import response_metrics
from tests.factories import Api, occurred, officer, post, report, seed
from tests.integration.conftest import MATRIX_PROPERTY

pytestmark = pytest.mark.django_db


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 120, 200)).save(out, format="PNG")
    return out.getvalue()


PNG = _png()
PNG_SHA256 = hashlib.sha256(PNG).hexdigest()

# --- the table ------------------------------------------------------------------------

OK = "OK"  # allowed: 200/201 and, for a write, its event appended
NOT_FOUND = "404"  # hub.errors.NotFound / HTTP 404 {"code": "not_found"}
FORBIDDEN = "403"  # hub.errors.Forbidden / HTTP 403 {"code": "forbidden"}
ABSENT = "absent"  # answered 200, but the incident is not in the answer (lists)
OUTCOMES = (OK, NOT_FOUND, FORBIDDEN, ABSENT)

ROLES = ("duty", "coord", "senior", "admin")  # demo username suffixes, the table's columns
RELATIONS = {"own": "NA-IMM", "point": "NA-POL", "foreign": "ZA-IMM"}
VISIBILITIES = ("participants", "crossing_point")
SERVICE = "service"
REST = "rest"

# One block per action. Rows: incident visibility, the caller's relation to it;
# columns: the caller's role. Written out from the docstring of
# hub.incidents.permissions, not computed from it:
# - read: participating duty officers/coordinators, anyone operational at the
#   point when visibility is crossing_point, senior officials serving the point;
#   admins never (so they get 404 on everything about an incident);
# - report: duty officers and coordinators serving the point (senior officials and
#   admins serving it get 403; agencies not serving it get 404);
# - update: participating coordinators, or the reporter (na-imm.duty) while the
#   incident is still "reported" (``update_triaged`` runs after triage);
# - transition, invite an agency, set the lead: participating coordinators;
# - post: participating duty officers, coordinators and senior officials;
# - edit: only the author, and only while their agency participates;
# - redact: the author (participating), a participating coordinator, or any
#   senior official serving the point;
# - export: senior officials serving the point, filtered or not (the filters narrow
#   the rows, never who may export);
# - review: senior officials serving the point, and coordinators of the lead agency
#   (NA-IMM, the reporter's); a participant's duty officer gets 403;
# - evidence files (hub.attachments.permissions): upload like post; list their
#   metadata, and view an image's derivatives (view image and thumbnail), like
#   read_messages; download the original and withdraw (a file
#   na-cus.duty uploaded) like review: senior officials serving the point and
#   coordinators of the lead agency; 403 ``original_restricted`` counts as 403;
# - the filtered timeline: exactly the readers of the stream, like read_events;
# - search: a match in the incident for exactly its readers, like the list (absent
#   for anyone else, never a refusal); a message hit in the results too;
# - metrics at the incident's point: senior officials and coordinators serving the
#   point (duty officers, admins and agencies not serving it get 403); the incident
#   counts in the figures exactly for its readers (absent for anyone else);
# - read markers of the incident's stream (mark how far you read, list who read
#   how far): anyone who may read the stream, exactly like its events;
# - /audit/verify?stream=: anyone who may read the stream;
#   /audit/keys (the checkpoints' public keys): everyone signed in;
#   /audit/verify (everything): senior officials only (403 for anyone else),
#   checking just the streams they may read (hub.events.permissions);
# - /me, /agencies, /crossing-points, POST /auth/token and revoking one's own
#   token: everyone signed in (reference data is not secret within the hub);
#   revoking another user's token: 404 for everyone, as if it did not exist.
TABLE: dict[str, str] = {
    "read_incident": """
        participants    own      OK   OK   OK   404
        participants    point    404  404  OK   404
        participants    foreign  404  404  404  404
        crossing_point  own      OK   OK   OK   404
        crossing_point  point    OK   OK   OK   404
        crossing_point  foreign  404  404  404  404
    """,
    "list_incidents": """
        participants    own      OK      OK      OK      absent
        participants    point    absent  absent  OK      absent
        participants    foreign  absent  absent  absent  absent
        crossing_point  own      OK      OK      OK      absent
        crossing_point  point    OK      OK      OK      absent
        crossing_point  foreign  absent  absent  absent  absent
    """,
    "read_events": """
        participants    own      OK   OK   OK   404
        participants    point    404  404  OK   404
        participants    foreign  404  404  404  404
        crossing_point  own      OK   OK   OK   404
        crossing_point  point    OK   OK   OK   404
        crossing_point  foreign  404  404  404  404
    """,
    "read_events_filtered": """
        participants    own      OK   OK   OK   404
        participants    point    404  404  OK   404
        participants    foreign  404  404  404  404
        crossing_point  own      OK   OK   OK   404
        crossing_point  point    OK   OK   OK   404
        crossing_point  foreign  404  404  404  404
    """,
    "mark_read": """
        participants    own      OK   OK   OK   404
        participants    point    404  404  OK   404
        participants    foreign  404  404  404  404
        crossing_point  own      OK   OK   OK   404
        crossing_point  point    OK   OK   OK   404
        crossing_point  foreign  404  404  404  404
    """,
    "read_reads": """
        participants    own      OK   OK   OK   404
        participants    point    404  404  OK   404
        participants    foreign  404  404  404  404
        crossing_point  own      OK   OK   OK   404
        crossing_point  point    OK   OK   OK   404
        crossing_point  foreign  404  404  404  404
    """,
    "read_messages": """
        participants    own      OK   OK   OK   404
        participants    point    404  404  OK   404
        participants    foreign  404  404  404  404
        crossing_point  own      OK   OK   OK   404
        crossing_point  point    OK   OK   OK   404
        crossing_point  foreign  404  404  404  404
    """,
    "report": """
        participants    own      OK   OK   403  403
        participants    point    OK   OK   403  403
        participants    foreign  404  404  404  404
        crossing_point  own      OK   OK   403  403
        crossing_point  point    OK   OK   403  403
        crossing_point  foreign  404  404  404  404
    """,
    "update": """
        participants    own      OK   OK   403  404
        participants    point    404  404  403  404
        participants    foreign  404  404  404  404
        crossing_point  own      OK   OK   403  404
        crossing_point  point    403  403  403  404
        crossing_point  foreign  404  404  404  404
    """,
    "update_triaged": """
        participants    own      403  OK   403  404
        participants    point    404  404  403  404
        participants    foreign  404  404  404  404
        crossing_point  own      403  OK   403  404
        crossing_point  point    403  403  403  404
        crossing_point  foreign  404  404  404  404
    """,
    "transition": """
        participants    own      403  OK   403  404
        participants    point    404  404  403  404
        participants    foreign  404  404  404  404
        crossing_point  own      403  OK   403  404
        crossing_point  point    403  403  403  404
        crossing_point  foreign  404  404  404  404
    """,
    "invite_agency": """
        participants    own      403  OK   403  404
        participants    point    404  404  403  404
        participants    foreign  404  404  404  404
        crossing_point  own      403  OK   403  404
        crossing_point  point    403  403  403  404
        crossing_point  foreign  404  404  404  404
    """,
    "set_lead": """
        participants    own      403  OK   403  404
        participants    point    404  404  403  404
        participants    foreign  404  404  404  404
        crossing_point  own      403  OK   403  404
        crossing_point  point    403  403  403  404
        crossing_point  foreign  404  404  404  404
    """,
    "post_message": """
        participants    own      OK   OK   OK   404
        participants    point    404  404  403  404
        participants    foreign  404  404  404  404
        crossing_point  own      OK   OK   OK   404
        crossing_point  point    403  403  403  404
        crossing_point  foreign  404  404  404  404
    """,
    "edit_own_message": """
        participants    own      OK   OK   OK   404
        participants    point    404  404  403  404
        participants    foreign  404  404  404  404
        crossing_point  own      OK   OK   OK   404
        crossing_point  point    403  403  403  404
        crossing_point  foreign  404  404  404  404
    """,
    "edit_others_message": """
        participants    own      403  403  403  404
        participants    point    404  404  403  404
        participants    foreign  404  404  404  404
        crossing_point  own      403  403  403  404
        crossing_point  point    403  403  403  404
        crossing_point  foreign  404  404  404  404
    """,
    "redact_own_message": """
        participants    own      OK   OK   OK   404
        participants    point    404  404  OK   404
        participants    foreign  404  404  404  404
        crossing_point  own      OK   OK   OK   404
        crossing_point  point    403  403  OK   404
        crossing_point  foreign  404  404  404  404
    """,
    "redact_others_message": """
        participants    own      403  OK   OK   404
        participants    point    404  404  OK   404
        participants    foreign  404  404  404  404
        crossing_point  own      403  OK   OK   404
        crossing_point  point    403  403  OK   404
        crossing_point  foreign  404  404  404  404
    """,
    "export": """
        participants    own      403  403  OK   404
        participants    point    404  404  OK   404
        participants    foreign  404  404  404  404
        crossing_point  own      403  403  OK   404
        crossing_point  point    403  403  OK   404
        crossing_point  foreign  404  404  404  404
    """,
    "export_filtered": """
        participants    own      403  403  OK   404
        participants    point    404  404  OK   404
        participants    foreign  404  404  404  404
        crossing_point  own      403  403  OK   404
        crossing_point  point    403  403  OK   404
        crossing_point  foreign  404  404  404  404
    """,
    "upload_attachment": """
        participants    own      OK   OK   OK   404
        participants    point    404  404  403  404
        participants    foreign  404  404  404  404
        crossing_point  own      OK   OK   OK   404
        crossing_point  point    403  403  403  404
        crossing_point  foreign  404  404  404  404
    """,
    "list_attachments": """
        participants    own      OK   OK   OK   404
        participants    point    404  404  OK   404
        participants    foreign  404  404  404  404
        crossing_point  own      OK   OK   OK   404
        crossing_point  point    OK   OK   OK   404
        crossing_point  foreign  404  404  404  404
    """,
    "attachment_view": """
        participants    own      OK   OK   OK   404
        participants    point    404  404  OK   404
        participants    foreign  404  404  404  404
        crossing_point  own      OK   OK   OK   404
        crossing_point  point    OK   OK   OK   404
        crossing_point  foreign  404  404  404  404
    """,
    "download_original": """
        participants    own      403  OK   OK   404
        participants    point    404  404  OK   404
        participants    foreign  404  404  404  404
        crossing_point  own      403  OK   OK   404
        crossing_point  point    403  403  OK   404
        crossing_point  foreign  404  404  404  404
    """,
    "withdraw_attachment": """
        participants    own      403  OK   OK   404
        participants    point    404  404  OK   404
        participants    foreign  404  404  404  404
        crossing_point  own      403  OK   OK   404
        crossing_point  point    403  403  OK   404
        crossing_point  foreign  404  404  404  404
    """,
    "review": """
        participants    own      403  OK   OK   404
        participants    point    404  404  OK   404
        participants    foreign  404  404  404  404
        crossing_point  own      403  OK   OK   404
        crossing_point  point    403  403  OK   404
        crossing_point  foreign  404  404  404  404
    """,
    "audit_verify_stream": """
        participants    own      OK   OK   OK   404
        participants    point    404  404  OK   404
        participants    foreign  404  404  404  404
        crossing_point  own      OK   OK   OK   404
        crossing_point  point    OK   OK   OK   404
        crossing_point  foreign  404  404  404  404
    """,
    "audit_verify_all": """
        participants    own      403  403  OK      403
        participants    point    403  403  OK      403
        participants    foreign  403  403  absent  403
        crossing_point  own      403  403  OK      403
        crossing_point  point    403  403  OK      403
        crossing_point  foreign  403  403  absent  403
    """,
    "search": """
        participants    own      OK      OK      OK      absent
        participants    point    absent  absent  OK      absent
        participants    foreign  absent  absent  absent  absent
        crossing_point  own      OK      OK      OK      absent
        crossing_point  point    OK      OK      OK      absent
        crossing_point  foreign  absent  absent  absent  absent
    """,
    "metrics": """
        participants    own      403  OK      OK   403
        participants    point    403  absent  OK   403
        participants    foreign  403  403     403  403
        crossing_point  own      403  OK      OK   403
        crossing_point  point    403  OK      OK   403
        crossing_point  foreign  403  403     403  403
    """,
    "audit_keys": """
        participants    own      OK   OK   OK   OK
        participants    point    OK   OK   OK   OK
        participants    foreign  OK   OK   OK   OK
        crossing_point  own      OK   OK   OK   OK
        crossing_point  point    OK   OK   OK   OK
        crossing_point  foreign  OK   OK   OK   OK
    """,
    "me": """
        participants    own      OK   OK   OK   OK
        participants    point    OK   OK   OK   OK
        participants    foreign  OK   OK   OK   OK
        crossing_point  own      OK   OK   OK   OK
        crossing_point  point    OK   OK   OK   OK
        crossing_point  foreign  OK   OK   OK   OK
    """,
    "agencies": """
        participants    own      OK   OK   OK   OK
        participants    point    OK   OK   OK   OK
        participants    foreign  OK   OK   OK   OK
        crossing_point  own      OK   OK   OK   OK
        crossing_point  point    OK   OK   OK   OK
        crossing_point  foreign  OK   OK   OK   OK
    """,
    "crossing_points": """
        participants    own      OK   OK   OK   OK
        participants    point    OK   OK   OK   OK
        participants    foreign  OK   OK   OK   OK
        crossing_point  own      OK   OK   OK   OK
        crossing_point  point    OK   OK   OK   OK
        crossing_point  foreign  OK   OK   OK   OK
    """,
    "auth_token": """
        participants    own      OK   OK   OK   OK
        participants    point    OK   OK   OK   OK
        participants    foreign  OK   OK   OK   OK
        crossing_point  own      OK   OK   OK   OK
        crossing_point  point    OK   OK   OK   OK
        crossing_point  foreign  OK   OK   OK   OK
    """,
    "revoke_own_token": """
        participants    own      OK   OK   OK   OK
        participants    point    OK   OK   OK   OK
        participants    foreign  OK   OK   OK   OK
        crossing_point  own      OK   OK   OK   OK
        crossing_point  point    OK   OK   OK   OK
        crossing_point  foreign  OK   OK   OK   OK
    """,
    "revoke_others_token": """
        participants    own      404  404  404  404
        participants    point    404  404  404  404
        participants    foreign  404  404  404  404
        crossing_point  own      404  404  404  404
        crossing_point  point    404  404  404  404
        crossing_point  foreign  404  404  404  404
    """,
}

# /audit/verify and the reference-data reads have no service function of their own
# (the view calls a permission function or a selector), so they are REST only.
REST_ONLY = frozenset(
    {
        "audit_verify_stream",
        "audit_verify_all",
        "audit_keys",
        "me",
        "agencies",
        "crossing_points",
    }
)
LAYERS: dict[str, tuple[str, ...]] = {
    action: (REST,) if action in REST_ONLY else (SERVICE, REST) for action in TABLE
}

# The event an allowed write appends to the incident's stream (report: to a new stream).
WRITE_KINDS = {
    "report": "incident.reported",
    "update": "incident.updated",
    "update_triaged": "incident.updated",
    "transition": "incident.transitioned",
    "invite_agency": "incident.agency_invited",
    "set_lead": "incident.lead_changed",
    "post_message": "message.posted",
    "edit_own_message": "message.edited",
    "edit_others_message": "message.edited",
    "redact_own_message": "message.redacted",
    "redact_others_message": "message.redacted",
    "upload_attachment": "attachment.added",
    "download_original": "attachment.original_downloaded",
    "withdraw_attachment": "attachment.withdrawn",
}
# The `action` a refusal is logged under on "hub.security" (hub.security.log_denial):
# every refused read of an existing incident, write, export and verification.
# Listing filters instead of refusing, so it is not listed.
LOGGED_ACTIONS = {
    "read_incident": "incident.read",
    "read_messages": "incident.read",
    "read_events": "stream.read",
    "read_events_filtered": "stream.read",
    "mark_read": "stream.read",
    "read_reads": "stream.read",
    "audit_verify_stream": "stream.read",
    "report": "incident.report",
    "update": "incident.update",
    "update_triaged": "incident.update",
    "transition": "incident.transition",
    "invite_agency": "incident.invite_agency",
    "set_lead": "incident.set_lead",
    "post_message": "message.post",
    "edit_own_message": "message.edit",
    "edit_others_message": "message.edit",
    "redact_own_message": "message.redact",
    "redact_others_message": "message.redact",
    "export": "incident.export",
    "export_filtered": "incident.export",
    "review": "incident.review",
    "metrics": "metrics.read",
    "audit_verify_all": "audit.verify",
    "upload_attachment": "attachment.upload",
    "list_attachments": "attachment.list",
    "attachment_view": "attachment.view",
    "download_original": "attachment.download",
    "withdraw_attachment": "attachment.withdraw",
}


@dataclass(frozen=True)
class Cell:
    layer: str
    action: str
    visibility: str
    relation: str
    role: str
    expected: str

    @property
    def username(self) -> str:
        return f"{RELATIONS[self.relation].lower()}.{self.role}"

    @property
    def id(self) -> str:
        return f"{self.layer}-{self.action}-{self.visibility}-{self.username}"


def parse_table(table: dict[str, str]) -> list[Cell]:
    """Turn the text blocks into cells, insisting every block is complete."""
    cells: list[Cell] = []
    for action, block in table.items():
        seen: set[tuple[str, str]] = set()
        for line in textwrap.dedent(block).strip().splitlines():
            visibility, relation, *outcomes = line.split()
            assert visibility in VISIBILITIES, line
            assert relation in RELATIONS, line
            assert len(outcomes) == len(ROLES), line
            assert all(o in OUTCOMES for o in outcomes), line
            assert (visibility, relation) not in seen, line
            seen.add((visibility, relation))
            for layer in LAYERS[action]:
                for role, expected in zip(ROLES, outcomes, strict=True):
                    cells.append(Cell(layer, action, visibility, relation, role, expected))
        assert seen == {(v, r) for v in VISIBILITIES for r in RELATIONS}, action
    return cells


CELLS = parse_table(TABLE)
# 31 actions on both layers + 6 REST-only, x 2 visibilities x 3 relations x 4 roles.
EXPECTED_CELL_COUNT = (31 * 2 + 6) * 2 * 3 * 4

# --- the world ------------------------------------------------------------------------

CALLERS = tuple(f"{agency.lower()}.{role}" for agency in RELATIONS.values() for role in ROLES)
# Callers whose own message is posted through the service during setup. For the
# others (who may not post) a message they authored is planted in the database,
# as if their agency had participated earlier: the edit/redact cells then test
# the permission rules, not the absence of a message.
POSTING_CALLERS = ("na-imm.duty", "na-imm.coord", "na-imm.senior")
OTHER_AUTHOR = "na-cus.duty"


@dataclass(frozen=True)
class World:
    refs: dict[str, str]  # visibility -> incident ref
    others_message: dict[str, int]  # visibility -> id of na-cus.duty's message
    own_message: dict[tuple[str, str], int]  # (visibility, username) -> message id
    clients: dict[str, Api]  # username -> signed-in REST client
    others_token: int  # id of a bearer token of na-cus.duty (not a caller)
    attachment: dict[str, int]  # visibility -> id of a file na-cus.duty uploaded


def build_world() -> World:
    refs: dict[str, str] = {}
    others: dict[str, int] = {}
    own: dict[tuple[str, str], int] = {}
    attachments: dict[str, int] = {}
    for visibility in VISIBILITIES:
        incident = report("na-imm.duty", "WDH", visibility=visibility)
        services.incident_invite_agency(
            actor=officer("na-imm.coord"), ref=incident.ref, agency="NA-CUS"
        )
        others[visibility] = post(OTHER_AUTHOR, incident.ref, "Customs: cargo held.").message.pk
        for username in CALLERS:
            if username in POSTING_CALLERS:
                own[visibility, username] = post(username, incident.ref, "Mine.").message.pk
            else:
                author = officer(username)
                agency = Agency.objects.get(code=username.split(".")[0].upper())
                own[visibility, username] = Message.objects.create(
                    incident=incident,
                    author=author,
                    agency=agency,
                    body="Mine, from before.",
                    client_msg_id=uuid.uuid4(),
                    seq=0,
                    created_at=timezone.now(),
                ).pk
        refs[visibility] = incident.ref
        attachments[visibility] = attachment_services.attachment_upload(
            actor=officer(OTHER_AUTHOR),
            ref=incident.ref,
            file=io.BytesIO(PNG),
            filename="crew-list.png",
            client_msg_id=uuid.uuid4(),
        ).attachment.pk
    # The background job makes the files' view images and thumbnails.
    assert set(attachments_derive_pending()) >= set(attachments.values())
    # Sessions are created here, outside the per-cell savepoints, so they survive.
    clients = {username: Api(username) for username in CALLERS}
    others_token = token_issue(user=officer(OTHER_AUTHOR), name="not yours").token.pk
    return World(
        refs=refs,
        others_message=others,
        own_message=own,
        clients=clients,
        others_token=others_token,
        attachment=attachments,
    )


@pytest.fixture(scope="module")
def world(django_db_setup: None, django_db_blocker: DjangoDbBlocker) -> Iterator[World]:
    """The demo region and both incidents, in a transaction rolled back after the module.

    Each test (``django_db``) then runs in a savepoint inside it, rolled back after
    the test, so every cell starts from this state.
    """
    with django_db_blocker.unblock(), transaction.atomic():
        # Only ever on the test database (pytest-django sets it up because the
        # tests here are marked django_db): never seed the development database.
        assert "test" in str(connection.settings_dict["NAME"]), connection.settings_dict["NAME"]
        seed()
        try:
            yield build_world()
        finally:
            transaction.set_rollback(True)


# --- observing the database -----------------------------------------------------------


def stream_events(ref: str) -> list[Event]:
    return list(Event.objects.filter(stream__name=f"incident:{ref}").order_by("seq"))


LOCAL_KEYS = ("stream_events", "incident", "participants", "messages")


def state(ref: str) -> dict[str, Any]:
    """Everything a write on the incident could change."""
    incident = Incident.objects.get(ref=ref)
    return {
        "stream_events": Event.objects.filter(stream__name=f"incident:{ref}").count(),
        "all_events": Event.objects.count(),
        "incidents": Incident.objects.count(),
        "incident_ids": sorted(Incident.objects.values_list("pk", flat=True)),
        "incident": Incident.objects.filter(pk=incident.pk)
        .values("status", "severity", "title", "visibility", "lead_agency_id", "updated_at")
        .get(),
        "participants": sorted(
            Participation.objects.filter(incident=incident).values_list("agency__code", flat=True)
        ),
        "messages": list(
            Message.objects.filter(incident=incident)
            .order_by("pk")
            .values_list("pk", "body", "edit_count", "redacted_at")
        ),
    }


# --- performing an action -------------------------------------------------------------


# A refused download of an original says why in its own code (hub.attachments).
FORBIDDEN_CODES = ("forbidden", "original_restricted")


def from_service(call: Callable[[], object]) -> str:
    """Run a service call; the outcome is OK, or the kind of refusal it raised."""
    try:
        call()
    except HubError as exc:
        if isinstance(exc, NotFound) and exc.code == "not_found":
            return NOT_FOUND
        if isinstance(exc, Forbidden) and exc.code in FORBIDDEN_CODES:
            return FORBIDDEN
        # Anything else (a 409, a 422) is not an authorization outcome: the cell fails.
        return f"unexpected {type(exc).__name__} {exc.code}: {exc.detail}"
    return OK


def from_response(response: Any) -> str:
    """The outcome of a REST call: OK for 200/201, else the refusal (exact code checked)."""
    if response.status_code in (200, 201):
        return OK
    body = response.json()
    if response.status_code == 404 and body.get("code") == "not_found":
        return NOT_FOUND
    if response.status_code == 403 and body.get("code") in FORBIDDEN_CODES:
        return FORBIDDEN
    return f"unexpected {response.status_code}: {body}"


@dataclass(frozen=True)
class Call:
    world: World
    layer: str
    action: str
    visibility: str
    username: str

    @property
    def ref(self) -> str:
        return self.world.refs[self.visibility]

    @property
    def api(self) -> Api:
        return self.world.clients[self.username]

    @property
    def message_id(self) -> int:
        if "_own_" in self.action:
            return self.world.own_message[self.visibility, self.username]
        return self.world.others_message[self.visibility]


def perform(call: Call, monkeypatch: pytest.MonkeyPatch) -> str:
    """Do the action as the caller through the given layer; return its outcome."""
    return (SERVICE_ACTIONS if call.layer == SERVICE else REST_ACTIONS)[call.action](
        call, monkeypatch
    )


# Reads through the service layer: the access-checked selectors the API calls.


def service_read_incident(c: Call, _: pytest.MonkeyPatch) -> str:
    found = incident_for(access_for(officer(c.username)), c.ref)
    if found is None:
        return NOT_FOUND
    assert found[0].ref == c.ref
    return OK


def service_list_incidents(c: Call, _: pytest.MonkeyPatch) -> str:
    refs = [i.ref for i in incidents_visible_to(access_for(officer(c.username)), limit=200)]
    return OK if c.ref in refs else ABSENT


# Search: a term in both incidents (na-cus.duty's message); the caller finds the
# incident's message only if they may read it, and nothing from an unreadable one.
SEARCH_TERM = "CARGO held"


def search_outcome(c: Call, hits: list[tuple[str | None, str]]) -> str:
    # (Alert hits, whose readers are the crossing point's: test_authorization_matrix_ops.)
    readable = {i.ref for i in incidents_visible_to(access_for(officer(c.username)), limit=200)}
    assert {ref for ref, kind in hits if kind != "alert"} <= readable, hits
    return OK if (c.ref, "message") in hits else ABSENT


def service_search(c: Call, _: pytest.MonkeyPatch) -> str:
    page = search_record(access_for(officer(c.username)), SEARCH_TERM, limit=50)
    return search_outcome(c, [(h.incident, h.kind) for h in page.items])


def metrics_outcome(c: Call, counts: dict[str, int]) -> str:
    """The incident counts in NA-CUS's first responses exactly when the caller may read
    it: the count is the number of the world's incidents they may read."""
    readable = {i.ref for i in incidents_visible_to(access_for(officer(c.username)), limit=200)}
    assert counts.get("NA-CUS", 0) == len(readable), (counts, readable)
    return OK if c.ref in readable else ABSENT


def service_metrics(c: Call, _: pytest.MonkeyPatch) -> str:
    counts: dict[str, int] = {}

    def read() -> None:
        found = response_metrics(actor=officer(c.username), crossing_point="WDH")
        counts.update({r.key: r.current.count for r in found.first_response})

    outcome = from_service(read)
    return metrics_outcome(c, counts) if outcome == OK else outcome


def service_read_events(c: Call, _: pytest.MonkeyPatch) -> str:
    def read() -> None:
        access = access_for(officer(c.username))
        events, _, head = stream_events_for(access, f"incident:{c.ref}", after=0, limit=500)
        assert [e.seq for e in events] == list(range(1, head + 1))
        assert head == len(stream_events(c.ref))

    return from_service(read)


def check_marker(c: Call, outcome: str) -> None:
    """An allowed mark stores the head (the seq asked for is beyond it); a refusal nothing."""
    stored = (
        ReadMarker.objects.filter(user__username=c.username, stream_name=f"incident:{c.ref}")
        .values_list("seq", flat=True)
        .first()
    )
    if outcome == OK:
        assert stored == len(stream_events(c.ref))
    else:
        assert stored is None


def plant_other_reader(c: Call) -> None:
    """A marker of na-cus.duty (a participant, so a reader in every row)."""
    ReadMarker.objects.create(
        user=officer(OTHER_AUTHOR),
        stream_name=f"incident:{c.ref}",
        seq=1,
        updated_at=timezone.now(),
    )


def service_mark_read(c: Call, _: pytest.MonkeyPatch) -> str:
    user = officer(c.username)
    outcome = from_service(
        lambda: stream_mark_read(actor=user, stream=f"incident:{c.ref}", seq=10**6)
    )
    check_marker(c, outcome)
    return outcome


def service_read_reads(c: Call, _: pytest.MonkeyPatch) -> str:
    plant_other_reader(c)

    def read() -> None:
        head, readers = stream_readers_for(access_for(officer(c.username)), f"incident:{c.ref}")
        assert head == len(stream_events(c.ref))
        assert [(r.username, r.agency, r.seq) for r in readers] == [(OTHER_AUTHOR, "NA-CUS", 1)]

    return from_service(read)


def service_read_messages(c: Call, _: pytest.MonkeyPatch) -> str:
    found = incident_for(access_for(officer(c.username)), c.ref)
    if found is None:
        return NOT_FOUND
    ids = [m.pk for m in messages_for(found[0])]
    assert c.world.others_message[c.visibility] in ids
    return OK


def service_export(c: Call, _: pytest.MonkeyPatch) -> str:
    def export() -> None:
        exported = incident_export(actor=officer(c.username), ref=c.ref, fmt="json")
        check_export(c.ref, exported.content)

    return from_service(export)


# The filtered timeline: NA-CUS's messages, counted (the one na-cus.duty posted).
FILTERED = {"group": "messages", "agency": "NA-CUS", "count": "true"}


def filtered_seqs(c: Call) -> list[int]:
    """NA-CUS's events in the "messages" group: its message and its file."""
    others = Message.objects.get(pk=c.world.others_message[c.visibility])
    attachment = Attachment.objects.get(pk=c.world.attachment[c.visibility])
    return sorted([others.seq, attachment.seq])


def check_filtered(c: Call, seqs: list[int], matched: int | None, head: int) -> None:
    assert seqs == filtered_seqs(c)
    assert matched == 2
    assert head == len(stream_events(c.ref))


def service_read_events_filtered(c: Call, _: pytest.MonkeyPatch) -> str:
    def read() -> None:
        page = stream_page_for(
            access_for(officer(c.username)),
            f"incident:{c.ref}",
            limit=500,
            event_filter=EventFilter.parse(groups=FILTERED["group"], agency=FILTERED["agency"]),
            count=True,
        )
        check_filtered(c, [e.seq for e in page.events], page.matched, page.head)

    return from_service(read)


def check_review(ref: str, body: dict[str, Any]) -> None:
    """A review of the matrix's incident: reported by NA-IMM, NA-CUS invited and posting."""
    assert body["ref"] == ref
    assert body["head"] == len(stream_events(ref))
    assert body["agencies"] == ["NA-CUS", "NA-IMM"]
    assert [m["key"] for m in body["milestones"]] == [
        "reported",
        "triaged",
        "lead_set",
        "active",
        "resolved",
        "closed",
    ]
    (response,) = body["first_responses"]
    assert (response["agency"], response["invited_seq"]) == ("NA-CUS", 2)
    assert body["verification"]["ok"] is True


def service_review(c: Call, _: pytest.MonkeyPatch) -> str:
    def read() -> None:
        found = incident_review(actor=officer(c.username), ref=c.ref)
        check_review(c.ref, json.loads(json.dumps(asdict(found), default=str)))

    return from_service(read)


def check_export(ref: str, content: bytes) -> None:
    document = json.loads(content)
    assert document["incident"]["ref"] == ref
    assert len(document["events"]) == len(stream_events(ref))
    assert document["verification"]["ok"] is True


def service_export_filtered(c: Call, _: pytest.MonkeyPatch) -> str:
    def export() -> None:
        exported = incident_export(
            actor=officer(c.username),
            ref=c.ref,
            fmt="json",
            event_filter=EventFilter.parse(groups=FILTERED["group"], agency=FILTERED["agency"]),
        )
        check_filtered_export(c, exported.content)

    return from_service(export)


def check_filtered_export(c: Call, content: bytes) -> None:
    """The export of the filtered timeline's rows (NA-CUS's message and file), recorded."""
    document = json.loads(content)
    assert [row["seq"] for row in document["events"]] == filtered_seqs(c)
    assert document["filters"] == {"group": ["messages"], "agency": "NA-CUS"}
    assert (document["rows_shown"], document["rows_total"]) == (2, len(stream_events(c.ref)))
    assert document["verification"]["ok"] is True


# Writes through the service layer.


def service_write(c: Call, _: pytest.MonkeyPatch) -> str:
    actor = officer(c.username)
    calls: dict[str, Callable[[], object]] = {
        "report": lambda: services.incident_report(
            actor=actor,
            crossing_point="WDH",
            title="Unattended bag at gate 3",
            category="security_threat",
            severity="high",
            occurred_at=occurred(),
            visibility=c.visibility,
        ),
        "update": lambda: services.incident_update(
            actor=actor, ref=c.ref, changes={"severity": "high"}
        ),
        "transition": lambda: services.incident_transition(
            actor=actor, ref=c.ref, to_status="triaged"
        ),
        "invite_agency": lambda: services.incident_invite_agency(
            actor=actor, ref=c.ref, agency="NA-AIR"
        ),
        "set_lead": lambda: services.incident_set_lead(actor=actor, ref=c.ref, agency="NA-CUS"),
        "post_message": lambda: services.message_post(
            actor=actor, ref=c.ref, body="Matrix check.", client_msg_id=uuid.uuid4()
        ),
        "edit": lambda: services.message_edit(
            actor=actor, ref=c.ref, message_id=c.message_id, body=f"Edited by {c.username}."
        ),
        "redact": lambda: services.message_redact(
            actor=actor, ref=c.ref, message_id=c.message_id, reason="Personal data."
        ),
        "upload_attachment": lambda: attachment_services.attachment_upload(
            actor=actor,
            ref=c.ref,
            file=io.BytesIO(PNG),
            filename="matrix.png",
            client_msg_id=uuid.uuid4(),
        ),
        "download_original": lambda: download_service(actor, c),
        "withdraw_attachment": lambda: attachment_services.attachment_withdraw(
            actor=actor,
            ref=c.ref,
            attachment_id=c.world.attachment[c.visibility],
            reason="Wrong person.",
        ),
    }
    return from_service(calls[write_verb(c.action)])


def download_service(actor: Any, c: Call) -> None:
    _attachment, stream = attachment_services.attachment_open_original(
        actor=actor, ref=c.ref, attachment_id=c.world.attachment[c.visibility]
    )
    stream.close()


def service_list_attachments(c: Call, _: pytest.MonkeyPatch) -> str:
    return from_service(
        lambda: attachment_services.attachments_of_incident(actor=officer(c.username), ref=c.ref)
    )


def service_attachment_view(c: Call, _: pytest.MonkeyPatch) -> str:
    def both() -> None:
        for kind in ("view", "thumbnail"):
            _attachment, stream = attachment_services.attachment_open_derivative(
                actor=officer(c.username),
                ref=c.ref,
                attachment_id=c.world.attachment[c.visibility],
                kind=kind,
            )
            stream.close()

    return from_service(both)


def rest_attachment_view(c: Call, _: pytest.MonkeyPatch) -> str:
    """The outcome of the view image; when it is served, the thumbnail is too (a
    refusal is asked once, so exactly one denial is logged)."""
    base = f"/api/v1/incidents/{c.ref}/attachments/{c.world.attachment[c.visibility]}"
    view = c.api.get(f"{base}/view")
    if view.status_code == 200:
        thumbnail = c.api.get(f"{base}/thumbnail")
        assert thumbnail.status_code == 200
        for response in (view, thumbnail):
            assert response["Content-Type"] == "image/jpeg"
            assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"
        return OK
    return from_response(view)


def rest_list_attachments(c: Call, _: pytest.MonkeyPatch) -> str:
    response = c.api.get(f"/api/v1/incidents/{c.ref}/attachments")
    if response.status_code == 200:
        assert c.world.attachment[c.visibility] in [a["id"] for a in response.json()["items"]]
    return from_response(response)


def write_verb(action: str) -> str:
    if action == "update_triaged":
        return "update"
    return action.split("_")[0] if action.startswith(("edit_", "redact_")) else action


# Everything through REST.


def rest_read_incident(c: Call, _: pytest.MonkeyPatch) -> str:
    response = c.api.get(f"/api/v1/incidents/{c.ref}")
    if response.status_code == 200:
        assert response.json()["ref"] == c.ref
    return from_response(response)


def rest_list_incidents(c: Call, _: pytest.MonkeyPatch) -> str:
    response = c.api.get("/api/v1/incidents", {"limit": 200})
    assert response.status_code == 200, response.content
    return OK if c.ref in [i["ref"] for i in response.json()["items"]] else ABSENT


def rest_search(c: Call, _: pytest.MonkeyPatch) -> str:
    response = c.api.get("/api/v1/search", {"q": SEARCH_TERM, "limit": 50})
    assert response.status_code == 200, response.content
    return search_outcome(c, [(i["incident"], i["kind"]) for i in response.json()["items"]])


def rest_metrics(c: Call, _: pytest.MonkeyPatch) -> str:
    response = c.api.get("/api/v1/metrics", {"crossing_point": "WDH"})
    if response.status_code == 200:
        rows = response.json()["first_response"]
        return metrics_outcome(c, {r["key"]: r["current"]["count"] for r in rows})
    return from_response(response)


def rest_read_events_filtered(c: Call, _: pytest.MonkeyPatch) -> str:
    response = c.api.get(f"/api/v1/streams/incident:{c.ref}/events", {**FILTERED, "limit": 500})
    if response.status_code == 200:
        body = response.json()
        check_filtered(c, [e["seq"] for e in body["events"]], body["matched"], body["head"])
    return from_response(response)


def rest_review(c: Call, _: pytest.MonkeyPatch) -> str:
    response = c.api.get(f"/api/v1/incidents/{c.ref}/review")
    if response.status_code == 200:
        check_review(c.ref, response.json())
    return from_response(response)


def rest_read_events(c: Call, _: pytest.MonkeyPatch) -> str:
    response = c.api.get(f"/api/v1/streams/incident:{c.ref}/events", {"limit": 500})
    if response.status_code == 200:
        body = response.json()
        assert body["head"] == len(stream_events(c.ref))
        assert [e["seq"] for e in body["events"]] == list(range(1, body["head"] + 1))
    return from_response(response)


def rest_mark_read(c: Call, _: pytest.MonkeyPatch) -> str:
    response = c.api.post(f"/api/v1/streams/incident:{c.ref}/read", {"seq": 10**6})
    if response.status_code == 200:
        body = response.json()
        assert (body["stream"], body["seq"]) == (f"incident:{c.ref}", len(stream_events(c.ref)))
    outcome = from_response(response)
    check_marker(c, outcome)
    return outcome


def rest_read_reads(c: Call, _: pytest.MonkeyPatch) -> str:
    plant_other_reader(c)
    response = c.api.get(f"/api/v1/streams/incident:{c.ref}/reads")
    if response.status_code == 200:
        body = response.json()
        assert body["head"] == len(stream_events(c.ref))
        assert [(r["user"], r["agency"], r["seq"]) for r in body["readers"]] == [
            (OTHER_AUTHOR, "NA-CUS", 1)
        ]
    return from_response(response)


def rest_read_messages(c: Call, _: pytest.MonkeyPatch) -> str:
    response = c.api.get(f"/api/v1/incidents/{c.ref}/messages")
    if response.status_code == 200:
        ids = [m["id"] for m in response.json()["items"]]
        assert c.world.others_message[c.visibility] in ids
    return from_response(response)


def rest_export(c: Call, _: pytest.MonkeyPatch) -> str:
    response = c.api.get(f"/api/v1/incidents/{c.ref}/export", {"format": "json"})
    if response.status_code == 200:
        check_export(c.ref, response.content)
    return from_response(response)


def rest_export_filtered(c: Call, _: pytest.MonkeyPatch) -> str:
    params = {"format": "json", "group": FILTERED["group"], "agency": FILTERED["agency"]}
    response = c.api.get(f"/api/v1/incidents/{c.ref}/export", params)
    if response.status_code == 200:
        check_filtered_export(c, response.content)
    return from_response(response)


def rest_audit_verify_stream(c: Call, _: pytest.MonkeyPatch) -> str:
    response = c.api.get("/api/v1/audit/verify", {"stream": f"incident:{c.ref}"})
    if response.status_code == 200:
        body = response.json()
        assert body["ok"] is True
        assert body["streams_checked"] == 1
        assert body["events_checked"] == len(stream_events(c.ref))
    return from_response(response)


def rest_audit_verify_all(c: Call, monkeypatch: pytest.MonkeyPatch) -> str:
    """200 is OK when the incident's stream was among those verified, else ABSENT."""
    verified: list[list[str] | None] = []
    real_verify = events_api.verify

    def spy(names: list[str] | None = None) -> Any:
        verified.append(None if names is None else list(names))
        return real_verify(names)

    monkeypatch.setattr(events_api, "verify", spy)
    response = c.api.get("/api/v1/audit/verify")
    outcome = from_response(response)
    if outcome != OK:
        assert verified == []
        return outcome
    assert response.json()["ok"] is True
    assert len(verified) == 1
    names = verified[0]
    assert names is not None, "a demo senior official is not a superuser: scoped verification"
    return OK if f"incident:{c.ref}" in names else ABSENT


def rest_write(c: Call, _: pytest.MonkeyPatch) -> str:
    base = f"/api/v1/incidents/{c.ref}"
    verb = write_verb(c.action)
    if verb == "report":
        response = c.api.post(
            "/api/v1/incidents",
            {
                "crossing_point": "WDH",
                "title": "Unattended bag at gate 3",
                "category": "security_threat",
                "severity": "high",
                "occurred_at": occurred().isoformat(),
                "visibility": c.visibility,
            },
        )
    elif verb == "update":
        response = c.api.patch(base, {"severity": "high"})
    elif verb == "transition":
        response = c.api.post(f"{base}/transitions", {"to": "triaged"})
    elif verb == "invite_agency":
        response = c.api.post(f"{base}/agencies", {"agency": "NA-AIR"})
    elif verb == "set_lead":
        response = c.api.put(f"{base}/lead", {"agency": "NA-CUS"})
    elif verb == "post_message":
        response = c.api.post(
            f"{base}/messages", {"body": "Matrix check.", "client_msg_id": str(uuid.uuid4())}
        )
    elif verb == "upload_attachment":
        f = io.BytesIO(PNG)
        f.name = "matrix.png"
        response = c.api.client.post(
            f"{base}/attachments", {"file": f, "client_msg_id": str(uuid.uuid4())}
        )
    elif verb == "download_original":
        response = c.api.get(f"{base}/attachments/{c.world.attachment[c.visibility]}")
        if response.status_code == 200:
            assert b"".join(response.streaming_content) == PNG
            return OK
    elif verb == "withdraw_attachment":
        response = c.api.post(
            f"{base}/attachments/{c.world.attachment[c.visibility]}/withdraw",
            {"reason": "Wrong person."},
        )
    elif verb == "edit":
        response = c.api.patch(
            f"{base}/messages/{c.message_id}", {"body": f"Edited by {c.username}."}
        )
    else:
        assert verb == "redact", verb
        response = c.api.post(
            f"{base}/messages/{c.message_id}/redact", {"reason": "Personal data."}
        )
    return from_response(response)


# Reference data and tokens (the incident plays no part: same answer in every row).

ROLE_NAMES = {
    "duty": "duty_officer",
    "coord": "coordinator",
    "senior": "senior_official",
    "admin": "admin",
}
_addresses = itertools.count(1)


def fresh_address() -> str:
    """A client address of its own, so the sign-in throttle (per address) never trips."""
    n = next(_addresses)
    return f"10.91.{n // 250}.{n % 250 + 1}"


def rest_audit_keys(c: Call, _: pytest.MonkeyPatch) -> str:
    response = c.api.get("/api/v1/audit/keys")
    if response.status_code == 200:
        keys = response.json()
        assert [k["key_id"] for k in keys if k["current"]] == [signing.current_key_id()]
        assert all(set(k) == {"key_id", "ed25519", "pem", "current"} for k in keys)
    return from_response(response)


def rest_me(c: Call, _: pytest.MonkeyPatch) -> str:
    response = c.api.get("/api/v1/me")
    if response.status_code == 200:
        body = response.json()
        assert body["username"] == c.username
        agency, role = c.username.split(".")
        assert {(g["agency"], g["role"]) for g in body["memberships"]} == {
            (agency.upper(), ROLE_NAMES[role])
        }
    return from_response(response)


def rest_agencies(c: Call, _: pytest.MonkeyPatch) -> str:
    response = c.api.get("/api/v1/agencies")
    if response.status_code == 200:
        codes = {a["code"] for a in response.json()}
        assert {"NA-IMM", "NA-POL", "NA-CUS", "ZA-IMM"} <= codes
    return from_response(response)


def rest_crossing_points(c: Call, _: pytest.MonkeyPatch) -> str:
    response = c.api.get("/api/v1/crossing-points")
    if response.status_code == 200:
        points = {p["code"]: p for p in response.json()}
        assert {"WDH", "JNB"} <= set(points)
        assert "NA-IMM" in {d["agency"] for d in points["WDH"]["agencies"]}
    return from_response(response)


def check_issued(username: str, token_id: int, raw: str) -> None:
    token = ApiToken.objects.get(pk=token_id)
    assert token.user.username == username
    assert token.revoked_at is None
    assert raw not in (token.digest, token.prefix)
    me = Api(bearer=raw).get("/api/v1/me")
    assert (me.status_code, me.json()["username"]) == (200, username)


def service_auth_token(c: Call, _: pytest.MonkeyPatch) -> str:
    def issue() -> None:
        user = credentials_check(request=None, username=c.username, password=DEMO_PASSWORD)
        issued = token_issue(user=user, name="matrix")
        check_issued(c.username, issued.token.pk, issued.raw)

    return from_service(issue)


def rest_auth_token(c: Call, _: pytest.MonkeyPatch) -> str:
    response = Client(REMOTE_ADDR=fresh_address()).post(
        "/api/v1/auth/token",
        json.dumps({"username": c.username, "password": DEMO_PASSWORD, "name": "matrix"}),
        content_type="application/json",
    )
    if response.status_code == 201:
        body = response.json()
        check_issued(c.username, body["id"], body["token"])
    return from_response(response)


def service_revoke_token(c: Call, _: pytest.MonkeyPatch) -> str:
    user = officer(c.username)
    if c.action == "revoke_own_token":
        token_id = token_issue(user=user, name="mine").token.pk
    else:
        token_id = c.world.others_token
    outcome = from_service(lambda: token_revoke(user=user, token_id=token_id))
    check_revocation(token_id, revoked=outcome == OK)
    return outcome


def rest_revoke_token(c: Call, _: pytest.MonkeyPatch) -> str:
    if c.action == "revoke_own_token":
        token_id = token_issue(user=officer(c.username), name="mine").token.pk
    else:
        token_id = c.world.others_token
    response = c.api.post("/api/v1/auth/token/revoke", {"id": token_id})
    outcome = from_response(response)
    check_revocation(token_id, revoked=outcome == OK)
    return outcome


def check_revocation(token_id: int, *, revoked: bool) -> None:
    assert (ApiToken.objects.get(pk=token_id).revoked_at is not None) is revoked
    if not revoked:  # a refusal revokes nothing at all
        assert not ApiToken.objects.filter(revoked_at__isnull=False).exists()


Performer = Callable[[Call, pytest.MonkeyPatch], str]
SERVICE_ACTIONS: dict[str, Performer] = {
    "read_incident": service_read_incident,
    "list_incidents": service_list_incidents,
    "read_events": service_read_events,
    "read_events_filtered": service_read_events_filtered,
    "mark_read": service_mark_read,
    "read_reads": service_read_reads,
    "read_messages": service_read_messages,
    "export": service_export,
    "export_filtered": service_export_filtered,
    "review": service_review,
    "search": service_search,
    "metrics": service_metrics,
    "auth_token": service_auth_token,
    "revoke_own_token": service_revoke_token,
    "revoke_others_token": service_revoke_token,
    "list_attachments": service_list_attachments,
    "attachment_view": service_attachment_view,
    **{action: service_write for action in WRITE_KINDS},
}
REST_ACTIONS: dict[str, Performer] = {
    "read_incident": rest_read_incident,
    "list_incidents": rest_list_incidents,
    "read_events": rest_read_events,
    "read_events_filtered": rest_read_events_filtered,
    "mark_read": rest_mark_read,
    "read_reads": rest_read_reads,
    "read_messages": rest_read_messages,
    "export": rest_export,
    "export_filtered": rest_export_filtered,
    "review": rest_review,
    "search": rest_search,
    "metrics": rest_metrics,
    "audit_verify_stream": rest_audit_verify_stream,
    "audit_verify_all": rest_audit_verify_all,
    "audit_keys": rest_audit_keys,
    "me": rest_me,
    "agencies": rest_agencies,
    "crossing_points": rest_crossing_points,
    "auth_token": rest_auth_token,
    "revoke_own_token": rest_revoke_token,
    "revoke_others_token": rest_revoke_token,
    "list_attachments": rest_list_attachments,
    "attachment_view": rest_attachment_view,
    **{action: rest_write for action in WRITE_KINDS},
}


# --- checking an allowed write --------------------------------------------------------


def check_written(c: Call, before: dict[str, Any], before_events: list[Event]) -> None:
    """An allowed write appended exactly its event, by the caller, and made its change."""
    actor = officer(c.username)
    if c.action == "report":
        assert Incident.objects.count() == before["incidents"] + 1
        assert Event.objects.count() == before["all_events"] + 1
        new = Incident.objects.exclude(pk__in=before["incident_ids"]).get()
        assert new.reported_by_id == actor.pk
        assert new.lead_agency.code == c.username.split(".")[0].upper()
        assert new.visibility == c.visibility
        events = stream_events(new.ref)
        assert [(e.seq, e.kind, e.actor_id) for e in events] == [(1, "incident.reported", actor.pk)]
        after = state(c.ref)
        for key in LOCAL_KEYS:  # the existing incident is untouched
            assert after[key] == before[key], key
        return
    after = state(c.ref)
    events = stream_events(c.ref)
    assert [e.pk for e in events[:-1]] == [e.pk for e in before_events]
    last = events[-1]
    assert (last.seq, last.kind, last.actor_id) == (
        len(before_events) + 1,
        WRITE_KINDS[c.action],
        actor.pk,
    )
    assert after["all_events"] == before["all_events"] + 1
    assert after["incidents"] == before["incidents"]
    verb = write_verb(c.action)
    if verb == "update":
        assert after["incident"]["severity"] == "high"
    elif verb == "transition":
        assert after["incident"]["status"] == "triaged"
    elif verb == "invite_agency":
        assert after["participants"] == sorted([*before["participants"], "NA-AIR"])
    elif verb == "set_lead":
        assert after["incident"]["lead_agency_id"] == Agency.objects.get(code="NA-CUS").pk
    elif verb == "post_message":
        assert len(after["messages"]) == len(before["messages"]) + 1
        message = Message.objects.get(pk=last.payload["message_id"])
        assert (message.author_id, message.body) == (actor.pk, "Matrix check.")
    elif verb == "upload_attachment":
        attachment = Attachment.objects.get(pk=last.payload["attachment_id"])
        assert (attachment.uploaded_by_id, attachment.sha256) == (actor.pk, PNG_SHA256)
        assert last.payload["sha256"] == PNG_SHA256
    elif verb == "download_original":
        assert last.payload["attachment_id"] == c.world.attachment[c.visibility]
    elif verb == "withdraw_attachment":
        attachment = Attachment.objects.get(pk=c.world.attachment[c.visibility])
        assert (attachment.withdrawn_by_id, attachment.withdrawn_reason) == (
            actor.pk,
            "Wrong person.",
        )
    elif verb == "edit":
        message = Message.objects.get(pk=c.message_id)
        assert (message.body, message.edit_count) == (f"Edited by {c.username}.", 1)
    else:
        assert verb == "redact", verb
        message = Message.objects.get(pk=c.message_id)
        assert message.is_redacted
        assert message.redacted_by_id == actor.pk


# --- the matrix -----------------------------------------------------------------------


@pytest.mark.parametrize("cell", CELLS, ids=[cell.id for cell in CELLS])
def test_authorization_cell(
    cell: Cell,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    record_property: Callable[[str, object], None],
) -> None:
    # Counted in the terminal summary (tests/integration/conftest.py) by outcome.
    record_property(MATRIX_PROPERTY, "incidents")
    call = Call(world, cell.layer, cell.action, cell.visibility, cell.username)
    if cell.action == "update_triaged":
        services.incident_transition(
            actor=officer("na-imm.coord"), ref=call.ref, to_status="triaged"
        )
    before = state(call.ref)
    before_events = stream_events(call.ref)
    caplog.clear()

    with caplog.at_level(logging.WARNING, logger="hub.security"):
        outcome = perform(call, monkeypatch)

    assert outcome == cell.expected, f"{cell.id}: expected {cell.expected}, got {outcome}"
    if cell.expected == OK and cell.action in WRITE_KINDS:
        check_written(call, before, before_events)
    else:
        # Reads and refusals write nothing: same events, same rows, same messages.
        assert state(call.ref) == before
        assert [e.pk for e in stream_events(call.ref)] == [e.pk for e in before_events]
    if cell.action in LOGGED_ACTIONS:
        denials = [r for r in caplog.records if r.name == "hub.security"]
        if cell.expected in (NOT_FOUND, FORBIDDEN):
            assert len(denials) == 1, [r.getMessage() for r in denials]
            record = denials[0]
            assert record.__dict__["denied_user_id"] == officer(cell.username).pk
            assert record.__dict__["denied_action"] == LOGGED_ACTIONS[cell.action]
            assert record.__dict__["denied_reason"]
            assert f"user={cell.username} " in record.getMessage()
        else:
            assert denials == [], [r.getMessage() for r in denials]


# --- denials are logged with who, what and why ----------------------------------------


@dataclass(frozen=True)
class LoggedDenial:
    layer: str
    action: str
    visibility: str
    username: str
    logged_action: str
    reason: str
    status: int


LOGGED_DENIALS = [
    LoggedDenial(
        SERVICE, "post_message", "participants", "na-pol.senior", "message.post",
        "only participating agencies post on an incident channel", 403,
    ),
    LoggedDenial(
        SERVICE, "transition", "participants", "za-imm.coord", "incident.transition",
        "cannot see this incident", 404,
    ),
    LoggedDenial(
        SERVICE, "report", "participants", "na-imm.senior", "incident.report",
        "only duty officers and coordinators serving this crossing point may report", 403,
    ),
    LoggedDenial(
        SERVICE, "report", "participants", "za-imm.duty", "incident.report",
        "does not serve this crossing point", 404,
    ),
    LoggedDenial(
        SERVICE, "edit_others_message", "crossing_point", "na-imm.coord", "message.edit",
        "only the author edits a message", 403,
    ),
    LoggedDenial(
        SERVICE, "export", "participants", "na-imm.coord", "incident.export",
        "only senior officials export incident timelines", 403,
    ),
    LoggedDenial(
        REST, "redact_others_message", "crossing_point", "na-pol.coord", "message.redact",
        "only the author, a participating coordinator or a senior official redacts", 403,
    ),
    LoggedDenial(
        REST, "audit_verify_all", "participants", "na-imm.duty", "audit.verify",
        "only senior officials verify the record", 403,
    ),
    LoggedDenial(
        REST, "review", "crossing_point", "na-pol.coord", "incident.review",
        "only senior officials and coordinators of the lead agency review an incident", 403,
    ),
    LoggedDenial(
        SERVICE, "review", "participants", "na-pol.coord", "incident.review",
        "cannot see this incident", 404,
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    "case", LOGGED_DENIALS, ids=[f"{d.layer}-{d.action}-{d.username}" for d in LOGGED_DENIALS]
)
def test_denial_is_logged_with_who_what_why(
    case: LoggedDenial,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    call = Call(world, case.layer, case.action, case.visibility, case.username)
    before = state(call.ref)
    with caplog.at_level(logging.WARNING, logger="hub.security"):
        outcome = perform(call, monkeypatch)

    assert outcome == {403: FORBIDDEN, 404: NOT_FOUND}[case.status]
    assert state(call.ref) == before
    records = [r for r in caplog.records if r.name == "hub.security"]
    assert len(records) == 1, [r.getMessage() for r in records]
    record = records[0]
    assert record.levelno == logging.WARNING
    text = record.getMessage()
    assert f"user={case.username} " in text
    assert f"action={case.logged_action} " in text
    assert text.endswith(f"reason={case.reason}")
    assert record.__dict__["denied_user_id"] == officer(case.username).pk
    assert record.__dict__["denied_action"] == case.logged_action
    assert record.__dict__["denied_reason"] == case.reason


# --- the matrix is complete (independent of test order) -------------------------------

# Every operation of the API: the actions that exercise it here, or why it is not
# in this matrix.
ENDPOINT_ACTIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("GET", "/api/v1/incidents"): ("list_incidents",),
    ("POST", "/api/v1/incidents"): ("report",),
    ("GET", "/api/v1/incidents/{ref}"): ("read_incident",),
    ("PATCH", "/api/v1/incidents/{ref}"): ("update", "update_triaged"),
    ("POST", "/api/v1/incidents/{ref}/transitions"): ("transition",),
    ("POST", "/api/v1/incidents/{ref}/agencies"): ("invite_agency",),
    ("PUT", "/api/v1/incidents/{ref}/lead"): ("set_lead",),
    ("GET", "/api/v1/incidents/{ref}/messages"): ("read_messages",),
    ("POST", "/api/v1/incidents/{ref}/messages"): ("post_message",),
    ("PATCH", "/api/v1/incidents/{ref}/messages/{message_id}"): (
        "edit_own_message",
        "edit_others_message",
    ),
    ("POST", "/api/v1/incidents/{ref}/messages/{message_id}/redact"): (
        "redact_own_message",
        "redact_others_message",
    ),
    ("GET", "/api/v1/incidents/{ref}/export"): ("export", "export_filtered"),
    ("POST", "/api/v1/incidents/{ref}/attachments"): ("upload_attachment",),
    ("GET", "/api/v1/incidents/{ref}/attachments"): ("list_attachments",),
    ("GET", "/api/v1/incidents/{ref}/attachments/{attachment_id}"): ("download_original",),
    ("GET", "/api/v1/incidents/{ref}/attachments/{attachment_id}/view"): ("attachment_view",),
    ("GET", "/api/v1/incidents/{ref}/attachments/{attachment_id}/thumbnail"): ("attachment_view",),
    ("POST", "/api/v1/incidents/{ref}/attachments/{attachment_id}/withdraw"): (
        "withdraw_attachment",
    ),
    ("GET", "/api/v1/incidents/{ref}/review"): ("review",),
    ("GET", "/api/v1/search"): ("search",),
    ("GET", "/api/v1/metrics"): ("metrics",),
    ("GET", "/api/v1/streams/{stream}/events"): ("read_events", "read_events_filtered"),
    ("POST", "/api/v1/streams/{stream}/read"): ("mark_read",),
    ("GET", "/api/v1/streams/{stream}/reads"): ("read_reads",),
    ("GET", "/api/v1/audit/verify"): ("audit_verify_stream", "audit_verify_all"),
    ("GET", "/api/v1/audit/keys"): ("audit_keys",),
    ("GET", "/api/v1/me"): ("me",),
    ("GET", "/api/v1/agencies"): ("agencies",),
    ("GET", "/api/v1/crossing-points"): ("crossing_points",),
    ("POST", "/api/v1/auth/token"): ("auth_token",),
    ("POST", "/api/v1/auth/token/revoke"): ("revoke_own_token", "revoke_others_token"),
}
ELSEWHERE = {
    # Session plumbing with no authorization decision (tests/integration/test_api_auth.py).
    "/api/v1/auth/csrf": "session plumbing",
    "/api/v1/auth/login": "session plumbing",
    "/api/v1/auth/logout": "session plumbing",
}
# Alerts, checklist templates and joint operations: test_authorization_matrix_ops.py;
# situation reports (on incidents too): test_authorization_matrix_sitreps.py.
OTHER_MATRIX_PREFIXES = ("/api/v1/alerts", "/api/v1/operations", "/api/v1/checklist-templates")


def _in_other_matrix(path: str) -> bool:
    return (
        path.startswith(OTHER_MATRIX_PREFIXES)
        or (path.startswith("/api/v1/crossing-points/") and "/alerts" in path)
        or "/sitrep" in path
    )


def test_the_matrix_is_complete() -> None:
    """The parametrized cells are exactly the full product, and cover every endpoint.

    This holds whatever order the tests run in (or if only some of them run):
    each cell is its own test, and this one checks what the cells are.
    """
    expected = {
        (layer, action, visibility, relation, role)
        for action in TABLE
        for layer in LAYERS[action]
        for visibility in VISIBILITIES
        for relation in RELATIONS
        for role in ROLES
    }
    cells = {(c.layer, c.action, c.visibility, c.relation, c.role) for c in CELLS}
    assert cells == expected
    assert len(CELLS) == len(expected) == EXPECTED_CELL_COUNT
    assert len({cell.id for cell in CELLS}) == len(CELLS)
    marks = getattr(test_authorization_cell, "pytestmark", [])
    (marker,) = [m for m in marks if m.name == "parametrize"]
    assert list(marker.args[1]) == CELLS  # one test per cell, nothing filtered out
    for action in TABLE:
        for layer in LAYERS[action]:
            assert action in (SERVICE_ACTIONS if layer == SERVICE else REST_ACTIONS), (
                action,
                layer,
            )
    covered = {a for actions in ENDPOINT_ACTIONS.values() for a in actions}
    assert covered == set(TABLE)
    schema = Client().get("/api/v1/openapi.json").json()
    operations = {(method.upper(), path) for path, ops in schema["paths"].items() for method in ops}
    mine = {op for op in operations if op[1] not in ELSEWHERE and not _in_other_matrix(op[1])}
    assert mine == set(ENDPOINT_ACTIONS), (
        f"not in the matrix: {sorted(mine - set(ENDPOINT_ACTIONS))}; "
        f"gone from the API: {sorted(set(ENDPOINT_ACTIONS) - mine)}"
    )
