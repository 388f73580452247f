"""The gateway (ШЭП): routes every message between services, enforces access rights, keeps the journal."""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI

from services.gateway import dead_letters
from services.gateway.access import AccessRights
from services.gateway.api import contract, router
from services.gateway.config import GatewaySettings
from services.gateway.handlers import GatewayHandler
from services.gateway.models import Base
from services.gateway.service import Gateway
from shared.platform.runtime import ServiceRuntime
from shared.platform.serve import serve
from shared.rules.clinics import load_clinics
from shared.wire.topology import queue_name

log = logging.getLogger(__name__)


def create_app(settings: GatewaySettings) -> FastAPI:
    rights = AccessRights.load(settings.access_rights_file)  # a bad file stops the start, with the reason

    async def on_start(runtime: ServiceRuntime) -> None:
        gateway = Gateway(runtime, rights)
        await gateway.load_directory(load_clinics(settings.providers_file))
        # Declare every recipient's queue so that async messages wait for a recipient that is down.
        await runtime.declare(gateway.addresses)
        await runtime.declare(["gateway"])
        await runtime.bus.consume(queue_name(settings.namespace, "gateway"), GatewayHandler(gateway).handle)
        runtime.background(_purge_periodically(gateway))
        assert runtime.bus.connection is not None
        looking = await runtime.bus.connection.channel()  # its own channel: a failed look closes only it
        addresses = [*gateway.addresses, "gateway"]
        limits = settings.dead_letter_limits()
        every = settings.dead_letter_watch_seconds
        runtime.background(dead_letters.watch(looking, settings.namespace, addresses, limits, every))
        runtime.addresses = []  # the gateway consumes its own queue above, not through a dispatcher

    runtime = ServiceRuntime(settings, metadata=Base.metadata, on_start=on_start)
    app = runtime.create_app("Emhana gateway (ШЭП)", "Routes signed messages between services.", [router, contract])
    app.state.rights = rights
    return app


async def _purge_periodically(gateway: Gateway) -> None:
    while True:
        await asyncio.sleep(3600)
        try:
            removed = await gateway.purge_accepted()
            log.info("accepted ids purged", extra={"removed": removed})
        except Exception:
            log.exception("purge failed")


if __name__ == "__main__":
    serve(create_app, GatewaySettings())
