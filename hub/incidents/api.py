"""REST: incidents, their status, agencies, messages and timeline export.

Each route calls exactly one service or selector; errors leave as
``{"code", "detail"}`` (see ``hub.api``).
"""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Status

from hub.agencies.selectors import access_for
from hub.auth import request_user
from hub.errors import NotFound
from hub.incidents import services
from hub.incidents.export import (
    ATTACHMENT_CSV_COLUMNS,
    CSV_COLUMNS,
    JSON_ROW_FIELDS,
    incident_export,
)
from hub.incidents.schemas import (
    ExportQuery,
    IncidentCreate,
    IncidentListQuery,
    IncidentOut,
    IncidentPage,
    IncidentPatch,
    InviteIn,
    LeadIn,
    MessageEditIn,
    MessageIn,
    MessageListQuery,
    MessageOut,
    MessagePage,
    MessageWriteOut,
    RedactIn,
    TransitionIn,
)
from hub.incidents.selectors import IncidentFilters, messages_snapshot
from hub.schemas import ERRORS_READ, ERRORS_WRITE, refuses_valid
from hub.sitreps.selectors import (
    incident_detail_with_sitrep,
    incident_written_with_sitrep,
    incidents_listed_with_sitreps,
)

router = Router(tags=["incidents"])


def _out(request: HttpRequest, result: services.IncidentResult) -> IncidentOut:
    user_id = request_user(request).pk
    return IncidentOut.of(*incident_written_with_sitrep(result.incident, user_id=user_id))


@router.get("", response={200: IncidentPage, **ERRORS_READ}, summary="Incidents you may see")
def incident_list(request: HttpRequest, query: Query[IncidentListQuery]) -> IncidentPage:
    access = access_for(request_user(request))
    items = incidents_listed_with_sitreps(
        access,
        IncidentFilters(
            crossing_point=query.crossing_point,
            status=query.status,
            category=query.category,
            severity=query.severity,
            agency=query.agency,
            text=query.q,
        ),
        before_id=query.cursor,
        limit=query.limit,
    )
    return IncidentPage(
        items=[IncidentOut.of(*item) for item in items],
        next_cursor=items[-1][0].pk if len(items) == query.limit else None,
    )


@router.post(
    "",
    response={201: IncidentOut, 200: IncidentOut, **ERRORS_WRITE},
    summary="Report an incident",
    openapi_extra=refuses_valid(
        "occurred_at in the future or before the year 2000",
    ),
)
def incident_create(request: HttpRequest, payload: IncidentCreate) -> Status[IncidentOut]:
    result = services.incident_report(actor=request_user(request), **payload.model_dump())
    return Status(200 if result.duplicate else 201, _out(request, result))


@router.get(
    "/{ref}",
    response={200: IncidentOut, **ERRORS_READ},
    summary="One incident (a snapshot with its seq)",
)
def incident_detail(request: HttpRequest, ref: str) -> IncidentOut:
    found = incident_detail_with_sitrep(access_for(request_user(request)), ref)
    if found is None:
        raise NotFound("Not found.")
    return IncidentOut.of(*found)


@router.patch(
    "/{ref}",
    response={200: IncidentOut, **ERRORS_WRITE},
    summary="Change an incident's fields",
    openapi_extra=refuses_valid("occurred_at in the future or before the year 2000"),
)
def incident_patch(request: HttpRequest, ref: str, payload: IncidentPatch) -> IncidentOut:
    changes = payload.model_dump(exclude_unset=True, exclude={"client_msg_id"})
    result = services.incident_update(
        actor=request_user(request), ref=ref, changes=changes, client_msg_id=payload.client_msg_id
    )
    return _out(request, result)


@router.post(
    "/{ref}/transitions",
    response={200: IncidentOut, **ERRORS_WRITE},
    summary="Move the incident along reported → triaged → active → resolved → closed (or reopen)",
    openapi_extra=refuses_valid(
        "a transition that needs a reason, without one (`reason_required`)",
    ),
)
def incident_transitions(request: HttpRequest, ref: str, payload: TransitionIn) -> IncidentOut:
    result = services.incident_transition(
        actor=request_user(request),
        ref=ref,
        to_status=payload.to,
        reason=payload.reason,
        client_msg_id=payload.client_msg_id,
    )
    return _out(request, result)


