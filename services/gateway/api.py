"""HTTP API of the gateway: the provider directory (public) and the message journal (operators)."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlalchemy import or_, select

from services.gateway.models import JournalRow, Provider
from shared.platform.http import ApiError, error_responses
from shared.wire.asyncapi import asyncapi

router = APIRouter(prefix="/api/v1", tags=["gateway"], responses=error_responses(401))
contract = APIRouter(tags=["contract"])
ASYNCAPI = asyncapi()  # made once: the declarations do not change while the gateway runs
_bearer = HTTPBearer(auto_error=False)


class ProviderOut(BaseModel):
    bin: str
    name: str
    address: str


class JournalEntry(BaseModel):
    seq: int
    message_id: str
    correlation_id: str | None
    type: str
    sender: str
    recipient: str
    channel: str
    received_at: dt.datetime
    body_sha256: str
    outcome: str
    request_id: str | None = None
    registration_number: str | None = None


class RightOut(BaseModel):
    sender: str
    recipient: str
    types: list[str]


async def require_operator(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """Journal access is for operators holding the configured bearer token."""
    expected = request.app.state.runtime.settings.operator_token
    if credentials is None or not expected or not secrets.compare_digest(credentials.credentials, expected):
        raise ApiError(401, "UNAUTHORIZED", "operator token required")


@contract.get("/asyncapi.json")
async def asyncapi_document() -> dict[str, Any]:
    """The bus's contract for partners and their generators: the AsyncAPI 3 document of every message
    (the same as docs/contracts/asyncapi.json in the repository)."""
    return ASYNCAPI


@router.get("/providers", response_model=list[ProviderOut])
async def providers(request: Request) -> list[ProviderOut]:
    """Provider directory: clinics reachable through the gateway and their addresses."""
    async with request.app.state.runtime.db.sessions() as session:
        rows = await session.scalars(select(Provider).order_by(Provider.bin))
        return [ProviderOut(bin=r.bin, name=r.name, address=r.address) for r in rows]


@router.get("/access-rights", response_model=list[RightOut])
async def access_rights(request: Request) -> list[RightOut]:
    """The access-rights table the gateway enforces (from its configuration file)."""
    rights = request.app.state.rights.rights
    return [RightOut(sender=r.sender, recipient=r.recipient, types=sorted(r.types)) for r in rights]


@router.get("/journal", response_model=list[JournalEntry], dependencies=[Depends(require_operator)])
async def journal(
    request: Request,
    correlation_id: Annotated[
        str | None,
        Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$", description="message or correlation id"),
    ] = None,
    request_id: Annotated[
        str | None, Query(min_length=1, max_length=36, pattern=r"^[A-Za-z0-9-]+$", description="citizen's request id")
    ] = None,
    registration_number: Annotated[
        str | None,
        Query(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9-]+$", description="the clinic's registration number"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[JournalEntry]:
    """The journaled messages, in arrival order, that are or belong to a message id (``correlation_id``:
    also the correlation id the portal shows for each request), that carry a citizen's ``request_id``, or
    a ``registration_number`` — exactly one of the three."""
    given = [v for v in (correlation_id, request_id, registration_number) if v is not None]
    if len(given) != 1:
        raise ApiError(422, "VALIDATION_ERROR", "give exactly one of correlation_id, request_id, registration_number")
    if correlation_id is not None:
        condition = or_(JournalRow.correlation_id == correlation_id, JournalRow.message_id == correlation_id)
    elif request_id is not None:
        condition = JournalRow.request_id == request_id
    else:
        condition = JournalRow.registration_number == registration_number
    async with request.app.state.runtime.db.sessions() as session:
        rows = await session.scalars(select(JournalRow).where(condition).order_by(JournalRow.seq).limit(limit))
        return [JournalEntry.model_validate(r, from_attributes=True) for r in rows]
