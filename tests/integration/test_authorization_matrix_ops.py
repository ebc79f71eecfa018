"""Authorization matrix for alerts and joint operations: role x relation x action, service and REST.

Everything happens at WDH (Hosea Kutako airport, Namibia), where NA-IMM, NA-CUS,
NA-POL and NA-AIR are deployed. Callers are the demo officers
``<agency>.<duty|coord|senior|admin>`` of one agency per relation, in the four roles.

Alerts. ``na-imm.duty``, ``na-imm.coord`` and ``na-imm.senior`` each issue an alert
to NA-POL and NA-CUS (an admin cannot issue, so an alert "issued earlier" by
``na-imm.admin`` is planted in the database, as the incident matrix plants messages).
NA-AIR is deployed at WDH but not targeted. Relations to the alert under test:

- ``issuer``: NA-IMM, and the caller is the officer who issued it;
- ``colleague``: NA-IMM, the issuing agency, but another officer issued it (the
  alert of ``na-imm.duty``; for ``na-imm.duty`` itself, that of ``na-imm.coord``);
- ``targeted``: NA-POL; ``untargeted``: NA-AIR; ``foreign``: ZA-IMM (serves JNB,
  BBR and DUR only); ``elsewhere``: NA-CGD, of the same country but serving only
  the port of Walvis Bay (WVB).

Who reads alerts: every agency deployed at the crossing point reads all of its
alerts (the ``crossing:<CODE>`` stream is the committee's shared board); the
targets are who must acknowledge. Nobody outside the point, of another point or
another country, reads any of it: list, one alert, CAP, Atom, the stream or search.

Point-level actions (list, Atom, stream, issue, CAP import) do not depend on the
alert, so their ``issuer`` and ``colleague`` rows are the same callers (the list
must still contain that row's alert).

Joint operations. ``na-imm.coord`` starts one from the ``tip-screening`` SOP with
no incident, so NA-IMM leads and the checklist's tasks go to NA-IMM (immigration),
NA-POL (police) and NA-CUS (customs); an ad-hoc customs task is added (to NA-CUS).
NA-AIR has no task. Relations: ``lead`` (NA-IMM), ``tasked`` (NA-POL),
``untasked`` (NA-AIR), ``foreign`` (ZA-IMM).

Task evidence files need an operation of an incident (the files are the incident's):
``na-imm.coord`` starts a second ``tip-screening`` operation (the "evidence
operation", same agencies and tasks) for an incident ``na-imm.duty`` reported at WDH,
visible to its participants only (NA-IMM), which holds an evidence file (planted in
the database: the matrix needs no file storage). The ``files_*`` actions add that
file to one of its tasks; the same relations hold for it.

Every action runs through the service layer (``hub.alerts.services``,
``hub.operations.services`` and, for reads, the access-checked selectors the API
calls) and through the REST endpoints under ``/api/v1``. ``ALERT_TABLE`` and
``OPERATION_TABLE`` spell out the expected outcome of each cell, derived by hand
from ``hub.alerts.permissions`` and ``hub.operations.permissions`` and the order of
checks in the services: allowed, 404 ``not_found`` (the caller may not see it),
403 ``forbidden`` (they see it but may not act), or a documented specific code. An
allowed write must append exactly its event (to ``crossing:WDH`` for alerts, to
``operation:<REF>`` for operations) and change exactly its rows; a denied one,
and every read, must leave every event, stream, receipt and row as it was; every
refusal (of a read of something that exists, or of a write) is logged on
``hub.security`` with the user and the action.

The demo region, the SOPs, the alerts and the operation are built once per
module inside a transaction rolled back at the end; each cell runs in a savepoint
rolled back after it, so every cell starts from the same state.
"""

from __future__ import annotations

import logging
import textwrap
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import defusedxml.ElementTree as SafeET
import pytest
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Model, QuerySet
from django.utils import timezone
from pytest_django import DjangoDbBlocker

from hub.accounts.models import User
from hub.agencies.models import Agency, CrossingPoint
from hub.agencies.selectors import access_for
from hub.alerts import services as alert_services
from hub.alerts.atom import alerts_feed
from hub.alerts.cap import alert_to_cap, identifier, parse_cap
from hub.alerts.models import Alert, AlertTarget
from hub.alerts.permissions import can_read_crossing
from hub.alerts.selectors import alert_for, alerts_at, point_for
from hub.attachments.models import Attachment
from hub.errors import Forbidden, HubError, NotFound
from hub.events.models import Event, Stream, WriteReceipt
from hub.events.selectors import stream_events_for
from hub.incidents.models import Incident
from hub.incidents.search import search_record
from hub.operations import services as op_services
from hub.operations.models import Operation, OperationCounter, Task, TaskAttachment
from hub.operations.selectors import operation_for, operations_visible_to
from hub.operations.sops import SOPS, seed_templates
from tests.factories import Api, officer, report, seed

pytestmark = pytest.mark.django_db

# --- the tables -----------------------------------------------------------------------

OK = "OK"  # allowed: 200/201 and, for a write, exactly its event and rows
NOT_FOUND = "404"  # hub.errors.NotFound / HTTP 404 {"code": "not_found"}
FORBIDDEN = "403"  # hub.errors.Forbidden / HTTP 403 {"code": "forbidden"}
ABSENT = "absent"  # answered 200, but the operation is not in the list
# Documented specific codes: (HTTP status, code). The token in a table is the code.
SPECIFIC = {
    "same_agency_cosign": 403,  # Forbidden: co-signing a task of one's own agency, or
    # completing one on a co-sign of one's own agency
    "self_cosign": 403,  # Forbidden: completing a task one co-signed oneself
    "already_acknowledged": 409,  # Conflict: the agency has acknowledged already
    "alert_cancelled": 409,  # Conflict: changing a cancelled alert
}
OUTCOMES = (OK, NOT_FOUND, FORBIDDEN, ABSENT, *SPECIFIC)
# Refusals: logged on hub.security (the co-sign refusals are Forbidden, logged too).
REFUSALS = (NOT_FOUND, FORBIDDEN, "same_agency_cosign", "self_cosign")

ROLES = ("duty", "coord", "senior", "admin")  # demo username suffixes, the tables' columns
ALERTS = "alerts"
OPERATIONS = "operations"
RELATIONS: dict[str, dict[str, str]] = {
    ALERTS: {
        "issuer": "NA-IMM",
        "colleague": "NA-IMM",
        "targeted": "NA-POL",
        "untargeted": "NA-AIR",
        "foreign": "ZA-IMM",
        "elsewhere": "NA-CGD",
    },
    OPERATIONS: {"lead": "NA-IMM", "tasked": "NA-POL", "untasked": "NA-AIR", "foreign": "ZA-IMM"},
}
SERVICE = "service"
REST = "rest"

