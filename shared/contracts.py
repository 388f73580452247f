"""Public message contracts: message types and payload models shared by all services."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.refusals import Refusal, RefusalError

# Message types (envelope ``type``).
PING = "ping"
PONG = "pong"
PERSON_LOOKUP = "person.lookup"
DOCUMENT_VERIFY = "document.verify"
REFUSAL = "refusal"


def reply_type(request_type: str) -> str:
    return f"{request_type}.reply"


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid")


C = TypeVar("C", bound=Contract)


class RefusalPayload(Contract):
    code: Refusal
    message: str
    detail: str | None = None


class Ping(Contract):
    pass


class Pong(Contract):
    service: str
    address: str
    at: dt.datetime


class PersonLookup(Contract):
    iin: str = Field(min_length=1, max_length=32)


class Address(Contract):
    district: str
    street: str
    house: str
    apartment: str | None = None
    city: str = "Астана"


class Person(Contract):
    iin: str
    surname: str
    name: str
    patronymic: str | None
    birth_date: dt.date
    sex: Literal["M", "F"]
    citizenship: str
    address: Address
    alive: bool
    death_date: dt.date | None = None


class PersonFound(Contract):
    person: Person


class VerifyRequest(Contract):
    jws: str = Field(min_length=1, max_length=256 * 1024)
    expected_iin: str | None = Field(default=None, max_length=12)
    expected_bin: str | None = Field(default=None, max_length=12)
    purpose: Literal["SIGN", "AUTH"] | None = "SIGN"


class Signer(Contract):
    common_name: str
    surname: str | None
    given_name: str | None
    patronymic: str | None
    iin: str | None
    bin: str | None
    organization: str | None
    serial: str
    not_before: dt.datetime
    not_after: dt.datetime
    key_usage: str
    roles: list[str]
    issuer: str


class Verdict(Contract):
    valid: bool
    code: Refusal | None = None
    message: str | None = None
    signer: Signer | None = None
    payload: str | None = None  # the signed content, base64url, when valid


def parse_payload(contract: type[C], payload: dict[str, Any]) -> C:
    """Validate a message payload against its contract; a mismatch is a ``MALFORMED`` refusal."""
    try:
        return contract.model_validate(payload)
    except ValidationError as exc:
        raise RefusalError(Refusal.MALFORMED, f"{contract.__name__}: {exc.error_count()} invalid fields") from None
