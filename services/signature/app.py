"""Signature service (НУЦ's role): verdicts on ЭЦП signatures, CRLs, the development CA's upkeep."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from contextlib import suppress

from fastapi import FastAPI

from services.signature.api import router
from services.signature.ca import DevCA
from services.signature.config import SignatureSettings
from services.signature.handlers import routes
from shared.platform.runtime import ServiceRuntime
from shared.platform.serve import serve

log = logging.getLogger(__name__)


async def _keep_crls_fresh(runtime: ServiceRuntime, settings: SignatureSettings) -> None:
    # The development CA republishes at start (in the mesh's time, which may be shifted) and then well
    # before each next update, so that services never fail closed by accident.
    while True:
        with suppress(Exception):
            ca = DevCA(settings.pki, clock=runtime.clock)
            ca.publish_crls(next_update=dt.timedelta(seconds=settings.crl_republish_seconds * 24))
            log.info("CRLs republished")
        await asyncio.sleep(settings.crl_republish_seconds)


def create_app(settings: SignatureSettings) -> FastAPI:
    async def on_start(runtime: ServiceRuntime) -> None:
        if settings.dev_ca:
            runtime.background(_keep_crls_fresh(runtime, settings))

    runtime = ServiceRuntime(settings, on_start=on_start)
    runtime.routes.update(routes(runtime))
    return runtime.create_app(
        "Emhana signature service", "ЭЦП verification against trust anchors and revocation lists.", [router]
    )


if __name__ == "__main__":
    serve(create_app, SignatureSettings())