@router.post(
    "/{ref}/agencies",
    response={200: IncidentOut, **ERRORS_WRITE},
    summary="Invite an agency",
    openapi_extra=refuses_valid(
        "an agency that is not deployed at the crossing point (`agency_not_deployed`)",
    ),
)
def incident_invite(request: HttpRequest, ref: str, payload: InviteIn) -> IncidentOut:
    result = services.incident_invite_agency(
        actor=request_user(request),
        ref=ref,
        agency=payload.agency,
        note=payload.note,
        client_msg_id=payload.client_msg_id,
    )
    return _out(request, result)


@router.put(
    "/{ref}/lead", response={200: IncidentOut, **ERRORS_WRITE}, summary="Set the lead agency"
)
def incident_lead(request: HttpRequest, ref: str, payload: LeadIn) -> IncidentOut:
    result = services.incident_set_lead(
        actor=request_user(request),
        ref=ref,
        agency=payload.agency,
        client_msg_id=payload.client_msg_id,
    )
    return _out(request, result)


@router.get(
    "/{ref}/messages",
    response={200: MessagePage, **ERRORS_READ},
    summary="Messages on the incident channel",
)
def message_list(request: HttpRequest, ref: str, query: Query[MessageListQuery]) -> MessagePage:
    found = messages_snapshot(
        access_for(request_user(request)), ref, after_seq=query.after_seq, limit=query.limit
    )
    if found is None:
        raise NotFound("Not found.")
    items, head = found
    return MessagePage(items=[MessageOut.of(m) for m in items], head=head)


def _message_out(result: services.MessageResult) -> MessageWriteOut:
    message = (
        type(result.message)
        .objects.select_related("author", "agency", "redacted_by")
        .get(pk=result.message.pk)
    )
    return MessageWriteOut(
        message=MessageOut.of(message),
        stream=result.stream,
        seq=result.seq,
        duplicate=result.duplicate,
    )


@router.post(
    "/{ref}/messages",
    response={201: MessageWriteOut, 200: MessageWriteOut, **ERRORS_WRITE},
    summary="Post a message (idempotent on client_msg_id: a repeat returns the original)",
    openapi_extra=refuses_valid(
        "an empty body without attachments",
        "attachment ids that are not files of this incident (`attachment_unknown`)",
    ),
)
def message_create(request: HttpRequest, ref: str, payload: MessageIn) -> Status[MessageWriteOut]:
    result = services.message_post(
        actor=request_user(request),
        ref=ref,
        body=payload.body,
        client_msg_id=payload.client_msg_id,
        agency=payload.agency,
        attachments=payload.attachments,
    )
    return Status(200 if result.duplicate else 201, _message_out(result))


@router.patch(
    "/{ref}/messages/{message_id}",
    response={200: MessageWriteOut, **ERRORS_WRITE},
    summary="Edit your message (earlier versions stay in the timeline)",
)
def message_update(
    request: HttpRequest, ref: str, message_id: int, payload: MessageEditIn
) -> MessageWriteOut:
    result = services.message_edit(
        actor=request_user(request),
        ref=ref,
        message_id=message_id,
        body=payload.body,
        client_msg_id=payload.client_msg_id,
    )
    return _message_out(result)


@router.post(
    "/{ref}/messages/{message_id}/redact",
    response={200: MessageWriteOut, **ERRORS_WRITE},
    summary="Hide a message's text from readers, recording who and why",
)
def message_redact(
    request: HttpRequest, ref: str, message_id: int, payload: RedactIn
) -> MessageWriteOut:
    result = services.message_redact(
        actor=request_user(request),
        ref=ref,
        message_id=message_id,
        reason=payload.reason,
        client_msg_id=payload.client_msg_id,
    )
    return _message_out(result)