# Rows: the caller's relation to the alert; columns: the caller's role. Written out
# from the docstring of hub.alerts.permissions and the services, not computed:
# - reading anything at WDH (list, one alert, its CAP document, the Atom feed, the
#   crossing:WDH stream): duty officers, coordinators and senior officials of any
#   agency serving WDH, targeted or not; admins never; ZA officers (another country)
#   and NA-CGD officers (another point) do not serve WDH: 404;
# - search (GET /search): the alert is among the hits for exactly its readers, absent
#   (never refused, never logged) for everyone else;
# - issue, and CAP import (which issues): the same people (else 404, as the point
#   is hidden); the alert targets every other agency here, or the CAP's list;
# - update, cancel: the issuing officer, or a coordinator or senior official of the
#   issuing agency (403 for other readers); an update of a cancelled alert is
#   checked for permission first, then refused 409 ``alert_cancelled``;
# - acknowledge: an officer of a targeted agency (NA-POL); once NA-POL has
#   acknowledged, its officers get 409 ``already_acknowledged``.
ALERT_TABLE: dict[str, str] = {
    "list": """
        issuer      OK   OK   OK   404
        colleague   OK   OK   OK   404
        targeted    OK   OK   OK   404
        untargeted  OK   OK   OK   404
        foreign     404  404  404  404
        elsewhere   404  404  404  404
    """,
    "read": """
        issuer      OK   OK   OK   404
        colleague   OK   OK   OK   404
        targeted    OK   OK   OK   404
        untargeted  OK   OK   OK   404
        foreign     404  404  404  404
        elsewhere   404  404  404  404
    """,
    "cap_export": """
        issuer      OK   OK   OK   404
        colleague   OK   OK   OK   404
        targeted    OK   OK   OK   404
        untargeted  OK   OK   OK   404
        foreign     404  404  404  404
        elsewhere   404  404  404  404
    """,
    "atom_feed": """
        issuer      OK   OK   OK   404
        colleague   OK   OK   OK   404
        targeted    OK   OK   OK   404
        untargeted  OK   OK   OK   404
        foreign     404  404  404  404
        elsewhere   404  404  404  404
    """,
    "read_stream": """
        issuer      OK   OK   OK   404
        colleague   OK   OK   OK   404
        targeted    OK   OK   OK   404
        untargeted  OK   OK   OK   404
        foreign     404  404  404  404
        elsewhere   404  404  404  404
    """,
    "search": """
        issuer      OK      OK      OK      absent
        colleague   OK      OK      OK      absent
        targeted    OK      OK      OK      absent
        untargeted  OK      OK      OK      absent
        foreign     absent  absent  absent  absent
        elsewhere   absent  absent  absent  absent
    """,
    "issue": """
        issuer      OK   OK   OK   404
        colleague   OK   OK   OK   404
        targeted    OK   OK   OK   404
        untargeted  OK   OK   OK   404
        foreign     404  404  404  404
        elsewhere   404  404  404  404
    """,
    "cap_import": """
        issuer      OK   OK   OK   404
        colleague   OK   OK   OK   404
        targeted    OK   OK   OK   404
        untargeted  OK   OK   OK   404
        foreign     404  404  404  404
        elsewhere   404  404  404  404
    """,
    "update": """
        issuer      OK   OK   OK   404
        colleague   403  OK   OK   404
        targeted    403  403  403  404
        untargeted  403  403  403  404
        foreign     404  404  404  404
        elsewhere   404  404  404  404
    """,
    "update_cancelled": """
        issuer      alert_cancelled  alert_cancelled  alert_cancelled  404
        colleague   403              alert_cancelled  alert_cancelled  404
        targeted    403              403              403              404
        untargeted  403              403              403              404
        foreign     404              404              404              404
        elsewhere   404              404              404              404
    """,
    "cancel": """
        issuer      OK   OK   OK   404
        colleague   403  OK   OK   404
        targeted    403  403  403  404
        untargeted  403  403  403  404
        foreign     404  404  404  404
        elsewhere   404  404  404  404
    """,
    "acknowledge": """
        issuer      403  403  403  404
        colleague   403  403  403  404
        targeted    OK   OK   OK   404
        untargeted  403  403  403  404
        foreign     404  404  404  404
        elsewhere   404  404  404  404
    """,
    "acknowledge_again": """
        issuer      403                   403                   403                   404
        colleague   403                   403                   403                   404
        targeted    already_acknowledged  already_acknowledged  already_acknowledged  404
        untargeted  403                   403                   403                   404
        foreign     404                   404                   404                   404
        elsewhere   404                   404                   404                   404
    """,
}

# Rows: the caller's relation to the operation; columns: the caller's role. From the
# docstring of hub.operations.permissions and the services:
# - list / read / the operation:<REF> stream: senior officials serving WDH, and the
#   officers of the lead agency or of an agency with a task (admins never); the
#   list filters (absent), the others answer 404 (officers assigned a task, and
#   readers of a linked incident, may read too: none here, see the tests below);
# - templates: any signed-in user (REST only: the selector takes no caller);
# - start: coordinators serving WDH (their agency leads); anyone else serving WDH,
#   admins included, gets 403; ZA officers, who do not serve WDH, 404;
# - assign, add or remove an ad-hoc task, close: coordinators of the lead agency or
#   of an agency with a task (403 for others who can see the operation);
# - work a task (status): officers of the task's agency, its assignees, or a
#   managing coordinator — ``imm`` is NA-IMM's task, ``pol`` NA-POL's;
# - co-sign: an officer serving WDH, who can see the operation, of another agency
#   than the task's: 403 ``same_agency_cosign`` for the task's own agency;
# - complete NA-POL's evidence task (note given, co-signed beforehand by
#   ``na-imm.duty`` or by ``na-imm.coord``): who may work it (above), and then the
#   co-sign must be another officer's (403 ``self_cosign``) of an agency other than
#   the completer's (403 ``same_agency_cosign``): the lead coordinator can no
#   longer co-sign and complete the police task alone.
# - add an evidence file to a task of the evidence operation (``files_imm_task``: its
#   NA-IMM task; ``files_pol_task``: its NA-POL task): who may work the task (as
#   above), if they also read the incident: its participants (NA-IMM) and senior
#   officials serving WDH. So NA-POL's duty officer and coordinator, who work the
#   police task, get 403 here; NA-POL's senior official (who works it and reads every
#   incident at the point) may.
OPERATION_TABLE: dict[str, str] = {
    "list": """
        lead      OK      OK      OK      absent
        tasked    OK      OK      OK      absent
        untasked  absent  absent  OK      absent
        foreign   absent  absent  absent  absent
    """,
    "read": """
        lead      OK   OK   OK   404
        tasked    OK   OK   OK   404
        untasked  404  404  OK   404
        foreign   404  404  404  404
    """,
    "read_stream": """
        lead      OK   OK   OK   404
        tasked    OK   OK   OK   404
        untasked  404  404  OK   404
        foreign   404  404  404  404
    """,
    "list_templates": """
        lead      OK   OK   OK   OK
        tasked    OK   OK   OK   OK
        untasked  OK   OK   OK   OK
        foreign   OK   OK   OK   OK
    """,
    "start": """
        lead      403  OK   403  403
        tasked    403  OK   403  403
        untasked  403  OK   403  403
        foreign   404  404  404  404
    """,
    "assign_task": """
        lead      403  OK   403  404
        tasked    403  OK   403  404
        untasked  404  404  403  404
        foreign   404  404  404  404
    """,
    "add_task": """
        lead      403  OK   403  404
        tasked    403  OK   403  404
        untasked  404  404  403  404
        foreign   404  404  404  404
    """,
    "remove_task": """
        lead      403  OK   403  404
        tasked    403  OK   403  404
        untasked  404  404  403  404
        foreign   404  404  404  404
    """,
    "work_imm_task": """
        lead      OK   OK   OK   404
        tasked    403  OK   403  404
        untasked  404  404  403  404
        foreign   404  404  404  404
    """,
    "work_pol_task": """
        lead      403  OK   403  404
        tasked    OK   OK   OK   404
        untasked  404  404  403  404
        foreign   404  404  404  404
    """,
    "cosign_imm_task": """
        lead      same_agency_cosign  same_agency_cosign  same_agency_cosign  404
        tasked    OK                  OK                  OK                  404
        untasked  404                 404                 OK                  404
        foreign   404                 404                 404                 404
    """,
    "cosign_pol_task": """
        lead      OK                  OK                  OK                  404
        tasked    same_agency_cosign  same_agency_cosign  same_agency_cosign  404
        untasked  404                 404                 OK                  404
        foreign   404                 404                 404                 404
    """,
    "complete_cosigned_by_imm_duty": """
        lead      403  same_agency_cosign  403  404
        tasked    OK   OK                  OK   404
        untasked  404  404                 403  404
        foreign   404  404                 404  404
    """,
    "complete_cosigned_by_imm_coord": """
        lead      403  self_cosign  403  404
        tasked    OK   OK           OK   404
        untasked  404  404          403  404
        foreign   404  404          404  404
    """,
    "close": """
        lead      403  OK   403  404
        tasked    403  OK   403  404
        untasked  404  404  403  404
        foreign   404  404  404  404
    """,
    "files_imm_task": """
        lead      OK   OK   OK   404
        tasked    403  403  403  404
        untasked  404  404  403  404
        foreign   404  404  404  404
    """,
    "files_pol_task": """
        lead      403  OK   403  404
        tasked    403  403  OK   404
        untasked  404  404  403  404
        foreign   404  404  404  404
    """,
}

TABLES = {ALERTS: ALERT_TABLE, OPERATIONS: OPERATION_TABLE}
REST_ONLY = {(OPERATIONS, "list_templates")}

