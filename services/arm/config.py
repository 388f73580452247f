"""Settings of the provider workstation, АРМ (prefix ``EMHANA_ARM_``)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from shared.seed import DEFAULT_CLINICS_FILE
from shared.settings import ServiceSettings


class ArmSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="EMHANA_ARM_", env_file=".env", extra="ignore")
    service: ClassVar[str] = "arm"
    default_port: ClassVar[int] = 8103

    clinics_file: Path = DEFAULT_CLINICS_FILE
    """Clinics this АРМ deployment hosts; each gets the queue ``arm.<БИН>``."""
