"""Clinic staff's accounts (diagram 2, process 1): log-in by ИИН and password (throttled like citizens'),
sessions, and the staff member's own password — required first when an operator made the account."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import update

from services.arm.config import ArmSettings
from services.arm.models import Staff, StaffLoginCounter, StaffLoginSuccess, StaffToken
from shared.platform import auth
from shared.platform.db import Database
from shared.platform.steps import StepTimes
from shared.rules.errors import NotAllowed, NotAuthenticated, RuleBroken
from shared.wire.clock import Clock
from shared.wire.refusals import Refusal, RefusalError

log = logging.getLogger(__name__)


class StaffAccounts:
    """Log-in, sessions and passwords of a clinic's staff, on the АРМ's own tables."""

    def __init__(self, settings: ArmSettings, db: Database, clock: Clock, steps: StepTimes) -> None:
        self.settings, self.db, self.clock, self.steps = settings, db, clock, steps
        limits = auth.LoginLimits(
            per_pair=settings.staff_login_attempts_per_pair,
            per_client=settings.staff_login_attempts_per_client,
            per_iin=settings.staff_login_attempts_per_iin,
            window_seconds=settings.staff_login_window_seconds,
        )
        self.throttle = auth.Throttle(db, StaffLoginCounter, StaffLoginSuccess, limits)

    async def login(self, iin: str, password: str, client: str) -> tuple[str, dt.datetime, Staff]:
        """ИИН and password; a wrong pair is 401 AUTH_FAILED (no hint which), 429 when throttled. Timed as
        table 2's step 1."""
        with self.steps.timed("step_1"):
            return await self._login(iin, password, client)

    async def _login(self, iin: str, password: str, client: str) -> tuple[str, dt.datetime, Staff]:
        now = self.clock.now()
        async with self.throttle.guess(iin, client, now) as guess:  # reserved before the password is checked
            async with self.db.sessions() as session:
                member = await session.get(Staff, iin) if len(iin) == 12 and iin.isdigit() else None
            known = member is not None and member.active
            if not await auth.verify_password(password, member.password_hash if known and member else None):
                log.info("staff login refused", extra={"iin": iin, "client": client})
                raise RefusalError(Refusal.AUTH_FAILED)
            guess.right()
        assert member is not None
        async with self.db.transaction() as session:
            ttl = self.settings.staff_token_ttl_seconds
            token, expires = await auth.issue_token(session, StaffToken, iin, now, ttl)
        return token, expires, member

    async def logout(self, token: str) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                update(StaffToken)
                .where(StaffToken.token_hash == auth.token_hash(token))
                .values(revoked_at=self.clock.now())
            )

    async def member(self, token: str, *, changing_password: bool = False) -> Staff:
        """The holder of a staff token; 401 when there is none. An account whose password an operator set
        gets 403 PASSWORD_CHANGE_REQUIRED everywhere but where it sets its own (``changing_password``)."""
        member = await auth.holder_of_token(self.db, StaffToken, Staff, token, self.clock.now())
        if member is None or not member.active:
            raise NotAuthenticated("UNAUTHORIZED", "log in first (the token is missing, expired or revoked)")
        if member.must_change_password and not changing_password:
            raise NotAllowed("PASSWORD_CHANGE_REQUIRED", "choose your own password first: POST /auth/password")
        return member

    async def change_password(self, member: Staff, token: str, current: str, new: str, client: str) -> None:
        """The holder's own new password (the current one proves it is them, throttled as a log-in); every
        other session of theirs ends."""
        now = self.clock.now()
        async with self.throttle.guess(member.iin, client, now) as guess:
            if not await auth.verify_password(current, member.password_hash):
                raise RefusalError(Refusal.AUTH_FAILED, "the current password is wrong")
            guess.right()
        auth.check_password_policy(new, member.iin, self.settings.staff_password_min_length, 1024)
        if await auth.verify_password(new, member.password_hash):
            raise RuleBroken("PASSWORD_POLICY", "choose a password other than the one you were given")
        password_hash = await auth.hash_password(new)
        async with self.db.transaction() as session:
            await session.execute(
                update(Staff)
                .where(Staff.iin == member.iin)
                .values(password_hash=password_hash, must_change_password=False)
            )
            await session.execute(
                update(StaffToken)
                .where(
                    StaffToken.iin == member.iin,
                    StaffToken.revoked_at.is_(None),
                    StaffToken.token_hash != auth.token_hash(token),
                )
                .values(revoked_at=now)
            )
        log.info("staff password changed", extra={"iin": member.iin})