# The event an allowed write appends (start: to the new operation's stream).
WRITE_KINDS: dict[tuple[str, str], str] = {
    (ALERTS, "issue"): "alert.issued",
    (ALERTS, "cap_import"): "alert.issued",
    (ALERTS, "update"): "alert.updated",
    (ALERTS, "update_cancelled"): "alert.updated",
    (ALERTS, "cancel"): "alert.cancelled",
    (ALERTS, "acknowledge"): "alert.acknowledged",
    (ALERTS, "acknowledge_again"): "alert.acknowledged",
    (OPERATIONS, "start"): "operation.started",
    (OPERATIONS, "assign_task"): "task.assigned",
    (OPERATIONS, "add_task"): "task.added",
    (OPERATIONS, "remove_task"): "task.removed",
    (OPERATIONS, "work_imm_task"): "task.status_changed",
    (OPERATIONS, "work_pol_task"): "task.status_changed",
    (OPERATIONS, "cosign_imm_task"): "task.cosigned",
    (OPERATIONS, "cosign_pol_task"): "task.cosigned",
    (OPERATIONS, "complete_cosigned_by_imm_duty"): "task.status_changed",
    (OPERATIONS, "complete_cosigned_by_imm_coord"): "task.status_changed",
    (OPERATIONS, "close"): "operation.closed",
    (OPERATIONS, "files_imm_task"): "task.noted",
    (OPERATIONS, "files_pol_task"): "task.noted",
}
FILE_ACTIONS = frozenset({"files_imm_task", "files_pol_task"})
# The `action` a refusal is logged under on "hub.security" (hub.security.log_denial).
# Listing operations filters instead of refusing, and templates are never refused.
LOGGED_ACTIONS: dict[tuple[str, str], str] = {
    (ALERTS, "list"): "alert.read",
    (ALERTS, "read"): "alert.read",
    (ALERTS, "cap_export"): "alert.read",
    (ALERTS, "atom_feed"): "alert.read",
    (ALERTS, "read_stream"): "stream.read",
    (ALERTS, "issue"): "alert.issue",
    (ALERTS, "cap_import"): "alert.issue",
    (ALERTS, "update"): "alert.update",
    (ALERTS, "update_cancelled"): "alert.update",
    (ALERTS, "cancel"): "alert.cancel",
    (ALERTS, "acknowledge"): "alert.acknowledge",
    (ALERTS, "acknowledge_again"): "alert.acknowledge",
    (OPERATIONS, "read"): "operation.read",
    (OPERATIONS, "read_stream"): "stream.read",
    (OPERATIONS, "start"): "operation.start",
    (OPERATIONS, "assign_task"): "task.assign",
    (OPERATIONS, "add_task"): "task.add",
    (OPERATIONS, "remove_task"): "task.remove",
    (OPERATIONS, "work_imm_task"): "task.update",
    (OPERATIONS, "work_pol_task"): "task.update",
    (OPERATIONS, "cosign_imm_task"): "task.cosign",
    (OPERATIONS, "cosign_pol_task"): "task.cosign",
    (OPERATIONS, "complete_cosigned_by_imm_duty"): "task.update",
    (OPERATIONS, "complete_cosigned_by_imm_coord"): "task.update",
    (OPERATIONS, "close"): "operation.close",
    (OPERATIONS, "files_imm_task"): "task.update",
    (OPERATIONS, "files_pol_task"): "task.update",
}


@dataclass(frozen=True)
class Cell:
    domain: str
    layer: str
    action: str
    relation: str
    role: str
    expected: str

    @property
    def agency(self) -> str:
        return RELATIONS[self.domain][self.relation]

    @property
    def username(self) -> str:
        return f"{self.agency.lower()}.{self.role}"

    @property
    def id(self) -> str:
        return f"{self.layer}-{self.domain}-{self.action}-{self.relation}-{self.username}"


def parse_tables(tables: dict[str, dict[str, str]]) -> list[Cell]:
    """Turn the text blocks into cells, insisting every block is complete."""
    cells: list[Cell] = []
    for domain, table in tables.items():
        for action, block in table.items():
            seen: list[str] = []
            layers = (REST,) if (domain, action) in REST_ONLY else (SERVICE, REST)
            for line in textwrap.dedent(block).strip().splitlines():
                relation, *outcomes = line.split()
                assert relation in RELATIONS[domain], line
                assert relation not in seen, line
                assert len(outcomes) == len(ROLES), line
                assert all(o in OUTCOMES for o in outcomes), line
                seen.append(relation)
                for layer in layers:
                    for role, expected in zip(ROLES, outcomes, strict=True):
                        cells.append(Cell(domain, layer, action, relation, role, expected))
            assert seen == list(RELATIONS[domain]), (domain, action)
    return cells


CELLS = parse_tables(TABLES)
# Alerts: 13 actions x 2 layers x 6 relations x 4 roles; operations: 16 actions x 2
# layers + 1 REST-only (templates), x 4 relations x 4 roles.
EXPECTED_CELL_COUNT = 13 * 2 * 6 * 4 + (16 * 2 + 1) * 4 * 4
CHECKED: set[str] = set()

# --- the world ------------------------------------------------------------------------

POINT = "WDH"
POINT_STREAM = f"crossing:{POINT}"
POINT_AGENCIES = ("NA-AIR", "NA-CUS", "NA-IMM", "NA-POL")
AGENCIES_CALLING = sorted(
    {agency for relations in RELATIONS.values() for agency in relations.values()}
)
CALLERS = [f"{agency.lower()}.{role}" for agency in AGENCIES_CALLING for role in ROLES]
ISSUERS = ("na-imm.duty", "na-imm.coord", "na-imm.senior")  # issue through the service
PLANTED_ISSUER = "na-imm.admin"  # may not issue: their alert is planted
MAIN_ISSUER = "na-imm.duty"  # whose alert the colleague/targeted/... rows act on
ALERT_TARGETS = ["NA-CUS", "NA-POL"]
MAIN_ALERT_TITLE = "Forged visas on the Frankfurt route"
NEW_ALERT_TITLE = "Counterfeit residence permits in circulation"
TEMPLATE = "tip-screening"
NEW_TASK_TITLE = "Review the arrivals-hall CCTV"
# The operation's tasks the cells act on, by tip-screening checklist position.
TASK_POSITIONS = {
    "imm_work": 1,  # immigration, NA-IMM: separate the person
    "pol_work": 4,  # police, NA-POL: notify the anti-trafficking unit
    "pol_cosign": 5,  # police, NA-POL: secure evidence (requires a co-sign)
    "cus": 6,  # customs, NA-CUS: search baggage (reassigned in assign_task)
    "imm_cosign": 7,  # immigration, NA-IMM: refer to protection (requires a co-sign)
}


@dataclass(frozen=True)
class World:
    issued: dict[str, int]  # issuer username -> id of their alert
    cap_document: bytes  # alert_to_cap of na-imm.duty's alert
    cap_identifier: str
    ref: str  # the operation
    tasks: dict[str, int]  # TASK_POSITIONS keys and "adhoc" -> task id
    clients: dict[str, Api]  # username -> signed-in REST client
    evidence_ref: str  # the operation of an incident, whose tasks get files
    evidence_tasks: dict[str, int]  # "imm" / "pol" -> task id in it
    file_id: int  # an evidence file of its incident

    def alert_id(self, relation: str, username: str) -> int:
        if relation == "issuer":
            return self.issued[username]
        if relation == "colleague" and username == MAIN_ISSUER:
            return self.issued["na-imm.coord"]
        return self.issued[MAIN_ISSUER]


def plant_alert(username: str) -> int:
    """An alert issued earlier by ``username``, written straight to the database."""
    now = timezone.now()
    alert = Alert.objects.create(
        crossing_point=CrossingPoint.objects.get(code=POINT),
        category="document_fraud",
        severity="medium",
        urgency="Expected",
        certainty="Likely",
        title=f"{MAIN_ALERT_TITLE} (from before)",
        issued_by=officer(username),
        issuing_agency=Agency.objects.get(code=username.split(".")[0].upper()),
        created_at=now,
        updated_at=now,
    )
    for code in ALERT_TARGETS:
        AlertTarget.objects.create(
            alert=alert, agency=Agency.objects.get(code=code), due_at=now + timedelta(hours=1)
        )
    return alert.pk


def plant_file(incident: Incident) -> int:
    """An evidence file uploaded earlier by ``na-imm.duty``: only its row (the services
    that refer to files read rows; the bytes are never opened here)."""
    sha256 = "ab" * 32
    return Attachment.objects.create(
        incident=incident,
        uploaded_by=officer("na-imm.duty"),
        agency=Agency.objects.get(code="NA-IMM"),
        sha256=sha256,
        size=1234,
        content_type="image/jpeg",
        filename="escort-phone.jpg",
        storage_name=f"{sha256[:2]}/{sha256}.jpg",
        client_msg_id=uuid.uuid4(),
        created_at=timezone.now(),
    ).pk


