"""REST: evidence files on incidents (upload, list, download the original, view the
derivatives of an image or of a PDF's first page, withdraw).

Each route calls exactly one service; errors leave as ``{"code", "detail"}``.
The upload's multipart body is parsed by ``LimitedUploadHandler``, installed by
``BodySizeLimitMiddleware`` before anything reads the body.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

from django.http import FileResponse, HttpRequest
from ninja import Router, Status

from hub.attachments import derivatives, services
from hub.attachments.schemas import AttachmentList, AttachmentOut, AttachmentWriteOut, WithdrawIn
from hub.attachments.uploads import LimitedUploadHandler
from hub.auth import request_user
from hub.errors import InvalidInput, PayloadTooLarge
from hub.schemas import ERRORS_READ, ERRORS_WRITE, ErrorOut, refuses_valid

router = Router(tags=["attachments"])

UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "client_msg_id"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "client_msg_id": {"type": "string", "format": "uuid"},
                        "agency": {"type": "string", "maxLength": 20},
                    },
                }
            }
        },
    }
}


def _write_out(result: services.AttachmentResult, ref: str) -> AttachmentWriteOut:
    return AttachmentWriteOut(
        attachment=AttachmentOut.of(result.attachment, ref),
        stream=result.stream,
        seq=result.seq,
        duplicate=result.duplicate,
    )


@router.post(
    "/{ref}/attachments",
    response={
        201: AttachmentWriteOut,
        200: AttachmentWriteOut,
        415: ErrorOut,
        429: ErrorOut,
        **ERRORS_WRITE,
    },
    summary="Upload an evidence file (multipart: file, client_msg_id; idempotent)",
    openapi_extra={
        **UPLOAD_BODY,
        "responses": {
            **refuses_valid("a missing or empty `file` part")["responses"],
            **refuses_valid(
                "a file whose bytes are not a JPEG, PNG or WebP image or a PDF document "
                "(`unsupported_file_type`; decided from the bytes, not the name or the "
                "part's Content-Type)",
                status=415,
            )["responses"],
        },
    },
)
def attachment_create(request: HttpRequest, ref: str) -> Status[AttachmentWriteOut]:
    files = request.FILES
    if any(isinstance(h, LimitedUploadHandler) and h.too_large for h in request.upload_handlers):
        raise PayloadTooLarge("The file is larger than this hub accepts.", code="file_too_large")
    upload = files.get("file")
    if upload is None:
        raise InvalidInput("file: a multipart part named 'file' is required.")
    try:
        client_msg_id = uuid.UUID(str(request.POST.get("client_msg_id", "")))
    except ValueError:
        raise InvalidInput("client_msg_id: a UUID is required.") from None
    agency = request.POST.get("agency") or None
    result = services.attachment_upload(
        actor=request_user(request),
        ref=ref,
        file=upload,
        filename=upload.name,
        client_msg_id=client_msg_id,
        agency=agency,
    )
    return Status(200 if result.duplicate else 201, _write_out(result, ref))


@router.get(
    "/{ref}/attachments",
    response={200: AttachmentList, **ERRORS_READ},
    summary="Evidence files on the incident (metadata; withdrawn ones marked)",
)
def attachment_list(request: HttpRequest, ref: str) -> AttachmentList:
    items = services.attachments_of_incident(actor=request_user(request), ref=ref)
    return AttachmentList(items=[AttachmentOut.of(a, ref) for a in items])


@router.get(
    "/{ref}/attachments/{attachment_id}",
    response={200: None, 403: ErrorOut, **ERRORS_READ},
    summary="Download the original bytes (lead-agency coordinators and senior officials; logged)",
)
def attachment_download(request: HttpRequest, ref: str, attachment_id: int) -> FileResponse:
    attachment, stream = services.attachment_open_original(
        actor=request_user(request), ref=ref, attachment_id=attachment_id
    )
    response = FileResponse(stream, content_type=attachment.content_type)
    response["Content-Length"] = str(attachment.size)
    response["Content-Disposition"] = (
        f"attachment; filename*=UTF-8''{quote(attachment.filename, safe='')}"
    )
    return _safe(response)


def _safe(response: FileResponse) -> FileResponse:
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "private, no-store"
    return response


def _derivative(request: HttpRequest, ref: str, attachment_id: int, kind: str) -> FileResponse:
    attachment, stream = services.attachment_open_derivative(
        actor=request_user(request), ref=ref, attachment_id=attachment_id, kind=kind
    )
    response = FileResponse(stream, content_type=derivatives.CONTENT_TYPE)
    stem = attachment.filename.rsplit(".", 1)[0]
    name = f"{stem}-{kind}.{derivatives.EXTENSION}"
    response["Content-Disposition"] = f"inline; filename*=UTF-8''{quote(name, safe='')}"
    return _safe(response)


@router.get(
    "/{ref}/attachments/{attachment_id}/view",
    response={200: None, 409: ErrorOut, **ERRORS_READ},
    summary="The image, or a PDF's first page, re-encoded as JPEG without metadata, at "
    "most 2048 px (every reader; 409 derivative_pending until made, derivative_failed "
    "when it cannot be)",
)
def attachment_view(request: HttpRequest, ref: str, attachment_id: int) -> FileResponse:
    return _derivative(request, ref, attachment_id, "view")


@router.get(
    "/{ref}/attachments/{attachment_id}/thumbnail",
    response={200: None, 409: ErrorOut, **ERRORS_READ},
    summary="A 320 px JPEG thumbnail (of a PDF: its first page) without metadata "
    "(every reader; 409 as for /view)",
)
def attachment_thumbnail(request: HttpRequest, ref: str, attachment_id: int) -> FileResponse:
    return _derivative(request, ref, attachment_id, "thumbnail")


@router.post(
    "/{ref}/attachments/{attachment_id}/withdraw",
    response={200: AttachmentWriteOut, **ERRORS_WRITE},
    summary="Withdraw a file with a reason (it stops being served; nothing is deleted)",
)
def attachment_withdraw(
    request: HttpRequest, ref: str, attachment_id: int, payload: WithdrawIn
) -> AttachmentWriteOut:
    result = services.attachment_withdraw(
        actor=request_user(request),
        ref=ref,
        attachment_id=attachment_id,
        reason=payload.reason,
        client_msg_id=payload.client_msg_id,
    )
    return _write_out(result, ref)
