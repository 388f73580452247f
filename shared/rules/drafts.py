"""The rule of signing a prepared request, the same on both channels (the citizen's portal, diagram 1
process 5; the clinic's workstation, diagram 2 process 5): what is signed must be exactly the document that
was prepared and shown, signed once, before it expires."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from shared.rules.errors import Expired
from shared.wire.documents import attach_content, signed_content
from shared.wire.refusals import Refusal, RefusalError


class PreparedDocument(Protocol):
    """A prepared request as both channels keep it (the portal's ``Draft``, the АРМ's ``StaffDraft``)."""

    @property
    def document(self) -> str: ...
    @property
    def used_at(self) -> dt.datetime | None: ...
    @property
    def expires_at(self) -> dt.datetime: ...


def signed_draft(draft: PreparedDocument, signature: str, now: dt.datetime) -> str:
    """The signature (a JWS, or a CMS in base64) over ``draft``'s document, with the document inside it.

    ``DUPLICATE_REQUEST`` when the draft was signed already, :class:`Expired` (``DRAFT_EXPIRED``) when its
    time has passed, ``SIGNATURE_INVALID`` when the signed content is anything but the prepared document.
    Whose key signed it is the signature service's check (condition 2), after this one."""
    if draft.used_at is not None:
        raise RefusalError(Refusal.DUPLICATE_REQUEST, "this prepared request was already signed")
    if draft.expires_at <= now:
        raise Expired("DRAFT_EXPIRED", "the prepared request expired; prepare it again")
    # A detached CMS (NCALayer's usual form) travels with the document inside; the signature is unchanged.
    token = attach_content(signature, draft.document.encode())
    if signed_content(token) != draft.document.encode():
        raise RefusalError(Refusal.SIGNATURE_INVALID, "the signed content is not the prepared document")
    return token
