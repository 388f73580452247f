"""The five services of the mesh, by name: each one's settings class and app factory. The one module that
knows them all — the migrations' runner (:mod:`services.migrate`), the settings reference and the tests look
a service up here; no shared module reaches into ``services/`` (``tests/unit/test_layers.py``)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from sqlalchemy import MetaData

from services.arm.app import create_app as create_arm
from services.arm.config import ArmSettings
from services.gateway.app import create_app as create_gateway
from services.gateway.config import GatewaySettings
from services.gbd_fl.app import create_app as create_gbd_fl
from services.gbd_fl.config import GbdFlSettings
from services.portal.app import create_app as create_portal
from services.portal.config import PortalSettings
from services.signature.app import create_app as create_signature
from services.signature.config import SignatureSettings
from shared.platform.settings import ServiceSettings


@dataclass(frozen=True, slots=True)
class ServiceEntry:
    """A service's settings (read from its environment, prefix ``EMHANA_<NAME>_``) and its app factory."""

    settings: type[ServiceSettings]
    create_app: Callable[[Any], FastAPI]


SERVICES: dict[str, ServiceEntry] = {
    "portal": ServiceEntry(PortalSettings, create_portal),
    "gateway": ServiceEntry(GatewaySettings, create_gateway),
    "arm": ServiceEntry(ArmSettings, create_arm),
    "gbd_fl": ServiceEntry(GbdFlSettings, create_gbd_fl),
    "signature": ServiceEntry(SignatureSettings, create_signature),
}


def settings_of(service: str) -> ServiceSettings:
    """The service's settings from its environment (``EMHANA_<SERVICE>_DATABASE_URL`` and the rest)."""
    return SERVICES[service].settings()


@functools.cache  # the app adds the inbox (and outbox) to its models' metadata, which is global: once
def metadata_of(service: str) -> MetaData:
    """Every table of a service, as its running app declares them (models, inbox, outbox…)."""
    app = SERVICES[service].create_app(settings_of(service))
    metadata: MetaData = app.state.runtime.metadata
    return metadata