def build_evidence_operation() -> tuple[str, dict[str, int], int]:
    incident = report("na-imm.duty", POINT)  # visible to its participants: NA-IMM
    assert incident.visibility == "participants"
    operation = op_services.operation_start(
        actor=officer("na-imm.coord"),
        crossing_point=POINT,
        template=TEMPLATE,
        incident=incident.ref,
    ).operation
    tasks = {
        name: Task.objects.get(operation=operation, position=TASK_POSITIONS[key]).pk
        for name, key in (("imm", "imm_work"), ("pol", "pol_work"))
    }
    return operation.ref, tasks, plant_file(incident)


def build_world() -> World:
    seed_templates()
    issued = {
        username: alert_services.alert_issue(
            actor=officer(username),
            crossing_point=POINT,
            category="document_fraud",
            severity="medium",
            title=MAIN_ALERT_TITLE if username == MAIN_ISSUER else f"Alert of {username}",
            body="Visa foils with a misaligned hologram.",
            targets=ALERT_TARGETS,
        ).alert.pk
        for username in ISSUERS
    }
    issued[PLANTED_ISSUER] = plant_alert(PLANTED_ISSUER)
    main = Alert.objects.get(pk=issued[MAIN_ISSUER])
    document = alert_to_cap(main)

    operation = op_services.operation_start(
        actor=officer("na-imm.coord"), crossing_point=POINT, template=TEMPLATE
    ).operation
    tasks = {
        name: Task.objects.get(operation=operation, position=position).pk
        for name, position in TASK_POSITIONS.items()
    }
    op_services.task_add(
        actor=officer("na-imm.coord"),
        ref=operation.ref,
        title="Check the escort's baggage tags",
        agency_kind="customs",
    )
    tasks["adhoc"] = Task.objects.get(operation=operation, is_adhoc=True).pk
    by_agency: dict[str, list[int]] = {}
    for position, code in Task.objects.filter(operation=operation).values_list(
        "position", "assigned_agency__code"
    ):
        by_agency.setdefault(code, []).append(position)
    # The relations the table assumes: NA-IMM leads; NA-POL and NA-CUS have tasks; NA-AIR none.
    assert operation.lead_agency.code == "NA-IMM"
    assert sorted(by_agency) == ["NA-CUS", "NA-IMM", "NA-POL"], by_agency
    assert sorted(by_agency["NA-POL"]) == [4, 5, 8]
    assert sorted(by_agency["NA-IMM"]) == [1, 2, 3, 7]
    assert sorted(by_agency["NA-CUS"]) == [6, 9]
    # Sessions are created here, outside the per-cell savepoints, so they survive.
    clients = {username: Api(username) for username in CALLERS}
    evidence_ref, evidence_tasks, file_id = build_evidence_operation()
    return World(
        issued=issued,
        cap_document=document,
        cap_identifier=identifier(main, 1),
        ref=operation.ref,
        tasks=tasks,
        clients=clients,
        evidence_ref=evidence_ref,
        evidence_tasks=evidence_tasks,
        file_id=file_id,
    )


@pytest.fixture(scope="module")
def world(django_db_setup: None, django_db_blocker: DjangoDbBlocker) -> Iterator[World]:
    """The demo region, SOPs, alerts and operation, in a transaction rolled back afterwards.

    Each test (``django_db``) then runs in a savepoint inside it, rolled back after
    the test, so every cell starts from this state.
    """
    with django_db_blocker.unblock(), transaction.atomic():
        # Only ever on the test database: never seed the development database.
        assert "test" in str(connection.settings_dict["NAME"]), connection.settings_dict["NAME"]
        seed()
        try:
            yield build_world()
        finally:
            transaction.set_rollback(True)


# --- observing the database -----------------------------------------------------------

Rows = dict[Any, tuple[Any, ...]]


def _rows(qs: QuerySet[Any], *fields: str) -> Rows:
    return {row[0]: row for row in qs.order_by("pk").values_list("pk", *fields)}


def snapshot() -> dict[str, Rows]:
    """Every row a write on an alert or an operation could add or change."""
    assignees: QuerySet[Model] = Task.assignees.through.objects.all()
    return {
        "events": _rows(Event.objects.all(), "stream_id", "seq", "hash"),
        "streams": _rows(Stream.objects.all(), "name", "last_seq", "last_hash"),
        "receipts": _rows(WriteReceipt.objects.all(), "actor_id", "action"),
        "alerts": _rows(
            Alert.objects.all(),
            "status", "version", "severity", "title", "body", "cancel_reason",
            "issuing_agency_id", "issued_by_id", "expires_at", "updated_at",
        ),
        "alert_targets": _rows(
            AlertTarget.objects.all(),
            "alert_id", "agency_id", "due_at", "acknowledged_at", "acknowledged_by_id", "ack_seq",
            "escalated_at",
        ),
        "operations": _rows(
            Operation.objects.all(),
            "ref", "status", "title", "lead_agency_id", "closed_at", "close_note",
        ),
        "tasks": _rows(
            Task.objects.all(),
            "operation_id", "status", "assigned_agency_id", "note", "evidence", "reason",
            "completed_by_id", "cosigned_by_id", "cosigned_agency_id", "cosigned_at",
            "removed_at", "is_adhoc", "due_at",
        ),
        "task_assignees": _rows(assignees, "task_id", "user_id"),
        "operation_counters": _rows(OperationCounter.objects.all(), "last_number"),
        "task_attachments": _rows(
            TaskAttachment.objects.all(), "task_id", "attachment_id", "added_by_id", "position"
        ),
        "attachments": _rows(Attachment.objects.all(), "referenced_at", "withdrawn_at"),
    }  # fmt: skip


@dataclass(frozen=True)
class Diff:
    changed: frozenset[Any]
    added: frozenset[Any]


def diff(before: dict[str, Rows], after: dict[str, Rows]) -> dict[str, Diff]:
    """Per table, the rows changed and added (only tables with a change); none removed."""
    out: dict[str, Diff] = {}
    for table, old in before.items():
        new = after[table]
        assert set(old) <= set(new), f"rows removed from {table}: {set(old) - set(new)}"
        changed = frozenset(pk for pk in old if old[pk] != new[pk])
        added = frozenset(set(new) - set(old))
        if changed or added:
            out[table] = Diff(changed, added)
    return out


def stream_pk(name: str) -> int:
    return Stream.objects.get(name=name).pk


# --- performing an action -------------------------------------------------------------


def from_service(call: Callable[[], object]) -> str:
    """Run a service call; the outcome is OK, or the kind of refusal it raised."""
    try:
        call()
    except HubError as exc:
        if isinstance(exc, NotFound) and exc.code == "not_found":
            return NOT_FOUND
        if isinstance(exc, Forbidden) and exc.code == "forbidden":
            return FORBIDDEN
        if SPECIFIC.get(exc.code) == exc.status:
            return exc.code
        # Anything else (a 409 or 422 the table does not name) fails the cell.
        return f"unexpected {type(exc).__name__} {exc.code}: {exc.detail}"
    return OK


def from_response(response: Any, ok_status: int = 200) -> str:
    """The outcome of a REST call: OK for the expected status, else the refusal's code."""
    if response.status_code == ok_status:
        return OK
    body = response.json()
    code = body.get("code")
    if response.status_code == 404 and code == "not_found":
        return NOT_FOUND
    if response.status_code == 403 and code == "forbidden":
        return FORBIDDEN
    if code in SPECIFIC and SPECIFIC[code] == response.status_code:
        return str(code)
    return f"unexpected {response.status_code}: {body}"


@dataclass(frozen=True)
class Call:
    world: World
    domain: str
    layer: str
    action: str
    relation: str
    username: str

    @property
    def actor(self) -> User:
        return officer(self.username)

    @property
    def agency(self) -> str:
        return self.username.split(".")[0].upper()

    @property
    def api(self) -> Api:
        return self.world.clients[self.username]

    @property
    def alert_id(self) -> int:
        return self.world.alert_id(self.relation, self.username)

    @property
    def ref(self) -> str:
        return self.world.evidence_ref if self.action in FILE_ACTIONS else self.world.ref

    @property
    def task_id(self) -> int:
        """The task an operations action works on."""
        if self.action in FILE_ACTIONS:
            return self.world.evidence_tasks[self.action.split("_")[1]]
        task = {
            "assign_task": "cus",
            "remove_task": "adhoc",
            "work_imm_task": "imm_work",
            "work_pol_task": "pol_work",
            "cosign_imm_task": "imm_cosign",
            "cosign_pol_task": "pol_cosign",
            "complete_cosigned_by_imm_duty": "pol_cosign",
            "complete_cosigned_by_imm_coord": "pol_cosign",
        }[self.action]
        return self.world.tasks[task]

    @property
    def stream(self) -> str:
        return POINT_STREAM if self.domain == ALERTS else f"operation:{self.ref}"


