"""The provider workstation (АРМ Услугодателя): one deployment hosting many clinics, a queue per clinic."""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI

from services.arm import pages
from services.arm.api import public, router
from services.arm.config import ArmSettings
from services.arm.handlers import routes
from services.arm.journals import flag_overdue
from services.arm.models import Base
from services.arm.seed import seed, seed_staff
from services.arm.service import ArmService
from services.arm.slots import Slots
from services.arm.staff import StaffService
from shared.messaging.outbox import Outbox
from shared.platform.metrics import OVERDUE
from shared.platform.runtime import ServiceRuntime
from shared.platform.serve import serve
from shared.rules.clinics import load_clinics
from shared.wire.envelope import ServiceIdentity
from shared.wire.topology import arm_address

log = logging.getLogger(__name__)


def create_app(settings: ArmSettings) -> FastAPI:
    clinics = load_clinics(settings.clinics_file)
    outbox = Outbox(Base.metadata)
    app: FastAPI

    async def on_start(runtime: ServiceRuntime) -> None:
        # Each clinic signs its results with its own certificate (clinic-<БИН>.pem in the АРМ's keys folder).
        signers = {
            c.bin: ServiceIdentity.from_keys(arm_address(c.bin), settings.keys, f"clinic-{c.bin}")
            for c in clinics.clinics
        }
        service = ArmService(settings, runtime.clock, signers)
        runtime.routes.update(routes(runtime, service))
        await seed(
            runtime.db,
            clinics,
            population_size=settings.population_size,
            population_seed=settings.population_seed,
            attach=settings.seed_attachments,
            now=runtime.clock.now(),
        )
        if settings.seed_demo_staff:
            await seed_staff(runtime.db, clinics, settings.demo_staff_password)
        app.state.staff = StaffService(settings, runtime.db, runtime.clock, runtime.client, service, outbox)
        runtime.background(outbox.run(runtime.db, runtime.client, runtime.clock))
        runtime.background(watch_deadlines(runtime, settings.watch_seconds))
        runtime.addresses = ["arm", *(arm_address(c.bin) for c in clinics.clinics)]

    runtime = ServiceRuntime(settings, metadata=Base.metadata, on_start=on_start)
    app = runtime.create_app(
        "Emhana АРМ", "Provider workstation: staff, registrations, journals, schedules, attachments.", [router, public]
    )
    pages.create_pages(settings.secure_cookies).install(app, pages.router)
    return app


async def watch_deadlines(runtime: ServiceRuntime, every: float) -> None:
    """The deadline watcher: flags what passed its deadline, and logs the count (ИИН never logged); it
    also forgets expired slot holds."""
    while True:
        await asyncio.sleep(every)
        try:
            async with runtime.db.transaction() as session:
                flagged = await flag_overdue(session, runtime.clock.now())
                await Slots.purge_expired_holds(session, runtime.clock.now())
            for kind, count in flagged.items():
                OVERDUE.labels("arm", kind).inc(count)
            if any(flagged.values()):
                log.warning("overdue", extra=flagged)
        except Exception:
            log.exception("deadline watcher failed")


if __name__ == "__main__":
    serve(create_app, ArmSettings())
