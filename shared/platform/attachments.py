"""Documents a citizen or staff member attaches in electronic form (regulation, diagram 1 process 3 and
table 2: "прикрепление необходимых документов в электронном виде").

A file is uploaded first and gets its SHA-256; the form then names it, so the hash is inside the signed
document and the signature covers the file. The type is judged by the content (magic bytes), never by
the name; only PDF, JPEG and PNG are taken, each at most ``MAX_DOCUMENT_BYTES``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from typing import Any

from pydantic import BaseModel
from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.platform.db import UtcDateTime
from shared.rules.errors import RuleBroken, TooLarge, UnsupportedType
from shared.wire.contracts import MAX_DOCUMENT_BYTES, AttachedDocument, DocumentFile
from shared.wire.refusals import Refusal, RefusalError

_MAGIC = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


def sniff(content: bytes) -> str | None:
    """The media type by the file's first bytes, or None when it is none of the accepted ones."""
    return next((media for magic, media in _MAGIC if content.startswith(magic)), None)


def describe(name: str, content: bytes) -> AttachedDocument:
    """Check an uploaded file; 413 when too large, 415 when not a PDF, JPEG or PNG by its content."""
    if len(content) > MAX_DOCUMENT_BYTES:
        raise TooLarge("TOO_LARGE", f"a document may have at most {MAX_DOCUMENT_BYTES // 1024} KiB")
    if not content:
        raise RuleBroken("VALIDATION_ERROR", "the document is empty")
    media_type = sniff(content)
    if media_type is None:
        raise UnsupportedType("UNSUPPORTED_TYPE", "only PDF, JPEG and PNG documents are accepted (by content)")
    return AttachedDocument.model_validate(
        {"name": name, "media_type": media_type, "sha256": hashlib.sha256(content).hexdigest(), "size": len(content)}
    )


def file_of(content: bytes) -> DocumentFile:
    return DocumentFile(sha256=hashlib.sha256(content).hexdigest(), content=base64.b64encode(content).decode())


def check_files(documents: list[AttachedDocument], files: list[DocumentFile]) -> dict[str, bytes]:
    """The files that travel with a signed request must be exactly those its document names: same hashes,
    same sizes and types by content. Returns the contents by hash; ``MALFORMED`` otherwise."""
    contents: dict[str, bytes] = {}
    for file in files:
        try:
            content = base64.b64decode(file.content, validate=True)
        except ValueError:
            raise RefusalError(Refusal.MALFORMED, "an attached file is not base64") from None
        if hashlib.sha256(content).hexdigest() != file.sha256:
            raise RefusalError(Refusal.MALFORMED, "an attached file does not match its hash")
        contents[file.sha256] = content
    for document in documents:
        found = contents.get(document.sha256)
        if found is None or len(found) != document.size or sniff(found) != document.media_type:
            raise RefusalError(Refusal.MALFORMED, "the attached files are not those of the signed document")
    if set(contents) != {d.sha256 for d in documents}:
        raise RefusalError(Refusal.MALFORMED, "files that the signed document does not name were attached")
    return contents


class UploadOut(BaseModel):
    """What an upload answers: its id (to name in the form's ``documents``) and what was checked."""

    id: str
    name: str
    media_type: str
    sha256: str
    size: int

    @classmethod
    def of(cls, row: Any) -> UploadOut:
        return cls(id=row.id, name=row.name, media_type=row.media_type, sha256=row.sha256, size=row.size)


class UploadColumns:
    """Columns of an uploads table: a file waiting to be named in a form (mix into a declarative model)."""

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner_iin: Mapped[str] = mapped_column(String(12), index=True)
    name: Mapped[str] = mapped_column(String(120))
    media_type: Mapped[str] = mapped_column(String(40))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int]
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