EXPORT_FILTERS_DESCRIPTION = (
    "The filters the export was made with, as query parameter names and values "
    "(`group` a list, `agency`, `actor`, `from`, `to`, `q`, `automatic` (only when "
    "false), `kind`); empty filters are left out, `{}`: every event."
)
EXPORT_DOCUMENT_SCHEMA = {
    "type": "object",
    "required": [
        "incident",
        "exported_at",
        "exported_by",
        "filters",
        "rows_total",
        "rows_shown",
        "milestones",
        "verification",
        "events",
        "attachments",
        "record",
    ],
    "properties": {
        "incident": {
            "type": "object",
            "description": "The incident's fields, its crossing point's `timezone`, and "
            "`head`: the seq the export runs to.",
        },
        "exported_at": {"type": "string", "format": "date-time"},
        "exported_by": {"type": "string"},
        "filters": {"type": "object", "description": EXPORT_FILTERS_DESCRIPTION},
        "rows_total": {
            "type": "integer",
            "description": "Every event of the stream up to `head`, filtered or not.",
        },
        "rows_shown": {
            "type": "integer",
            "description": "The events the filters keep: the length of `events`.",
        },
        "milestones": {
            "type": "array",
            "description": "Reported, triaged, lead set, active, resolved, closed: each the "
            "first time it was reached (null `at`: not yet), with the seconds since the "
            "report. Computed from the whole stream, whatever the filters.",
            "items": {
                "type": "object",
                "properties": {
                    "key": {"type": "string"},
                    "label": {"type": "string"},
                    "at": {"type": ["string", "null"], "format": "date-time"},
                    "at_local": {"type": ["string", "null"], "format": "date-time"},
                    "seq": {"type": ["integer", "null"]},
                    "after_seconds": {"type": ["integer", "null"]},
                },
            },
        },
        "verification": {
            "type": "object",
            "description": "The stream's hash chain, verified at export time, its head as "
            "exported, and how to check it again.",
            "properties": {
                "ok": {"type": "boolean"},
                "events_checked": {"type": "integer"},
                "first_broken": {"type": ["object", "null"]},
                "stream": {"type": "string"},
                "head_seq": {"type": "integer"},
                "head_hash": {"type": "string"},
                "verified_at": {"type": "string", "format": "date-time"},
                "check_again": {
                    "type": "object",
                    "description": "`command`: the management command that verifies the "
                    "stream; `api`: the endpoint that does; `head_event`: the endpoint that "
                    "shows the head event, whose hash must still be `head_hash`.",
                    "properties": {
                        "command": {"type": "string"},
                        "api": {"type": "string"},
                        "head_event": {"type": "string"},
                    },
                },
            },
        },
        "events": {
            "type": "array",
            "description": "The events the filters keep, in seq order; `at` in UTC, "
            "`at_local` in the crossing point's zone (with its offset).",
            "items": {
                "type": "object",
                "properties": {
                    name: {"type": "integer" if name == "seq" else "string"}
                    for name in JSON_ROW_FIELDS
                    if name != "payload"
                }
                | {"payload": {"type": "object"}},
            },
        },
        "attachments": {
            "type": "array",
            "description": "Every evidence file added up to `head`, in the order added, "
            "whatever the filters: folded from the stream's `attachment.added`, "
            "`attachment.withdrawn` and `attachment.original_downloaded` events (a "
            "convenience; the events in `record` are what is verified). `sha256` is the "
            "original bytes' hash as its `attachment.added` event recorded it; `seq` is "
            "that event's; `withdrawn` is null while served; `original_downloads` counts "
            "the downloads of the original.",
            "items": {
                "type": "object",
                "required": [
                    "id",
                    "filename",
                    "content_type",
                    "size",
                    "sha256",
                    "uploaded_by",
                    "agency",
                    "created_at",
                    "created_at_local",
                    "seq",
                    "withdrawn",
                    "original_downloads",
                ],
                "properties": {
                    "id": {"type": "integer"},
                    "filename": {"type": "string"},
                    "content_type": {"type": "string"},
                    "size": {"type": "integer"},
                    "sha256": {"type": "string"},
                    "uploaded_by": {"type": "string", "description": "A username."},
                    "agency": {"type": "string"},
                    "created_at": {"type": "string", "format": "date-time"},
                    "created_at_local": {"type": "string", "format": "date-time"},
                    "seq": {"type": "integer"},
                    "withdrawn": {
                        "type": ["object", "null"],
                        "required": ["at", "at_local", "by", "agency", "reason", "seq"],
                        "properties": {
                            "at": {"type": "string", "format": "date-time"},
                            "at_local": {"type": "string", "format": "date-time"},
                            "by": {"type": "string", "description": "A username."},
                            "agency": {"type": "string"},
                            "reason": {"type": "string"},
                            "seq": {"type": "integer"},
                        },
                    },
                    "original_downloads": {"type": "integer"},
                },
            },
        },
        "record": {
            "type": "object",
            "description": "The verifiable record (docs/record.md): every event of the "
            "stream from seq 1, filtered out or not (the payload and its salt where the "
            "filters keep the row and readers may see it, otherwise only the payload's "
            "digest), the inclusion proof of the stream's head in the latest signed "
            "checkpoint, and that checkpoint's public key. Check it with `python -m "
            "hub.record.verify FILE` or `manage.py verify_export FILE`, or on the review "
            "page.",
            "required": ["format", "stream", "head", "events", "proof", "public_key"],
            "properties": {
                "format": {"type": "string"},
                "stream": {"type": "string"},
                "head": {"type": ["object", "null"]},
                "events": {"type": "array", "items": {"type": "object"}},
                "proof": {
                    "type": ["object", "null"],
                    "description": "`checkpoint` (its signed fields, `signature`, "
                    "`hash`), `leaf_index`, `leaf` (stream, seq, hash) and `inclusion` "
                    "(the RFC 6962 audit path, hex); null before the first checkpoint.",
                },
                "public_key": {
                    "type": ["object", "null"],
                    "description": "`key_id` and `ed25519` (the raw public key, base64).",
                },
            },
        },
    },
}
EXPORT_HEADERS = {
    "X-Hub-Export-Filters": {
        "description": "The filters the export was made with, as the JSON document's "
        "`filters` (ASCII JSON). The CSV holds rows only: this header, and `-filtered` in "
        "the file name, say how it was narrowed.",
        "schema": {"type": "string"},
    },
    "X-Hub-Export-Rows-Shown": {
        "description": "How many events the filters keep (the rows of the export).",
        "schema": {"type": "integer"},
    },
    "X-Hub-Export-Rows-Total": {
        "description": "How many events the stream has up to the exported head.",
        "schema": {"type": "integer"},
    },
}
EXPORT_RESPONSES = {
    "responses": {
        200: {
            "description": "The timeline in the requested `format` (an attachment, or the "
            "HTML report inline), holding exactly the events the filters keep.",
            "headers": EXPORT_HEADERS,
            "content": {
                "application/json": {"schema": EXPORT_DOCUMENT_SCHEMA},
                "text/csv": {
                    "schema": {"type": "string"},
                    "example": ",".join(CSV_COLUMNS),
                    "description": "`format=csv`: the timeline's rows; "
                    "`format=attachments_csv`: the evidence files, columns "
                    + ", ".join(f"`{c}`" for c in ATTACHMENT_CSV_COLUMNS)
                    + ".",
                },
                "text/html": {"schema": {"type": "string"}},
            },
        }
    }
}


