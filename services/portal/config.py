"""Settings of the e-government portal, ПЭП (prefix ``EMHANA_PORTAL_``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from shared.platform.settings import Seconds, ServiceSettings
from shared.wire.clock import ASTANA


class PortalSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="EMHANA_PORTAL_", env_file=".env", extra="ignore")
    service: ClassVar[str] = "portal"
    default_port: ClassVar[int] = 8101

    token_ttl_seconds: int = 1800
    """Access tokens expire after this long (and at logout)."""
    draft_ttl_seconds: int = 600
    """A prepared document must be signed within this time."""
    document_max_age_seconds: int = 600
    """One-step submission: how old the signed document's ``time`` may be."""
    login_attempts_per_pair: int = 5
    """Password guesses for one ИИН from one client per window (each counted before it is checked)."""
    login_attempts_per_client: int = 20
    """Guesses from one client for any ИИН per window."""
    login_attempts_per_iin: int = 50
    """Guesses for one ИИН from all clients per window; not applied to a client that logged in to it before."""
    login_window_seconds: int = 900
    """Attempts are counted per window; a lock lifts by itself when its window ends."""
    challenge_ttl_seconds: int = 300
    """Registration: how long the challenge a person signs with their key to prove their ИИН stays valid."""
    registration_attempts_per_client: int = 30
    """Registration challenges and unproven registrations by ЭЦП from one client per login window (a proven
    registration forgives its own challenge and attempt)."""
    password_min_length: int = 8
    """Shortest password accepted at registration."""
    password_max_length: int = 128
    """Longest password accepted (Argon2 hashes anything, but a bound keeps hashing cheap)."""
    admission_target_seconds: float = 0.5
    """The latency the portal keeps its admitted work per clinic within (a step such as preparing or
    checking a signature; a request's wait for registration): the limit on work in flight follows it, and
    new work beyond the limit gets 503 + Retry-After (overload is shed, not queued: services/portal/admission.py)."""
    max_clinic_wait_seconds: float = 5.0
    """New submissions to a clinic get 503 + Retry-After while one of its requests has waited longer than
    this for registration (its АРМ is down or its queue stuck)."""
    long_poll_reread_seconds: Seconds = 10.0
    """A long-poll ("обновить статус" with ``wait``) is woken by the change itself, on whichever replica it
    was applied; it also re-reads the request this often, for a change whose notice was lost."""
    resend_after_seconds: Seconds = 5.0
    """A submitted request whose sending was not confirmed is sent again after this long."""
    clinic_hours_refresh_seconds: Seconds = 300.0
    """How often the portal takes the clinics' working hours from the АРМ (its deadlines count in them)."""
    timezone: str = ASTANA.key
    """The time zone of deadlines and working hours (Astana, UTC+5)."""
