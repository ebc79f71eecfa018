"""REST: situation reports on incidents and joint operations, their cadence, and the
crossing point's board of reports due.

Each route calls one service or selector; errors leave as ``{"code", "detail"}``.
Who may post or set the cadence: ``hub.sitreps.permissions`` (a reader who may not
gets 403, anyone else 404).
"""

from __future__ import annotations

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Status

from hub.agencies.selectors import access_for
from hub.auth import request_user
from hub.errors import NotFound
from hub.schemas import ERRORS_READ, ERRORS_WRITE, refuses_valid
from hub.sitreps import services
from hub.sitreps.schemas import (
    CadenceIn,
    CadenceWriteOut,
    SitrepDueOut,
    SitrepIn,
    SitrepOut,
    SitrepPageOut,
    SitrepPageQuery,
    SitrepStateOut,
    SitrepWriteOut,
)
from hub.sitreps.selectors import SitrepView, sitrep_view, sitreps_due_at, sitreps_page

router = Router(tags=["situation reports"])


def _state(stream: str) -> SitrepStateOut:
    view = sitrep_view(stream)
    assert view is not None  # a write created it
    return SitrepStateOut.of(view)


def _post(request: HttpRequest, kind: str, ref: str, payload: SitrepIn) -> Status[SitrepWriteOut]:
    result = services.sitrep_post(
        actor=request_user(request),
        kind=kind,
        ref=ref,
        situation=payload.situation,
        actions_taken=payload.actions_taken,
        next_steps=payload.next_steps,
        needs=[n.model_dump() for n in payload.needs],
        client_msg_id=payload.client_msg_id,
    )
    return Status(
        200 if result.duplicate else 201,
        SitrepWriteOut(
            report=SitrepOut.of(result.report),
            sitrep=_state(result.stream),
            stream=result.stream,
            seq=result.seq,
            duplicate=result.duplicate,
        ),
    )


def _cadence(request: HttpRequest, kind: str, ref: str, payload: CadenceIn) -> CadenceWriteOut:
    result = services.sitrep_cadence_set(
        actor=request_user(request),
        kind=kind,
        ref=ref,
        every_minutes=payload.every_minutes,
        client_msg_id=payload.client_msg_id,
    )
    return CadenceWriteOut(
        sitrep=_state(result.stream),
        stream=result.stream,
        seq=result.seq,
        duplicate=result.duplicate,
    )


def _page(request: HttpRequest, kind: str, ref: str, query: SitrepPageQuery) -> SitrepPageOut:
    page = sitreps_page(
        access_for(request_user(request)), kind, ref, before=query.before, limit=query.limit
    )
    if page is None:
        raise NotFound("Not found.")
    return SitrepPageOut(
        items=[SitrepOut.of(r) for r in page.reports],
        next_before=page.next_before,
        sitrep=SitrepStateOut.maybe(page.view),
        stream=page.stream,
        seq=page.seq,
    )


POST_SUMMARY = (
    "Post the lead's situation report (coordinators of the lead agency; a repeat of "
    "client_msg_id answers 200 with the original)"
)
CADENCE_SUMMARY = "Ask for a situation report every N minutes, or clear the cadence (null)"


@router.post(
    "/incidents/{ref}/sitreps",
    response={201: SitrepWriteOut, 200: SitrepWriteOut, **ERRORS_WRITE},
    summary=POST_SUMMARY,
    openapi_extra=refuses_valid(
        "needs naming an agency that is not active (`needs[i].agency`)",
    ),
)
def incident_sitrep_create(
    request: HttpRequest, ref: str, payload: SitrepIn
) -> Status[SitrepWriteOut]:
    return _post(request, "incident", ref, payload)


@router.get(
    "/incidents/{ref}/sitreps",
    response={200: SitrepPageOut, **ERRORS_READ},
    summary="Situation reports on an incident, newest first, and its cadence",
)
def incident_sitrep_list(
    request: HttpRequest, ref: str, query: Query[SitrepPageQuery]
) -> SitrepPageOut:
    return _page(request, "incident", ref, query)


@router.put(
    "/incidents/{ref}/sitrep-cadence",
    response={200: CadenceWriteOut, **ERRORS_WRITE},
    summary=CADENCE_SUMMARY,
)
def incident_sitrep_cadence(request: HttpRequest, ref: str, payload: CadenceIn) -> CadenceWriteOut:
    return _cadence(request, "incident", ref, payload)


@router.post(
    "/operations/{ref}/sitreps",
    response={201: SitrepWriteOut, 200: SitrepWriteOut, **ERRORS_WRITE},
    summary=POST_SUMMARY,
    openapi_extra=refuses_valid(
        "needs naming an agency that is not active (`needs[i].agency`)",
    ),
)
def operation_sitrep_create(
    request: HttpRequest, ref: str, payload: SitrepIn
) -> Status[SitrepWriteOut]:
    return _post(request, "operation", ref, payload)


@router.get(
    "/operations/{ref}/sitreps",
    response={200: SitrepPageOut, **ERRORS_READ},
    summary="Situation reports on a joint operation, newest first, and its cadence",
)
def operation_sitrep_list(
    request: HttpRequest, ref: str, query: Query[SitrepPageQuery]
) -> SitrepPageOut:
    return _page(request, "operation", ref, query)


@router.put(
    "/operations/{ref}/sitrep-cadence",
    response={200: CadenceWriteOut, **ERRORS_WRITE},
    summary=CADENCE_SUMMARY,
)
def operation_sitrep_cadence(request: HttpRequest, ref: str, payload: CadenceIn) -> CadenceWriteOut:
    return _cadence(request, "operation", ref, payload)


@router.get(
    "/crossing-points/{code}/sitreps-due",
    response={200: list[SitrepDueOut], **ERRORS_READ},
    summary="Incidents and operations here with a report cadence, the most overdue first",
)
def sitreps_due(request: HttpRequest, code: str) -> list[SitrepDueOut]:
    views: list[SitrepView] | None = sitreps_due_at(access_for(request_user(request)), code)
    if views is None:
        raise NotFound("Not found.")
    now = timezone.now()
    return [SitrepDueOut.of(view, now) for view in views]
