"""Settings of the signature service (prefix ``EMHANA_SIGNATURE_``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from shared.platform.settings import Seconds, ServiceSettings


class SignatureSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="EMHANA_SIGNATURE_", env_file=".env", extra="ignore")
    service: ClassVar[str] = "signature"
    default_port: ClassVar[int] = 8105

    dev_ca: bool = True
    """Run the development CA: keep its CRLs fresh by republishing them periodically."""
    crl_republish_seconds: Seconds = 3600.0
    """How often the development CA republishes its CRLs (each valid 24 periods ahead)."""
