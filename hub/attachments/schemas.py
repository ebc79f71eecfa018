"""Wire shapes of evidence files."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from ninja import Schema
from pydantic import Field

from hub.attachments.models import Attachment
from hub.schemas import RequiredText, StrictIn, UserRef


class DerivativesOut(Schema):
    view: bool = Field(
        description="GET .../view serves the re-encoded image, or the PDF's first page, "
        "as JPEG (no metadata)."
    )
    thumbnail: bool = Field(description="GET .../thumbnail serves a 320 px JPEG thumbnail.")


class AttachmentOut(Schema):
    id: int
    incident: str
    seq: int = Field(description="The seq of its attachment.added event.")
    sha256: str = Field(description="SHA-256 of the original bytes, lowercase hex.")
    size: int
    content_type: str = Field(description="Decided from the bytes, not the name.")
    filename: str = Field(description="Sanitised, for display only.")
    uploaded_by: UserRef
    agency: str
    created_at: datetime
    withdrawn: bool
    withdrawn_at: datetime | None
    withdrawn_by: UserRef | None
    withdrawn_reason: str | None
    derivatives: DerivativesOut = Field(
        description="Which derivatives are made (made in the background for images and "
        "PDFs, a PDF's of its first page; false while pending or when making them failed; "
        "a withdrawn file serves none)."
    )

    @staticmethod
    def of(attachment: Attachment, ref: str) -> AttachmentOut:
        by = attachment.withdrawn_by
        up = attachment.uploaded_by
        return AttachmentOut(
            id=attachment.pk,
            incident=ref,
            seq=attachment.seq,
            sha256=attachment.sha256,
            size=attachment.size,
            content_type=attachment.content_type,
            filename=attachment.filename,
            uploaded_by=UserRef(id=up.pk, username=up.username, name=up.display_name),
            agency=attachment.agency.code,
            created_at=attachment.created_at,
            withdrawn=attachment.is_withdrawn,
            withdrawn_at=attachment.withdrawn_at,
            withdrawn_by=(
                UserRef(id=by.pk, username=by.username, name=by.display_name) if by else None
            ),
            withdrawn_reason=attachment.withdrawn_reason if attachment.is_withdrawn else None,
            derivatives=DerivativesOut(
                view=bool(attachment.view_name) and not attachment.is_withdrawn,
                thumbnail=bool(attachment.thumbnail_name) and not attachment.is_withdrawn,
            ),
        )


class AttachmentWriteOut(Schema):
    attachment: AttachmentOut
    stream: str
    seq: int
    duplicate: bool


class AttachmentList(Schema):
    items: list[AttachmentOut]


class WithdrawIn(StrictIn):
    reason: RequiredText = Field(min_length=1, max_length=500)
    client_msg_id: UUID | None = Field(
        None, description="Makes a resend answer like the first withdrawal instead of 409."
    )


class UploadForm(Schema):
    """Documentation only: the multipart fields of an upload."""

    client_msg_id: UUID
    agency: str | None = None
