"""Access rights of the ШЭП: which sender may send which message type to which recipient.

Declarative and the only place these rights live. ``arm.*`` matches every clinic address. Answers travel
back along a pair allowed in the other direction: a refusal for any allowed pair, a ``pong`` for a ``ping``.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from shared.contracts import (
    ATTACHMENT_LOOKUP,
    CLINICS_LIST,
    DOCUMENT_VERIFY,
    ESERVICE_REQUEST,
    ESERVICE_STATUS,
    PERSON_LOOKUP,
    PING,
    PONG,
    REFUSAL,
    SLOT_HOLD,
    SLOTS_QUERY,
)


@dataclass(frozen=True, slots=True)
class Right:
    sender: str
    recipient: str
    types: frozenset[str]


RIGHTS: tuple[Right, ...] = (
    Right("portal", "gbd_fl", frozenset({PERSON_LOOKUP, PING})),
    Right("portal", "signature", frozenset({DOCUMENT_VERIFY, PING})),
    Right("portal", "arm", frozenset({ATTACHMENT_LOOKUP, CLINICS_LIST, PING})),
    Right("portal", "arm.*", frozenset({ESERVICE_REQUEST, SLOTS_QUERY, SLOT_HOLD, PING})),
    Right("arm.*", "gbd_fl", frozenset({PERSON_LOOKUP, PING})),
    Right("arm.*", "signature", frozenset({DOCUMENT_VERIFY, PING})),
    Right("arm.*", "portal", frozenset({ESERVICE_STATUS, PING})),
)


def _pair_allowed(sender: str, recipient: str, type: str | None) -> bool:
    return any(
        fnmatchcase(sender, r.sender) and fnmatchcase(recipient, r.recipient) and (type is None or type in r.types)
        for r in RIGHTS
    )


def is_allowed(sender: str, type: str, recipient: str) -> bool:
    """Whether ``sender`` may send a message of ``type`` to ``recipient``."""
    if type == REFUSAL:
        return _pair_allowed(recipient, sender, None)
    if type == PONG:
        return _pair_allowed(recipient, sender, PING)
    return _pair_allowed(sender, recipient, type)