@router.get(
    "/{ref}/export",
    response={200: None, 403: ERRORS_WRITE[403], **ERRORS_READ},
    summary="Export the timeline as JSON, CSV or a printable HTML report, or its evidence "
    "files as CSV (senior officials)",
    description=(
        "The same filters as `GET /streams/{stream}/events` (`group`, `agency`, `actor`, "
        "`from`, `to`, `q`, `automatic`, and the `kind` prefix): the export holds exactly "
        "the events they keep, up to the stream's head, in seq order; a bad value is a 422 "
        "naming its field. Every format records the filters: JSON in `filters`, "
        "`rows_total` and `rows_shown`; the HTML report in its Filters line; every format "
        "in the `X-Hub-Export-*` headers. CSV columns: `seq`, `at_utc`, `at_local` (the "
        "crossing point's time with its offset), `timezone`, `kind`, `actor`, `username`, "
        "`agency`, `summary`, `hash`. The HTML report (print CSS, A4) adds the header, "
        "milestones, chat transcript with every edit and redaction (never redacted text), "
        "operation checklists, situation reports, evidence files and the verification; "
        "its text is in English. Evidence files (every file up to the head, whatever the "
        "filters, with its SHA-256, withdrawal and count of original downloads): the JSON "
        "`attachments`, the report's Evidence files, and `format=attachments_csv` (a CSV "
        "of its own, `<REF>-attachments.csv`; its `X-Hub-Export-*` headers say no filters)."
    ),
    openapi_extra={
        "responses": {
            **EXPORT_RESPONSES["responses"],
            **refuses_valid(
                "filters that contradict (`to` not after `from`) or name a group that does "
                "not exist (`invalid_filter`)",
            )["responses"],
        }
    },
)
def incident_export_view(request: HttpRequest, ref: str, query: Query[ExportQuery]) -> HttpResponse:
    exported = incident_export(
        actor=request_user(request),
        ref=ref,
        fmt=query.format,
        kind_prefix=query.kind,
        event_filter=query.event_filter(),
    )
    response = HttpResponse(exported.content, content_type=exported.content_type)
    disposition = "inline" if query.format == "html" else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="{exported.filename}"'
    response["X-Hub-Export-Filters"] = json.dumps(exported.filters, separators=(",", ":"))
    response["X-Hub-Export-Rows-Shown"] = str(exported.rows_shown)
    response["X-Hub-Export-Rows-Total"] = str(exported.rows_total)
    return response
