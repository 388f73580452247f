"""The e-government portal (ПЭП): the citizen's entry point to the three e-services."""

from __future__ import annotations

from fastapi import FastAPI

from services.portal.config import PortalSettings
from services.portal.handlers import routes
from shared.runtime import ServiceRuntime
from shared.serve import serve


def create_app(settings: PortalSettings) -> FastAPI:
    runtime = ServiceRuntime(settings)
    runtime.routes.update(routes(runtime))
    return runtime.create_app("Emhana portal (ПЭП)", "Citizen accounts, requests, statuses and results.")


if __name__ == "__main__":
    serve(create_app, PortalSettings())
