"""The provider workstation (АРМ Услугодателя): one deployment hosting many clinics, a queue per clinic."""

from __future__ import annotations

from fastapi import FastAPI

from services.arm.config import ArmSettings
from services.arm.handlers import routes
from services.arm.models import Base
from services.arm.seed import seed
from services.arm.service import ArmService
from shared.envelope import ServiceIdentity
from shared.runtime import ServiceRuntime
from shared.seed import load_clinics
from shared.serve import serve
from shared.topology import arm_address


def create_app(settings: ArmSettings) -> FastAPI:
    clinics = load_clinics(settings.clinics_file)

    async def on_start(runtime: ServiceRuntime) -> None:
        # Each clinic signs its results with its own certificate (issued/clinic-<БИН>.pem).
        signers = {
            c.bin: ServiceIdentity.from_pki(arm_address(c.bin), settings.pki, f"clinic-{c.bin}")
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
        runtime.addresses = ["arm", *(arm_address(c.bin) for c in clinics.clinics)]

    runtime = ServiceRuntime(settings, metadata=Base.metadata, on_start=on_start)
    return runtime.create_app("Emhana АРМ", "Provider workstation: registrations, journals, schedules, attachments.")


if __name__ == "__main__":
    serve(create_app, ArmSettings())
