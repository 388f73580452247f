"""The provider workstation (АРМ Услугодателя): one deployment hosting many clinics, a queue per clinic."""

from __future__ import annotations

from fastapi import FastAPI

from services.arm.config import ArmSettings
from services.arm.handlers import routes
from shared.runtime import ServiceRuntime
from shared.seed import load_clinics
from shared.serve import serve
from shared.topology import arm_address


def create_app(settings: ArmSettings) -> FastAPI:
    async def on_start(runtime: ServiceRuntime) -> None:
        runtime.addresses = [arm_address(c.bin) for c in load_clinics(settings.clinics_file).clinics]

    runtime = ServiceRuntime(settings, on_start=on_start)
    runtime.routes.update(routes(runtime))
    return runtime.create_app("Emhana АРМ", "Provider workstation: registrations, journals, schedules, attachments.")


if __name__ == "__main__":
    serve(create_app, ArmSettings())