Performer = Callable[[Call], str]


def perform(call: Call) -> str:
    """Do the action as the caller through the given layer; return its outcome."""
    return PERFORMERS[call.domain, call.layer, call.action](call)


def prepare(call: Call) -> None:
    """The state some cells need beyond the world (inside the cell's savepoint)."""
    if call.action == "update_cancelled":
        alert_services.alert_cancel(
            actor=officer("na-imm.coord"), alert_id=call.alert_id, reason="Superseded."
        )
    elif call.action == "acknowledge_again":
        alert_services.alert_acknowledge(
            actor=officer("na-pol.duty"), alert_id=call.alert_id, client_msg_id=uuid.uuid4()
        )
    elif call.action.startswith("complete_cosigned_by_"):
        op_services.task_update(
            actor=officer("na-pol.duty"),
            ref=call.ref,
            task_id=call.task_id,
            status="in_progress",
            note="Two phones sealed in bag A-114.",
        )
        # complete_cosigned_by_imm_duty: co-signed by na-imm.duty, and so on.
        cosigner = "na-" + call.action.removeprefix("complete_cosigned_by_").replace("_", ".")
        op_services.task_cosign(actor=officer(cosigner), ref=call.ref, task_id=call.task_id)


def check_stream_page(body_head: int, seqs: list[int], stream: str) -> None:
    head = Stream.objects.get(name=stream).last_seq
    assert body_head == head > 0
    assert seqs == list(range(1, head + 1))


def check_cap(c: Call, document: bytes) -> None:
    alert = Alert.objects.get(pk=c.alert_id)
    assert parse_cap(document).identifier == identifier(alert, alert.version)


def check_atom(c: Call, document: bytes) -> None:
    entries = SafeET.fromstring(document).findall("{http://www.w3.org/2005/Atom}entry")
    links = [e.find("{http://www.w3.org/2005/Atom}link") for e in entries]
    hrefs = [link.get("href", "") for link in links if link is not None]
    assert any(href.endswith(f"/api/v1/alerts/{c.alert_id}/cap") for href in hrefs), hrefs


# Alerts through the service layer (reads: the access-checked selectors the API calls).


def service_alert_list(c: Call) -> str:
    point = point_for(access_for(c.actor), POINT, action="alert.read")
    if point is None:
        return NOT_FOUND
    ids = [a.pk for a in alerts_at(point, current_only=True)]
    return OK if c.alert_id in ids else ABSENT


def service_alert_read(c: Call) -> str:
    alert = alert_for(access_for(c.actor), c.alert_id)
    if alert is None:
        return NOT_FOUND
    assert alert.pk == c.alert_id
    return OK


def service_alert_cap_export(c: Call) -> str:
    alert = alert_for(access_for(c.actor), c.alert_id)
    if alert is None:
        return NOT_FOUND
    check_cap(c, alert_to_cap(alert))
    return OK


def service_alert_atom_feed(c: Call) -> str:
    point = point_for(access_for(c.actor), POINT, action="alert.read")
    if point is None:
        return NOT_FOUND
    check_atom(c, alerts_feed(point, alerts_at(point, current_only=True), base_url="http://t"))
    return OK


def search_outcome(c: Call, alert_hits: list[tuple[int, str]]) -> str:
    """OK if the alert is among the hits; every alert hit is one the caller may read."""
    access = access_for(c.actor)
    points = dict(CrossingPoint.objects.values_list("code", "pk"))
    assert all(can_read_crossing(access, points[code]) for _, code in alert_hits), alert_hits
    return OK if c.alert_id in [pk for pk, _ in alert_hits] else ABSENT


def service_alert_search(c: Call) -> str:
    title = Alert.objects.get(pk=c.alert_id).title
    page = search_record(access_for(c.actor), title, limit=50)
    return search_outcome(c, [(h.id, h.crossing_point) for h in page.items if h.kind == "alert"])


def service_read_stream(c: Call) -> str:
    def read() -> None:
        events, _, head = stream_events_for(access_for(c.actor), c.stream, after=0, limit=500)
        check_stream_page(head, [e.seq for e in events], c.stream)

    return from_service(read)


def service_alert_write(c: Call) -> str:
    actor = c.actor
    calls: dict[str, Callable[[], object]] = {
        "issue": lambda: alert_services.alert_issue(
            actor=actor,
            crossing_point=POINT,
            category="document_fraud",
            severity="high",
            title=NEW_ALERT_TITLE,
        ),
        "cap_import": lambda: alert_services.alert_import_cap(
            actor=actor, crossing_point=POINT, document=c.world.cap_document
        ),
        "update": lambda: alert_services.alert_update(
            actor=actor, alert_id=c.alert_id, changes={"severity": "high"}
        ),
        "cancel": lambda: alert_services.alert_cancel(
            actor=actor, alert_id=c.alert_id, reason="Issued in error."
        ),
        "acknowledge": lambda: alert_services.alert_acknowledge(
            actor=actor, alert_id=c.alert_id, client_msg_id=uuid.uuid4()
        ),
    }
    calls["update_cancelled"] = calls["update"]
    calls["acknowledge_again"] = calls["acknowledge"]
    return from_service(calls[c.action])


# Alerts through REST.


def rest_alert_list(c: Call) -> str:
    response = c.api.get(f"/api/v1/crossing-points/{POINT}/alerts")
    if response.status_code == 200:
        return OK if c.alert_id in [a["id"] for a in response.json()] else ABSENT
    return from_response(response)


def rest_alert_read(c: Call) -> str:
    response = c.api.get(f"/api/v1/alerts/{c.alert_id}")
    if response.status_code == 200:
        assert response.json()["id"] == c.alert_id
    return from_response(response)


def rest_alert_cap_export(c: Call) -> str:
    response = c.api.get(f"/api/v1/alerts/{c.alert_id}/cap")
    if response.status_code == 200:
        assert response["Content-Type"].startswith("application/cap+xml")
        check_cap(c, response.content)
    return from_response(response)


def rest_alert_atom_feed(c: Call) -> str:
    response = c.api.get(f"/api/v1/crossing-points/{POINT}/alerts.atom")
    if response.status_code == 200:
        assert response["Content-Type"].startswith("application/atom+xml")
        check_atom(c, response.content)
    return from_response(response)


def rest_alert_search(c: Call) -> str:
    title = Alert.objects.get(pk=c.alert_id).title
    response = c.api.get("/api/v1/search", {"q": title, "limit": 50})
    assert response.status_code == 200, response.content
    items = response.json()["items"]
    return search_outcome(
        c, [(i["alert_id"], i["crossing_point"]) for i in items if i["kind"] == "alert"]
    )


def rest_read_stream(c: Call) -> str:
    response = c.api.get(f"/api/v1/streams/{c.stream}/events", {"limit": 500})
    if response.status_code == 200:
        body = response.json()
        check_stream_page(body["head"], [e["seq"] for e in body["events"]], c.stream)
    return from_response(response)


def rest_alert_write(c: Call) -> str:
    base = f"/api/v1/alerts/{c.alert_id}"
    if c.action == "issue":
        response = c.api.post(
            f"/api/v1/crossing-points/{POINT}/alerts",
            {"category": "document_fraud", "severity": "high", "title": NEW_ALERT_TITLE},
        )
        return from_response(response, 201)
    if c.action == "cap_import":
        # A session client (no headers to add); the body is XML, not JSON.
        response = c.api.client.post(
            f"/api/v1/crossing-points/{POINT}/alerts/cap",
            c.world.cap_document,
            content_type="application/cap+xml",
        )
        return from_response(response, 201)
    if c.action in ("update", "update_cancelled"):
        response = c.api.patch(base, {"severity": "high"})
    elif c.action == "cancel":
        response = c.api.post(f"{base}/cancel", {"reason": "Issued in error."})
    else:
        assert c.action in ("acknowledge", "acknowledge_again"), c.action
        response = c.api.post(f"{base}/ack", {"client_msg_id": str(uuid.uuid4())})
    return from_response(response)


