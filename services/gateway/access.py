"""Access rights of the ШЭП: which sender may send which message type to which recipient.

They come from a configuration file (``EMHANA_GATEWAY_ACCESS_RIGHTS_FILE``, by default
``deploy/seed/access-rights.json``), so that connecting a partner system is a configuration change.
``arm.*`` matches every clinic address. Answers travel back along a pair allowed in the other direction:
a refusal for any allowed pair, a ``pong`` for a ``ping``.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.wire.contracts import MESSAGE_TYPES, PING, PONG, REFUSAL

DEFAULT_RIGHTS_FILE = Path(__file__).resolve().parents[2] / "deploy" / "seed" / "access-rights.json"


class Right(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sender: str = Field(min_length=1, max_length=100)
    recipient: str = Field(min_length=1, max_length=100)
    types: frozenset[str]

    @field_validator("types")
    @classmethod
    def _known_types(cls, value: frozenset[str]) -> frozenset[str]:
        unknown = value - MESSAGE_TYPES
        if unknown:  # a typo would silently deny (or a new type would have no contract)
            raise ValueError(f"unknown message types: {', '.join(sorted(unknown))}")
        return value


class RightsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str | None = None
    rights: list[Right]


class AccessRights:
    """The rights table the gateway enforces."""

    def __init__(self, rights: list[Right]) -> None:
        self.rights = tuple(rights)

    @classmethod
    def load(cls, path: Path = DEFAULT_RIGHTS_FILE) -> AccessRights:
        return cls(RightsFile.model_validate_json(Path(path).read_bytes()).rights)

    def _pair_allowed(self, sender: str, recipient: str, type: str | None) -> bool:
        return any(
            fnmatchcase(sender, r.sender) and fnmatchcase(recipient, r.recipient) and (type is None or type in r.types)
            for r in self.rights
        )

    def is_allowed(self, sender: str, type: str, recipient: str) -> bool:
        """Whether ``sender`` may send a message of ``type`` to ``recipient``."""
        if type == REFUSAL:
            return self._pair_allowed(recipient, sender, None)
        if type == PONG:
            return self._pair_allowed(recipient, sender, PING)
        return self._pair_allowed(sender, recipient, type)
