"""Settings of the state person registry (prefix ``EMHANA_GBD_FL_``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from shared.platform.settings import ServiceSettings


class GbdFlSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="EMHANA_GBD_FL_", env_file=".env", extra="ignore")
    service: ClassVar[str] = "gbd_fl"
    default_port: ClassVar[int] = 8104