# Operations through the service layer.


def service_op_list(c: Call) -> str:
    refs = [op.ref for op in operations_visible_to(access_for(c.actor), limit=200)]
    return OK if c.ref in refs else ABSENT


def service_op_read(c: Call) -> str:
    operation = operation_for(access_for(c.actor), c.ref)
    if operation is None:
        return NOT_FOUND
    assert operation.ref == c.ref
    return OK


def service_op_write(c: Call) -> str:
    actor = c.actor
    calls: dict[str, Callable[[], object]] = {
        "start": lambda: op_services.operation_start(
            actor=actor, crossing_point=POINT, template=TEMPLATE
        ),
        "assign_task": lambda: op_services.task_assign(
            actor=actor, ref=c.ref, task_id=c.task_id, agency="NA-AIR"
        ),
        "add_task": lambda: op_services.task_add(
            actor=actor, ref=c.ref, title=NEW_TASK_TITLE, agency_kind="police"
        ),
        "remove_task": lambda: op_services.task_remove(
            actor=actor, ref=c.ref, task_id=c.task_id, reason="Done under task 6."
        ),
        "work_task": lambda: op_services.task_update(
            actor=actor, ref=c.ref, task_id=c.task_id, status="in_progress"
        ),
        "cosign_task": lambda: op_services.task_cosign(actor=actor, ref=c.ref, task_id=c.task_id),
        "complete_task": lambda: op_services.task_update(
            actor=actor, ref=c.ref, task_id=c.task_id, status="done"
        ),
        "close": lambda: op_services.operation_close(actor=actor, ref=c.ref, note="Referred."),
        "files_task": lambda: op_services.task_update(
            actor=actor, ref=c.ref, task_id=c.task_id, attachments=[c.world.file_id]
        ),
    }
    return from_service(calls[op_verb(c.action)])


def op_verb(action: str) -> str:
    if action.startswith(("work_", "cosign_", "complete_", "files_")):
        return action.split("_")[0] + "_task"
    return action


# Operations through REST.


def rest_op_list(c: Call) -> str:
    response = c.api.get("/api/v1/operations", {"limit": 200})
    assert response.status_code == 200, response.content
    return OK if c.ref in [op["ref"] for op in response.json()] else ABSENT


def rest_op_read(c: Call) -> str:
    response = c.api.get(f"/api/v1/operations/{c.ref}")
    if response.status_code == 200:
        body = response.json()
        assert body["ref"] == c.ref
        assert sorted(t["id"] for t in body["tasks"]) == sorted(
            Task.objects.filter(operation__ref=c.ref).values_list("pk", flat=True)
        )
    return from_response(response)


def rest_op_list_templates(c: Call) -> str:
    response = c.api.get("/api/v1/checklist-templates")
    if response.status_code == 200:
        assert sorted(t["code"] for t in response.json()) == sorted(s.code for s in SOPS)
    return from_response(response)


def rest_op_write(c: Call) -> str:
    base = f"/api/v1/operations/{c.ref}"
    verb = op_verb(c.action)
    if verb == "start":
        response = c.api.post("/api/v1/operations", {"crossing_point": POINT, "template": TEMPLATE})
        return from_response(response, 201)
    if verb == "add_task":
        response = c.api.post(f"{base}/tasks", {"title": NEW_TASK_TITLE, "agency_kind": "police"})
        return from_response(response, 201)
    if verb == "assign_task":
        response = c.api.patch(f"{base}/tasks/{c.task_id}", {"assigned_agency": "NA-AIR"})
    elif verb == "remove_task":
        response = c.api.post(f"{base}/tasks/{c.task_id}/remove", {"reason": "Done under task 6."})
    elif verb == "work_task":
        response = c.api.patch(f"{base}/tasks/{c.task_id}", {"status": "in_progress"})
    elif verb == "cosign_task":
        response = c.api.post(f"{base}/tasks/{c.task_id}/cosign", {})
    elif verb == "complete_task":
        response = c.api.patch(f"{base}/tasks/{c.task_id}", {"status": "done"})
    elif verb == "files_task":
        response = c.api.patch(f"{base}/tasks/{c.task_id}", {"attachments": [c.world.file_id]})
    else:
        assert verb == "close", verb
        response = c.api.post(f"{base}/close", {"note": "Referred."})
    return from_response(response)


PERFORMERS: dict[tuple[str, str, str], Performer] = {
    (ALERTS, SERVICE, "list"): service_alert_list,
    (ALERTS, SERVICE, "read"): service_alert_read,
    (ALERTS, SERVICE, "cap_export"): service_alert_cap_export,
    (ALERTS, SERVICE, "atom_feed"): service_alert_atom_feed,
    (ALERTS, SERVICE, "read_stream"): service_read_stream,
    (ALERTS, SERVICE, "search"): service_alert_search,
    (ALERTS, REST, "list"): rest_alert_list,
    (ALERTS, REST, "read"): rest_alert_read,
    (ALERTS, REST, "cap_export"): rest_alert_cap_export,
    (ALERTS, REST, "atom_feed"): rest_alert_atom_feed,
    (ALERTS, REST, "read_stream"): rest_read_stream,
    (ALERTS, REST, "search"): rest_alert_search,
    (OPERATIONS, SERVICE, "list"): service_op_list,
    (OPERATIONS, SERVICE, "read"): service_op_read,
    (OPERATIONS, SERVICE, "read_stream"): service_read_stream,
    (OPERATIONS, REST, "list"): rest_op_list,
    (OPERATIONS, REST, "read"): rest_op_read,
    (OPERATIONS, REST, "read_stream"): rest_read_stream,
    (OPERATIONS, REST, "list_templates"): rest_op_list_templates,
    **{(d, SERVICE, a): service_alert_write for d, a in WRITE_KINDS if d == ALERTS},
    **{(d, REST, a): rest_alert_write for d, a in WRITE_KINDS if d == ALERTS},
    **{(d, SERVICE, a): service_op_write for d, a in WRITE_KINDS if d == OPERATIONS},
    **{(d, REST, a): rest_op_write for d, a in WRITE_KINDS if d == OPERATIONS},
}


# --- checking an allowed write --------------------------------------------------------


def new_event(before: dict[str, Rows], after: dict[str, Rows]) -> Event:
    added = set(after["events"]) - set(before["events"])
    assert len(added) == 1, added
    return Event.objects.select_related("stream", "actor_agency").get(pk=added.pop())


def check_written(c: Call, before: dict[str, Rows]) -> None:
    """An allowed write appended exactly its event, by the caller, and changed exactly its rows."""
    if c.action in FILE_ACTIONS:
        check_file_added(c, before)
        return
    after = snapshot()
    changes = diff(before, after)
    event = new_event(before, after)
    actor = c.actor
    assert event.kind == WRITE_KINDS[c.domain, c.action]
    assert event.actor_id == actor.pk
    assert event.actor_agency is not None
    assert event.actor_agency.code == c.agency
    added = changes.pop("events")
    assert (added.changed, len(added.added)) == (frozenset(), 1)
    receipts = changes.pop("receipts")
    assert (receipts.changed, len(receipts.added)) == (frozenset(), 1)
    streams = changes.pop("streams")
    if c.action == "start":
        assert streams.changed == frozenset()
        assert len(streams.added) == 1
        new_op = Operation.objects.exclude(pk__in=before["operations"]).get()
        assert event.stream.name == f"operation:{new_op.ref}" != c.stream
        assert event.seq == 1
    else:
        assert streams == Diff(frozenset({stream_pk(c.stream)}), frozenset())
        assert event.stream.name == c.stream
        old_head = next(r[2] for r in before["streams"].values() if r[1] == c.stream)
        assert event.seq == old_head + 1
    rows = {table: (d.changed, len(d.added)) for table, d in changes.items()}
    if c.domain == ALERTS:
        check_alert_written(c, event, rows, before)
    else:
        check_operation_written(c, event, rows, before)


Changes = dict[str, tuple[frozenset[Any], int]]


