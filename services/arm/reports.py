"""The status messages the АРМ sends a citizen's portal about a request (``eservice.status``), numbered so
that the portal applies them in order whatever order they arrive in."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from services.arm.models import Registration
from shared.messaging.outbox import Outbox
from shared.wire.contracts import ESERVICE_STATUS, ClinicStatus, EServiceStatus, RefusalPayload
from shared.wire.topology import arm_address

if TYPE_CHECKING:  # the decision imports these reports (a cancellation reports on the cancelled booking)
    from services.arm.service import Outcome


def status_reports(
    registration: Registration | None, request_id: str, outcome: Outcome, at: dt.datetime
) -> list[EServiceStatus]:
    """The status messages of a decision, numbered: ``registered`` (1) when registered, then the outcome.

    The numbers let the portal apply them in order whatever order they arrive in; later changes made in
    the journals continue the sequence (:func:`follow_up`).
    """
    reports: list[EServiceStatus] = []
    if registration is not None:
        reports.append(
            EServiceStatus(
                request_id=uuid.UUID(request_id),
                seq=1,
                status=ClinicStatus.REGISTERED,
                at=at,
                registration_number=registration.number,
            )
        )
    decision = EServiceStatus(
        request_id=uuid.UUID(request_id),
        seq=len(reports) + 1,
        status=outcome.status,
        at=at,
        registration_number=outcome.registration_number,
    )
    if outcome.status is ClinicStatus.COMPLETED:
        decision.result = outcome.result
    else:
        assert outcome.refusal is not None
        decision.refusal = RefusalPayload.of(outcome.refusal)
    reports.append(decision)
    if registration is not None:
        registration.status_seq = decision.seq
    return reports


def follow_up(
    registration: Registration, status: ClinicStatus, at: dt.datetime, note: str | None = None
) -> EServiceStatus:
    """The next status message of a registered request (a change staff recorded in a journal)."""
    registration.status_seq += 1
    return EServiceStatus(
        request_id=uuid.UUID(registration.request_id),
        seq=registration.status_seq,
        status=status,
        at=at,
        registration_number=registration.number,
        note=note or None,
    )


async def queue_status(
    outbox: Outbox, session: AsyncSession, clinic_bin: str, status: EServiceStatus, now: dt.datetime
) -> None:
    """Queue a status message to the citizen's portal, sent once this transaction commits."""
    payload = status.model_dump(mode="json")
    await outbox.add(session, "portal", ESERVICE_STATUS, payload, now, sender=arm_address(clinic_bin))
