"""ГБД ФЛ — the state person registry. Answers lookups only through the gateway; no public HTTP lookup."""

from __future__ import annotations

from fastapi import FastAPI

from services.gbd_fl.config import GbdFlSettings
from services.gbd_fl.handlers import routes
from services.gbd_fl.models import Base
from services.gbd_fl.service import seed
from shared.platform.runtime import ServiceRuntime
from shared.platform.serve import serve


def create_app(settings: GbdFlSettings) -> FastAPI:
    async def on_start(runtime: ServiceRuntime) -> None:
        await seed(runtime.db, settings.population_size, settings.population_seed)

    runtime = ServiceRuntime(settings, metadata=Base.metadata, on_start=on_start)
    runtime.routes.update(routes(runtime))
    return runtime.create_app(
        "Emhana ГБД ФЛ", "State person registry: persons by ИИН, answered to requests routed by the gateway."
    )


if __name__ == "__main__":
    serve(create_app, GbdFlSettings())
