"""Bus handlers of the portal: status reports from clinics and refusals from the gateway."""

from __future__ import annotations

from typing import Any

from services.portal.service import PortalService
from shared.messaging.dispatch import MessageContext, Route, basic_routes
from shared.platform.runtime import ServiceRuntime
from shared.wire.contracts import ESERVICE_STATUS, REFUSAL, EServiceStatus, RefusalPayload


def routes(_runtime: ServiceRuntime, service: PortalService) -> dict[str, Route[Any]]:
    async def status(context: MessageContext, report: EServiceStatus) -> None:
        assert context.session is not None
        await service.reports.apply_status(context.session, context.envelope.sender, report)

    async def refused(context: MessageContext, refusal: RefusalPayload) -> None:
        assert context.session is not None
        await service.reports.apply_gateway_refusal(
            context.session, str(context.envelope.correlation_id), refusal.code, refusal.detail or refusal.message
        )

    return {
        **basic_routes("portal"),
        ESERVICE_STATUS: Route(status, transactional=True),
        REFUSAL: Route(refused, transactional=True),
    }
