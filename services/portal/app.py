"""The e-government portal (ПЭП): the citizen's entry point to the three e-services."""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI

from services.portal import openapi, pages
from services.portal.api import router
from services.portal.config import PortalSettings
from services.portal.handlers import routes
from services.portal.models import Base
from services.portal.service import PortalService
from shared.platform.metrics import LONG_POLLS
from shared.platform.runtime import ServiceRuntime
from shared.platform.serve import serve
from shared.wire.topology import portal_changes_exchange

log = logging.getLogger(__name__)


def create_app(settings: PortalSettings) -> FastAPI:
    app: FastAPI

    async def on_start(runtime: ServiceRuntime) -> None:
        service = PortalService(settings, runtime.db, runtime.clock, runtime.client, runtime.store)
        app.state.portal = service
        runtime.routes.update(routes(runtime, service))
        # A status is applied by whichever replica consumed it; the long-polls may wait on any of them.
        changes, origin = portal_changes_exchange(settings.namespace), service.changes.origin
        await runtime.bus.subscribe(changes, service.changes.from_peer)
        service.changes.connect(lambda request_id: runtime.bus.broadcast(changes, request_id.encode(), app_id=origin))
        LONG_POLLS.set_function(lambda: service.changes.waiting)
        runtime.background(_resend_periodically(service, settings.resend_after_seconds))
        runtime.background(_refresh_clinic_hours(service, settings.clinic_hours_refresh_seconds))

    runtime = ServiceRuntime(settings, metadata=Base.metadata, on_start=on_start)
    app = runtime.create_app("Emhana portal (ПЭП)", "Citizen accounts, requests, statuses and results.", [router])
    openapi.install(app)
    pages.create_pages(settings.secure_cookies, settings.clinics_file).install(app, pages.router)
    return app


async def _resend_periodically(service: PortalService, every: float) -> None:
    rounds = 0
    while True:
        await asyncio.sleep(every)
        rounds += 1
        try:
            await service.resend_unsent()
            await service.flag_overdue()
            if rounds % max(1, int(3600 / every)) == 0:
                log.info("expired drafts purged", extra={"removed": await service.purge_drafts()})
        except Exception:
            log.exception("periodic upkeep failed")


async def _refresh_clinic_hours(service: PortalService, every: float) -> None:
    """The clinics' hours from the АРМ: at start (as soon as it answers), then every ``every`` seconds."""
    delay = 1.0
    while True:
        try:
            await service.refresh_clinic_hours()
            delay = every
        except Exception:  # the АРМ not up yet, or a moment's fault: the hours known so far stand
            log.info("clinic hours not refreshed yet; trying again", exc_info=True)
            delay = min(max(delay * 2, 1.0), every)
        await asyncio.sleep(delay)


if __name__ == "__main__":
    serve(create_app, PortalSettings())
