"""The ШЭП's rules: every message between СФЕ passes here (regulation, diagrams 1 and 2).

For each message, in this order: the sender's signature and identity → a known recipient → the access
right → the time window → not a replay. What passes is stamped and delivered by
:mod:`services.gateway.handlers`; every message, delivered or refused, is journaled
(:mod:`services.gateway.journal`).
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import delete, select

from services.gateway.access import AccessRights
from services.gateway.journal import Journal
from services.gateway.models import AcceptedMessage, Provider
from shared.messaging.dispatch import GATEWAY_ANSWER_MARGIN_SECONDS
from shared.platform.db import rows_affected, upsert
from shared.platform.runtime import ServiceRuntime
from shared.rules.clinics import ClinicsFile
from shared.wire.contracts import MESSAGES
from shared.wire.envelope import MAX_TTL, Envelope, check_window, open_envelope
from shared.wire.refusals import Refusal, RefusalError
from shared.wire.topology import GATEWAY, SERVICE_ADDRESSES, arm_address


def in_hand(sender: str, message_id: uuid.UUID) -> str:
    """How a message being delivered is remembered in :attr:`Gateway.in_hand`: its id within its sender's."""
    return f"{sender} {message_id}"


class Gateway:
    """The routing table, the access rights and the admission of each message."""

    def __init__(self, runtime: ServiceRuntime, rights: AccessRights) -> None:
        self.runtime = runtime
        self.rights = rights
        self.in_hand: set[str] = set()  # messages this process is delivering right now (see in_hand())
        self.sync_patience = dt.timedelta(seconds=runtime.settings.rpc_timeout_seconds + GATEWAY_ANSWER_MARGIN_SECONDS)
        self.directory: dict[str, str] = {}  # address → БИН (clinics) or "" (services)
        self.journal = Journal(runtime.db, self.label)

    @property
    def addresses(self) -> list[str]:
        return sorted(self.directory)

    async def load_directory(self, clinics: ClinicsFile) -> None:
        """Upsert providers from the seed and build the routing table."""
        async with self.runtime.db.transaction() as session:
            for clinic in clinics.clinics:
                # Decided by the database: replicas starting at once must not collide on a new clinic's key.
                row = {"bin": clinic.bin, "name": clinic.name, "address": arm_address(clinic.bin)}
                # mypy ignores the next line: a mapped class's __table__ is typed FromClause; it is a Table
                await upsert(session, Provider.__table__, row)  # type: ignore[arg-type]
        async with self.runtime.db.sessions() as session:
            providers = list(await session.scalars(select(Provider)))
        self.directory = {address: "" for address in SERVICE_ADDRESSES if address != GATEWAY}
        self.directory.update({p.address: p.bin for p in providers})

    def verify(self, raw: bytes) -> Envelope:
        """The sender's signature and certificate (the first check: until it passes, the sender named in
        the envelope is not known to be the sender, and nothing is delivered in its name)."""
        return open_envelope(raw, self.runtime.store, self.runtime.clock, check_expiry=False).envelope

    async def admit(self, envelope: Envelope, received_at: dt.datetime, *, sync: bool, redelivered: bool) -> None:
        """What a verified message must pass before it is delivered; a :class:`RefusalError` names the
        first check it failed: route, access right, the way its type travels, time window, the caller
        still waiting, not a replay."""
        if envelope.recipient not in self.directory:
            raise RefusalError(Refusal.ROUTE_UNKNOWN, f"no route to {envelope.recipient}")
        if not self.rights.is_allowed(envelope.sender, envelope.type, envelope.recipient):
            raise RefusalError(Refusal.ACCESS_DENIED, f"{envelope.type} to {envelope.recipient} not allowed")
        check_mode(envelope.type, sync)
        check_window(envelope, self.runtime.clock)
        if sync and received_at - envelope.issued_at > self.sync_patience:
            raise RefusalError(Refusal.EXPIRED, "the caller has stopped waiting for this request")
        if not await self.accept(envelope.sender, envelope.id, received_at, redelivered):
            raise RefusalError(Refusal.REPLAYED)

    async def accept(self, sender: str, message_id: uuid.UUID, now: dt.datetime, redelivered: bool) -> bool:
        """Record the sender's id as accepted; False when this message must not be delivered (again). Ids are
        the senders' own: another sender's use of an id is another message.

        The gateway's own records decide: a message whose delivery has an outcome in the journal
        is never delivered again, whatever the broker says, and a copy arriving while the first is still
        in hand is refused at once. Only a redelivery of a message whose handling never finished (the
        gateway died between accepting and delivering it) is delivered — receivers are idempotent."""
        if await self.journal.accept(sender, message_id, now):
            return True
        if not redelivered or in_hand(sender, message_id) in self.in_hand:
            return False
        return not await self.journal.finished(sender, message_id)

    def check_reply(self, raw: bytes, request: Envelope) -> Envelope:
        """A recipient's answer to a sync request: signed by that recipient, for that request's sender."""
        answer = open_envelope(raw, self.runtime.store, self.runtime.clock).envelope
        if (
            answer.sender != request.recipient
            or answer.recipient != request.sender
            or answer.correlation_id != request.id
        ):
            raise RefusalError(Refusal.SIGNATURE_INVALID, "reply does not belong to the request")
        return answer

    def label(self, address: str) -> str:
        """An address as a metric label: known addresses as they are, anything else as ``other``."""
        return address if address in self.directory or address in ("?", "gateway") else "other"

    async def purge_accepted(self) -> int:
        """Forget accepted ids older than any envelope can live (they can no longer be replayed)."""
        cutoff = self.runtime.clock.now() - MAX_TTL - dt.timedelta(hours=1)
        async with self.runtime.db.transaction() as session:
            result = await session.execute(delete(AcceptedMessage).where(AcceptedMessage.accepted_at < cutoff))
        return rows_affected(result)


def check_mode(type_: str, sync: bool) -> None:
    """A message travels as its type is declared (shared.wire.contracts.MESSAGES): a type that is only ever
    answered (``person.lookup``…) is refused when sent without ``reply_to`` — else it would be delivered and
    its answer go nowhere — and a type that is never answered is refused when sent awaiting one."""
    spec = MESSAGES.get(type_)
    if spec is None or spec.mode == "both" or (spec.mode == "sync") == sync:
        return
    how = "synchronously, with reply_to" if spec.mode == "sync" else "asynchronously, without reply_to"
    raise RefusalError(Refusal.MALFORMED, f"{type_} is sent {how}")
