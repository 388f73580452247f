"""Settings of the e-government portal, ПЭП (prefix ``EMHANA_PORTAL_``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class PortalSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="EMHANA_PORTAL_", env_file=".env", extra="ignore")
    service: ClassVar[str] = "portal"
    default_port: ClassVar[int] = 8101
