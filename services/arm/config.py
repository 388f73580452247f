"""Settings of the provider workstation, АРМ (prefix ``EMHANA_ARM_``)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic_settings import SettingsConfigDict

from shared.platform.settings import Seconds, ServiceSettings


class ArmSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="EMHANA_ARM_", env_file=".env", extra="ignore")
    service: ClassVar[str] = "arm"
    default_port: ClassVar[int] = 8103

    after_cutoff: Literal["refuse", "next_day"] = "refuse"
    """Home call after the cut-off: refuse with AFTER_CUTOFF, or plan the visit for the next working day."""
    voluntary_changes_per_year: int = 1
    """Voluntary attachment changes allowed in 12 months (2012 rules: 1; later rules: 2)."""
    booking_window_days: int = 14
    """How many days ahead appointments can be booked."""
    hold_minutes: int = 5
    """How long a slot chosen at "отправить запрос" is held for the citizen's signature."""
    seed_attachments: bool = True
    """On first start, attach the synthetic residents of Сарыарка and Есиль to the demo clinics there."""
    # -- clinic staff (diagram 2) --
    staff_token_ttl_seconds: int = 8 * 3600
    """A staff session lasts a working shift at most (and ends at logout)."""
    staff_login_attempts_per_pair: int = 5
    """Failed staff logins allowed per ИИН and client address in the window."""
    staff_login_attempts_per_client: int = 20
    """Failed staff logins allowed per client address in the window."""
    staff_login_attempts_per_iin: int = 50
    """Failed staff logins allowed per ИИН from all addresses in the window."""
    staff_login_window_seconds: int = 900
    """The window of the staff login counters."""
    staff_draft_ttl_seconds: int = 600
    """A filled form must be signed within this time."""
    demo_staff_password: str = "Emhana-Staff-2026"  # noqa: S105 (demo accounts, printed by make run)
    """Password of the seeded demo staff accounts (``make run`` prints them); demo data only."""
    seed_demo_staff: bool = False
    """On first start, create the demo staff accounts of every clinic with the published demo password.
    Only the local launcher (``make run``) and the tests turn it on; a deployment creates its staff with
    ``python -m services.arm.admin``."""
    staff_password_min_length: int = 12
    """Shortest password a staff member may choose."""
    watch_seconds: Seconds = 30.0
    """How often the deadline watcher looks for overdue home calls and requests."""
