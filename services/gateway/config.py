"""Settings of the gateway (prefix ``EMHANA_GATEWAY_``)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from services.gateway.access import DEFAULT_RIGHTS_FILE
from shared.platform.settings import Seconds, ServiceSettings
from shared.rules.clinics import DEFAULT_CLINICS_FILE


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="EMHANA_GATEWAY_", env_file=".env", extra="ignore")
    service: ClassVar[str] = "gateway"
    default_port: ClassVar[int] = 8102

    providers_file: Path = DEFAULT_CLINICS_FILE
    """Provider directory source: each clinic's БИН becomes the address ``arm.<БИН>``."""
    access_rights_file: Path = DEFAULT_RIGHTS_FILE
    """Who may send which message type to whom (JSON); a new partner system is a new entry."""
    operator_token: str | None = None
    """Bearer token for the journal API; without one the journal API refuses everyone."""
    prefetch: int = 256
    """Messages in hand at once: more than a service's, since each synchronous exchange waits on a reply."""
    dead_letter_watch_seconds: Seconds = 30.0
    """How often the dead-letter queues' depth and oldest age are measured for the metrics."""