def check_alert_written(c: Call, event: Event, rows: Changes, before: dict[str, Rows]) -> None:
    actor = c.actor
    if c.action in ("issue", "cap_import"):
        alert = Alert.objects.exclude(pk__in=before["alerts"]).get()
        targets = sorted(alert.target_rows.values_list("agency__code", flat=True))
        assert (alert.issued_by_id, alert.issuing_agency.code) == (actor.pk, c.agency)
        assert event.payload["alert_id"] == alert.pk
        assert event.payload["targets"] == targets
        if c.action == "issue":
            assert alert.title == NEW_ALERT_TITLE
            assert targets == [a for a in POINT_AGENCIES if a != c.agency]
            assert rows == {"alerts": (frozenset(), 1), "alert_targets": (frozenset(), 3)}
        else:
            assert alert.title == MAIN_ALERT_TITLE
            # Imported alerts remember "sender,identifier" of their CAP document.
            assert alert.source_identifier == f"{settings.HUB_CAP_SENDER},{c.world.cap_identifier}"
            assert targets == ALERT_TARGETS
            assert rows == {"alerts": (frozenset(), 1), "alert_targets": (frozenset(), 2)}
        return
    alert = Alert.objects.get(pk=c.alert_id)
    assert event.payload["alert_id"] == alert.pk
    if c.action == "update":
        assert (alert.severity, alert.version, alert.status) == ("high", 2, "active")
        # Raising the severity moves the acknowledgement deadline of the targets.
        moved = list(AlertTarget.objects.filter(alert=alert))
        high_due = alert.created_at + timedelta(seconds=settings.HUB_ALERT_ACK_WINDOWS["high"])
        assert {t.due_at for t in moved} == {high_due}
        assert event.payload["changes"]["severity"] == {"old": "medium", "new": "high"}
        assert event.payload["changes"]["due_at"]["new"] == high_due.isoformat()
        assert set(event.payload["changes"]) == {"severity", "due_at"}
        assert rows == {
            "alerts": (frozenset({alert.pk}), 0),
            "alert_targets": (frozenset(t.pk for t in moved), 0),
        }
    elif c.action == "cancel":
        assert (alert.status, alert.version, alert.cancel_reason) == (
            "cancelled",
            2,
            "Issued in error.",
        )
        assert rows == {"alerts": (frozenset({alert.pk}), 0)}
    else:
        assert c.action == "acknowledge", c.action
        target = AlertTarget.objects.get(alert=alert, agency__code=c.agency)
        assert target.acknowledged_by_id == actor.pk
        assert target.ack_seq == event.seq
        assert event.payload["agency"] == c.agency
        assert rows == {"alert_targets": (frozenset({target.pk}), 0)}


def check_operation_written(c: Call, event: Event, rows: Changes, before: dict[str, Rows]) -> None:
    actor = c.actor
    operation = Operation.objects.get(ref=c.ref)
    verb = op_verb(c.action)
    if verb == "start":
        new = Operation.objects.exclude(pk__in=before["operations"]).get()
        assert event.payload["ref"] == new.ref
        assert (new.started_by_id, new.lead_agency.code) == (actor.pk, c.agency)
        assert new.template.code == TEMPLATE
        counter = OperationCounter.objects.get(crossing_point__code=POINT)
        assert rows == {
            "operations": (frozenset(), 1),
            "tasks": (frozenset(), len(SOPS[0].items)),
            "operation_counters": (frozenset({counter.pk}), 0),
        }
        return
    assert event.payload["ref"] == c.ref
    if verb == "close":
        assert (operation.status, operation.close_note) == ("closed", "Referred.")
        assert rows == {"operations": (frozenset({operation.pk}), 0)}
        return
    if verb == "add_task":
        task = Task.objects.exclude(pk__in=before["tasks"]).get()
        assert (task.operation_id, task.title, task.is_adhoc) == (
            operation.pk,
            NEW_TASK_TITLE,
            True,
        )
        assert task.assigned_agency is not None
        assert task.assigned_agency.code == "NA-POL"
        assert event.payload["task"]["id"] == task.pk
        assert rows == {"tasks": (frozenset(), 1)}
        return
    task = Task.objects.select_related("assigned_agency", "cosigned_agency").get(pk=c.task_id)
    assert event.payload["task_id"] == task.pk
    assert rows == {"tasks": (frozenset({task.pk}), 0)}
    if verb == "assign_task":
        assert task.assigned_agency is not None
        assert task.assigned_agency.code == event.payload["agency"] == "NA-AIR"
    elif verb == "remove_task":
        assert task.removed_at is not None
        assert task.reason == "Done under task 6."
    elif verb == "work_task":
        assert task.status == "in_progress"
        assert (event.payload["from_status"], event.payload["to_status"]) == (
            "open",
            "in_progress",
        )
    elif verb == "complete_task":
        assert (task.status, task.completed_by_id) == ("done", actor.pk)
        assert task.cosigned_agency is not None
        assert task.cosigned_agency.code == "NA-IMM" != c.agency
        assert task.cosigned_by_id != actor.pk
        assert (event.payload["from_status"], event.payload["to_status"]) == (
            "in_progress",
            "done",
        )
    else:
        assert verb == "cosign_task", verb
        assert task.cosigned_by_id == actor.pk
        assert task.cosigned_agency is not None
        assert task.cosigned_agency.code == event.payload["agency"] == c.agency


def check_file_added(c: Call, before: dict[str, Rows]) -> None:
    """Adding a file to a task of the evidence operation: ``task.noted`` on its stream
    listing the file, ``operation.progress`` on its incident's (as for every change to
    an operation of an incident), one link and the file marked referenced; nothing else."""
    after = snapshot()
    changes = diff(before, after)
    events = changes.pop("events")
    assert (events.changed, len(events.added)) == (frozenset(), 2)
    added = list(Event.objects.select_related("stream", "actor_agency").filter(pk__in=events.added))
    by_stream = {e.stream.name: e for e in added}
    operation = Operation.objects.select_related("incident").get(ref=c.ref)
    assert operation.incident is not None
    incident_stream = operation.incident.stream_name
    assert set(by_stream) == {c.stream, incident_stream}
    for event in added:
        assert event.actor_id == c.actor.pk
        assert event.actor_agency is not None
        assert event.actor_agency.code == c.agency
    noted, progress = by_stream[c.stream], by_stream[incident_stream]
    assert (noted.kind, progress.kind) == ("task.noted", "operation.progress")
    assert noted.payload["task_id"] == c.task_id
    assert noted.payload["attachments"] == [c.world.file_id]
    streams = changes.pop("streams")
    assert streams == Diff(
        frozenset({stream_pk(c.stream), stream_pk(incident_stream)}), frozenset()
    )
    receipts = changes.pop("receipts")
    assert (receipts.changed, len(receipts.added)) == (frozenset(), 1)
    link = TaskAttachment.objects.get(pk__in=changes["task_attachments"].added)
    assert (link.task_id, link.attachment_id, link.added_by_id, link.position) == (
        c.task_id,
        c.world.file_id,
        c.actor.pk,
        0,
    )
    rows = {table: (d.changed, len(d.added)) for table, d in changes.items()}
    assert rows == {
        "task_attachments": (frozenset(), 1),
        "attachments": (frozenset({c.world.file_id}), 0),
    }


# --- the matrix -----------------------------------------------------------------------


def security_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "hub.security"]


@pytest.mark.parametrize("cell", CELLS, ids=[cell.id for cell in CELLS])
def test_authorization_cell(cell: Cell, world: World, caplog: pytest.LogCaptureFixture) -> None:
    call = Call(world, cell.domain, cell.layer, cell.action, cell.relation, cell.username)
    prepare(call)
    before = snapshot()
    caplog.clear()

    with caplog.at_level(logging.WARNING, logger="hub.security"):
        outcome = perform(call)

    assert outcome == cell.expected, f"{cell.id}: expected {cell.expected}, got {outcome}"
    if cell.expected == OK and (cell.domain, cell.action) in WRITE_KINDS:
        check_written(call, before)
    else:
        # Reads and refusals write nothing: same events, streams, receipts and rows.
        assert diff(before, snapshot()) == {}
    denials = security_records(caplog)
    if cell.expected in REFUSALS:
        assert len(denials) == 1, [r.getMessage() for r in denials]
        record = denials[0]
        assert record.__dict__["denied_user_id"] == officer(cell.username).pk
        assert record.__dict__["denied_action"] == LOGGED_ACTIONS[cell.domain, cell.action]
        assert record.__dict__["denied_reason"]
        assert f"user={cell.username} " in record.getMessage()
    else:
        assert denials == [], [r.getMessage() for r in denials]
    CHECKED.add(cell.id)


# --- denials are logged with who, what, on what and why ----------------------------------


@dataclass(frozen=True)
class LoggedDenial:
    domain: str
    layer: str
    action: str
    relation: str
    username: str
    logged_action: str
    target: str  # formatted with alert, ref and the task ids
    reason: str
    outcome: str


