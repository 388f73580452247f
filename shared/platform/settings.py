"""Settings: pydantic-settings with one prefix per service (``EMHANA_<SERVICE>_…``).

Facts every service shares can also be given once, unprefixed: ``AMQP_URL``, ``EMHANA_NAMESPACE``,
``EMHANA_PKI_DIR``, ``EMHANA_KEYS_DIR``, ``EMHANA_VAR_DIR``, ``EMHANA_CLOCK_OFFSET_SECONDS``, ``EMHANA_LOG_LEVEL``,
``EMHANA_CRL_REFRESH_SECONDS``, ``EMHANA_DELIVERY_LIMIT``, ``EMHANA_EXTRA_HOLIDAYS``,
``EMHANA_EXTRA_WORKING_DAYS``, ``EMHANA_CLINICS_FILE``. A prefixed value wins.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.demo import DEFAULT_POPULATION_SEED, DEFAULT_POPULATION_SIZE
from shared.rules.calendar import WorkCalendar
from shared.rules.clinics import DEFAULT_CLINICS_FILE
from shared.wire.topology import DEFAULT_NAMESPACE, LOCAL_BROKER_URL, DeadLetterLimits

#: A duration that must be positive: a period of a background loop or a wait (zero would spin the loop, or
#: divide by zero, instead of refusing the setting at start-up).
Seconds = Annotated[float, Field(gt=0)]

_SHARED_ENV = {
    "amqp_url": "AMQP_URL",
    "namespace": "EMHANA_NAMESPACE",
    "pki_dir": "EMHANA_PKI_DIR",
    "keys_dir": "EMHANA_KEYS_DIR",
    "var_dir": "EMHANA_VAR_DIR",
    "clock_offset_seconds": "EMHANA_CLOCK_OFFSET_SECONDS",
    "log_level": "EMHANA_LOG_LEVEL",
    "crl_refresh_seconds": "EMHANA_CRL_REFRESH_SECONDS",
    "delivery_limit": "EMHANA_DELIVERY_LIMIT",
    "dead_letter_max_length": "EMHANA_DEAD_LETTER_MAX_LENGTH",
    "dead_letter_max_age_days": "EMHANA_DEAD_LETTER_MAX_AGE_DAYS",
    "population_size": "EMHANA_POPULATION_SIZE",
    "population_seed": "EMHANA_POPULATION_SEED",
    "extra_holidays": "EMHANA_EXTRA_HOLIDAYS",
    "extra_working_days": "EMHANA_EXTRA_WORKING_DAYS",
    "clinics_file": "EMHANA_CLINICS_FILE",
    "trusted_proxies": "EMHANA_TRUSTED_PROXIES",
    "portal_public_url": "EMHANA_PORTAL_PUBLIC_URL",
}
_JSON_VALUES = {"extra_holidays", "extra_working_days", "trusted_proxies"}  # JSON lists


class ServiceSettings(BaseSettings):
    """What every service needs; subclasses set ``service`` and their env prefix."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", use_attribute_docstrings=True)
    service: ClassVar[str] = "service"
    default_port: ClassVar[int] = 8100

    amqp_url: str = LOCAL_BROKER_URL
    """The RabbitMQ every service connects to."""
    namespace: str = DEFAULT_NAMESPACE
    """Prefix of every queue name: several meshes can share one broker."""
    var_dir: Path = Path("var")
    """Where SQLite files (and, by default, the development PKI) live."""
    pki_dir: Path | None = None
    """Trust anchors (``trust.pem``) and revocation lists (``crl/``): public material only."""
    keys_dir: Path | None = None
    """This service's own certificate and private key; ``<pki>/issued`` unless set (compose gives each
    service a volume holding its own key and nothing else)."""
    database_url: str | None = None
    """SQLAlchemy URL of this service's database: a SQLite file under the var folder unless set
    (``postgresql+asyncpg://…`` for PostgreSQL)."""
    http_host: str = "127.0.0.1"
    """Address the HTTP API listens on (``0.0.0.0`` in containers)."""
    http_port: int | None = None
    """Port of the HTTP API (portal 8101, gateway 8102, АРМ 8103, ГБД ФЛ 8104, signature 8105)."""
    clock_offset_seconds: float = 0.0
    """Shift of this service's clock (the launcher's ``--clock-start`` sets it for every service)."""
    log_level: str = "INFO"
    """Level of the JSON log lines on standard error."""
    prefetch: int = 64
    """Messages in hand at once per consumer (bounded work in flight on the bus)."""
    delivery_limit: int = 5
    """Deliveries of a failing message before it goes to its dead-letter queue (a synchronous request,
    whose caller has stopped waiting by then, is dropped instead)."""
    dead_letter_max_length: int = 100_000
    """Messages a dead-letter queue keeps at most (beyond it the oldest are dropped)."""
    dead_letter_max_age_days: float = 30.0
    """Days a dead letter is kept for an operator to look at or re-drive; older ones are dropped."""
    rpc_timeout_seconds: Seconds = 10.0
    """How long a synchronous request waits for its answer (the gateway answers TIMEOUT first)."""
    message_ttl_seconds: int = 300
    """Lifetime of the envelopes this service sends (``expires_at``)."""
    crl_refresh_seconds: float = 2.0
    """How often the trust anchors and CRL files are checked for changes."""
    inbox_retention_days: float = 7.0
    """Processed message ids are kept this long (longer than any envelope can live: replays stay refused)."""
    extra_holidays: list[dt.date] = Field(default_factory=list)
    """Days off the calendar package does not know yet (a transfer announced this year), e.g. ["2026-12-31"]."""
    extra_working_days: list[dt.date] = Field(default_factory=list)
    """Weekend days worked in exchange for a day off, when the calendar package does not know them yet."""
    clinics_file: Path = DEFAULT_CLINICS_FILE
    """The clinics (hours, doctors, участки): one file for every service."""
    portal_public_url: str = "http://127.0.0.1:8101"
    """The portal's address as citizens reach it: the QR code on a result or a slip opens its public
    verification page (``/verify/<number>``). One setting for every service."""
    secure_cookies: bool = False
    """Web page session cookies are sent over HTTPS only (set it when the pages are served behind TLS)."""
    max_body_bytes: int = 64 * 1024
    """HTTP request bodies above this get 413 before they are read (upload routes: 2 MiB and a little)."""
    max_message_bytes: int = 12 * 1024 * 1024
    """Bus messages above this are refused before they are parsed (a request with 3 documents fits)."""
    population_size: int = DEFAULT_POPULATION_SIZE
    """The synthetic population: ГБД ФЛ generates it on first start when its registry is empty (0: none),
    the АРМ seeds its attachment register from the same deterministic people."""
    population_seed: int = DEFAULT_POPULATION_SEED
    """Seed of the synthetic population (the same seed gives the same people everywhere)."""
    max_in_flight: int = 64
    """Changing HTTP requests (POST…) handled at once; one more gets 503 with Retry-After at once (shed,
    not queued: a crowd at 8:00 gets fast answers, accepted or "try again", never a minute of waiting)."""
    trusted_proxies: list[str] = Field(default_factory=list)
    """Addresses of reverse proxies whose X-Forwarded-For is believed; none by default, so a client cannot
    pick the address that login throttling and the logs see."""

    @model_validator(mode="before")
    @classmethod
    def _shared_values(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for field, env in _SHARED_ENV.items():
                if data.get(field) is None and os.environ.get(env):
                    data[field] = json.loads(os.environ[env]) if field in _JSON_VALUES else os.environ[env]
        return data

    @property
    def pki(self) -> Path:
        return self.pki_dir or self.var_dir / "pki"

    @property
    def keys(self) -> Path:
        return self.keys_dir or self.pki / "issued"

    @property
    def port(self) -> int:
        return self.http_port or self.default_port

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.var_dir / (self.service + '.db')}"

    def dead_letter_limits(self) -> DeadLetterLimits:
        return DeadLetterLimits(self.dead_letter_max_length, self.dead_letter_max_age_days * 86400)

    def work_calendar(self) -> WorkCalendar:
        """The Kazakhstan calendar with this deployment's extra days."""
        return WorkCalendar(self.extra_holidays, self.extra_working_days)

    @property
    def certificate_name(self) -> str:
        """Base name of this service's files in its keys folder (``<name>.pem``, ``<name>.key.pem``)."""
        return f"service-{self.service}"