LOGGED_DENIALS = [
    LoggedDenial(
        ALERTS, SERVICE, "update", "colleague", "na-imm.duty", "alert.update", "{alert}",
        "only the issuer, or a coordinator or senior official of the issuing agency, changes it",
        FORBIDDEN,
    ),
    LoggedDenial(
        ALERTS, REST, "cancel", "targeted", "na-pol.coord", "alert.cancel", "{alert}",
        "only the issuer, or a coordinator or senior official of the issuing agency, changes it",
        FORBIDDEN,
    ),
    LoggedDenial(
        ALERTS, REST, "acknowledge", "untargeted", "na-air.senior", "alert.acknowledge",
        "{alert}", "only officers of a targeted agency acknowledge this alert", FORBIDDEN,
    ),
    LoggedDenial(
        ALERTS, SERVICE, "issue", "foreign", "za-imm.coord", "alert.issue", "WDH",
        "does not serve this crossing point", NOT_FOUND,
    ),
    LoggedDenial(
        ALERTS, REST, "cap_import", "issuer", "na-imm.admin", "alert.issue", "WDH",
        "does not serve this crossing point", NOT_FOUND,
    ),
    LoggedDenial(
        ALERTS, REST, "cap_export", "foreign", "za-imm.senior", "alert.read", "{alert}",
        "does not serve this crossing point", NOT_FOUND,
    ),
    LoggedDenial(
        ALERTS, REST, "read_stream", "untargeted", "na-air.admin", "stream.read", "WDH",
        "does not serve this crossing point", NOT_FOUND,
    ),
    LoggedDenial(
        OPERATIONS, REST, "start", "lead", "na-imm.senior", "operation.start", "WDH",
        "only coordinators serving this crossing point start joint operations", FORBIDDEN,
    ),
    LoggedDenial(
        OPERATIONS, SERVICE, "start", "foreign", "za-imm.coord", "operation.start", "WDH",
        "does not serve this crossing point", NOT_FOUND,
    ),
    LoggedDenial(
        OPERATIONS, SERVICE, "close", "tasked", "na-pol.duty", "operation.close", "{ref}",
        "only coordinators of the agencies in this operation manage it", FORBIDDEN,
    ),
    LoggedDenial(
        OPERATIONS, REST, "assign_task", "untasked", "na-air.coord", "task.assign", "{ref}",
        "cannot see this operation", NOT_FOUND,
    ),
    LoggedDenial(
        OPERATIONS, REST, "work_pol_task", "untasked", "na-air.senior", "task.update",
        "{ref}/{pol_work}",
        "only the task's agency, its assignees or a coordinator of the operation work it",
        FORBIDDEN,
    ),
    LoggedDenial(
        OPERATIONS, REST, "cosign_pol_task", "tasked", "na-pol.duty", "task.cosign",
        "{ref}/{pol_cosign}", "a co-sign must come from an officer of another agency",
        "same_agency_cosign",
    ),
    LoggedDenial(
        OPERATIONS, REST, "complete_cosigned_by_imm_coord", "lead", "na-imm.coord",
        "task.update", "{ref}/{pol_cosign}",
        "one officer may not both co-sign and complete a task", "self_cosign",
    ),
    LoggedDenial(
        OPERATIONS, SERVICE, "complete_cosigned_by_imm_duty", "lead", "na-imm.coord",
        "task.update", "{ref}/{pol_cosign}",
        "a co-sign must come from an agency other than the completing officer's",
        "same_agency_cosign",
    ),
    LoggedDenial(
        OPERATIONS, SERVICE, "read", "untasked", "na-air.duty", "operation.read", "{ref}",
        "cannot see this operation", NOT_FOUND,
    ),
    LoggedDenial(
        OPERATIONS, REST, "read_stream", "foreign", "za-imm.senior", "stream.read", "{ref}",
        "cannot see this operation", NOT_FOUND,
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    "case",
    LOGGED_DENIALS,
    ids=[f"{d.layer}-{d.domain}-{d.action}-{d.username}" for d in LOGGED_DENIALS],
)
def test_denial_is_logged_with_who_what_why(
    case: LoggedDenial, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    call = Call(world, case.domain, case.layer, case.action, case.relation, case.username)
    target = case.target.format(alert=call.alert_id, ref=world.ref, **world.tasks)
    prepare(call)
    before = snapshot()
    with caplog.at_level(logging.WARNING, logger="hub.security"):
        outcome = perform(call)

    assert outcome == case.outcome
    assert diff(before, snapshot()) == {}
    records = security_records(caplog)
    assert len(records) == 1, [r.getMessage() for r in records]
    record = records[0]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        f"denied user={case.username} action={case.logged_action} target={target} "
        f"reason={case.reason}"
    )
    assert record.__dict__["denied_user_id"] == officer(case.username).pk
    assert record.__dict__["denied_action"] == case.logged_action
    assert record.__dict__["denied_target"] == target
    assert record.__dict__["denied_reason"] == case.reason


# --- relations that change ----------------------------------------------------------------


def test_templates_need_a_signed_in_user(world: World) -> None:
    response = Api().get("/api/v1/checklist-templates")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


def test_operation_visibility_follows_task_assignment(world: World) -> None:
    """NA-AIR sees the operation exactly while it has a (live) task in it."""
    api = world.clients["na-air.duty"]
    url = f"/api/v1/operations/{world.ref}"
    assert api.get(url).status_code == 404
    op_services.task_assign(
        actor=officer("na-imm.coord"), ref=world.ref, task_id=world.tasks["cus"], agency="NA-AIR"
    )
    assert api.get(url).status_code == 200
    # Now tasked, NA-AIR's duty officer works its task.
    response = api.patch(f"{url}/tasks/{world.tasks['cus']}", {"status": "in_progress"})
    assert response.status_code == 200, response.content
    op_services.task_assign(
        actor=officer("na-imm.coord"), ref=world.ref, task_id=world.tasks["cus"], agency="NA-CUS"
    )
    assert api.get(url).status_code == 404


def test_an_assignee_reads_the_operation_and_works_only_their_task(world: World) -> None:
    """An officer assigned a task (any officer serving the point) sees the operation.

    ``na-air.duty`` (NA-AIR has no task) is assigned NA-POL's task: they may then
    read the operation and work that task, but not another agency's task, and not
    manage the operation; as an officer of another agency they may co-sign any
    task in it. Unassigned, they lose sight of it again.
    """
    api = world.clients["na-air.duty"]
    url = f"/api/v1/operations/{world.ref}"
    assert api.get(url).status_code == 404
    op_services.task_assign(
        actor=officer("na-imm.coord"),
        ref=world.ref,
        task_id=world.tasks["pol_work"],
        assignees=["na-air.duty"],
    )
    assert api.get(url).status_code == 200
    assert api.get(f"/api/v1/streams/operation:{world.ref}/events").status_code == 200
    assert world.ref in [op["ref"] for op in api.get("/api/v1/operations").json()]

    def work(task: str) -> str:
        response = api.patch(f"{url}/tasks/{world.tasks[task]}", {"status": "in_progress"})
        return from_response(response)

    assert work("pol_work") == OK
    event = Event.objects.filter(stream__name=f"operation:{world.ref}").order_by("-seq").first()
    assert event is not None
    assert (event.kind, event.actor_id) == ("task.status_changed", officer("na-air.duty").pk)
    assert event.actor_agency is not None
    assert event.actor_agency.code == "NA-AIR"
    assert work("imm_work") == FORBIDDEN
    assert from_response(api.post(f"{url}/close", {})) == FORBIDDEN
    assert from_response(api.post(f"{url}/tasks/{world.tasks['pol_cosign']}/cosign", {})) == OK
    op_services.task_assign(
        actor=officer("na-imm.coord"), ref=world.ref, task_id=world.tasks["pol_work"], assignees=[]
    )
    assert api.get(url).status_code == 404


# --- the count, last ------------------------------------------------------------------


def test_every_cell_of_the_matrix_was_checked() -> None:
    n = len(CHECKED)
    print(f"authorization matrix (alerts, joint operations): {n} cells checked")
    assert len(CELLS) == EXPECTED_CELL_COUNT == len({cell.id for cell in CELLS})
    missing = {cell.id for cell in CELLS} - CHECKED
    assert not missing, (
        f"{len(missing)} cells not checked (run the whole module): {sorted(missing)[:5]}"
    )
    assert n == len(CELLS)
