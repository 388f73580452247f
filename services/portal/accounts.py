"""Citizens' accounts (process 1 of diagram 1, and process 2, its refusal): registration and log-in proven
by ЭЦП, as egov.kz does them, log-in by ИИН and password (throttled), sessions."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, update

from services.portal import security
from services.portal.config import PortalSettings
from services.portal.models import Challenge, Citizen, LoginCounter, LoginSuccess, Token
from shared.platform.auth import Throttle
from shared.platform.db import Database, rows_affected
from shared.platform.steps import StepTimes
from shared.rules.errors import NotAuthenticated, NotFound
from shared.wire.canonical import canonical_json
from shared.wire.clock import Clock
from shared.wire.contracts import DOCUMENT_VERIFY, PERSON_LOOKUP, Signature
from shared.wire.documents import attach_content, signed_content
from shared.wire.ids import InvalidIdentifier, parse_iin
from shared.wire.refusals import Refusal, RefusalError

log = logging.getLogger(__name__)

Ask = Callable[[str, str, dict[str, Any]], Awaitable[dict[str, Any]]]  # a question to a service over the mesh

REGISTRATION = "registration"  # what the registration throttle counts by, beside the client


@dataclass(frozen=True, slots=True)
class Registered:
    """A person proven by ЭЦП: their account (new, or with a new password) and a session for them."""

    citizen: Citizen
    created: bool
    token: str
    expires_at: dt.datetime


class Accounts:
    """Registration, log-in and sessions of citizens, on the portal's own tables; ``ask`` reaches the
    signature service and ГБД ФЛ through the gateway."""

    def __init__(self, settings: PortalSettings, db: Database, clock: Clock, ask: Ask, steps: StepTimes) -> None:
        self.settings, self.db, self.clock, self.ask, self.steps = settings, db, clock, ask, steps
        self.throttle = Throttle(db, LoginCounter, LoginSuccess, security.limits(settings))
        self.registration_throttle = Throttle(
            db, LoginCounter, LoginSuccess, security.registration_limits(settings), scope="reg:", what="registration"
        )

    async def challenge(self, client: str) -> Challenge:
        """The document a person signs to register or to set a new password: a fresh nonce and the time."""
        now = self.clock.now()
        await self.registration_throttle.begin(REGISTRATION, client, now)
        nonce = secrets.token_urlsafe(32)
        document = canonical_json(
            {"purpose": "emhana-registration", "nonce": nonce, "time": now.isoformat(), "portal": "emhana"}
        ).decode()
        challenge = Challenge(
            nonce=nonce,
            document=document,
            expires_at=now + dt.timedelta(seconds=self.settings.challenge_ttl_seconds),
            used_at=None,
        )
        async with self.db.transaction() as session:
            await session.execute(delete(Challenge).where(Challenge.expires_at < now - dt.timedelta(hours=1)))
            session.add(challenge)
        return challenge

    async def register(self, nonce: str, signature: str, password: str, client: str) -> Registered:
        """Registration proven by ЭЦП (:meth:`_register`), timed as process 1 — or 2, when refused."""
        with self.steps.timed("process_1", refused="process_2"):
            return await self._register(nonce, signature, password, client)

    async def _register(self, nonce: str, signature: str, password: str, client: str) -> Registered:
        """Registration proven by ЭЦП, as egov.kz does it: the person signs the challenge with their own key
        (AUTH or SIGN, НУЦ's or the development CA's), and the ИИН is the certificate's — never typed. A
        person who already has an account (forgotten password, or one squatted before proof was required)
        sets a new password this way; their old sessions end. Nothing about anyone is answered before the
        signature is proven: there is no ИИН to ask about."""
        now = self.clock.now()
        iin, person = await self._proven(
            nonce, signature, client, now, lambda iin: security.check_password_policy(password, iin, self.settings)
        )
        password_hash = await security.hash_password(password)
        async with self.db.transaction() as session:
            existing = await session.get(Citizen, iin, with_for_update=True)
            if existing is None:
                citizen = Citizen(
                    iin=iin,
                    password_hash=password_hash,
                    surname=person["surname"],
                    name=person["name"],
                    registered_at=now,
                )
                session.add(citizen)
            else:
                citizen = existing
                citizen.password_hash = password_hash
                await session.execute(
                    update(Token).where(Token.iin == iin, Token.revoked_at.is_(None)).values(revoked_at=now)
                )
            token, expires = await security.issue_token(session, iin, now, self.settings.token_ttl_seconds)
        await self.registration_throttle.succeeded(REGISTRATION, client, now, attempts=2)  # challenge + proof
        log.info("citizen proven by ЭЦП", extra={"iin": iin, "new_account": existing is None})
        return Registered(citizen, existing is None, token, expires)

    async def _proven(
        self, nonce: str, signature: str, client: str, now: dt.datetime, check: Callable[[str], None] | None = None
    ) -> tuple[str, dict[str, Any]]:
        """The ИИН and ГБД ФЛ record of whoever signed the challenge ``nonce`` with their own key; ``check``
        (given the ИИН) runs before the challenge is used up. Throttled per client, as registrations."""
        await self.registration_throttle.begin(REGISTRATION, client, now)
        async with self.db.sessions() as session:
            challenge = await session.get(Challenge, nonce[:64])
        if challenge is None or challenge.used_at is not None or challenge.expires_at <= now:
            raise RefusalError(Refusal.EXPIRED, "the challenge expired or was used; ask for a new one")
        signature = attach_content(signature, challenge.document.encode())
        if signed_content(signature) != challenge.document.encode():
            raise RefusalError(Refusal.SIGNATURE_INVALID, "the signed content is not the challenge")
        signer = await self.prove(signature)
        iin = signer.get("iin") or ""
        try:
            parse_iin(iin)
        except InvalidIdentifier as exc:
            raise RefusalError(Refusal.IIN_INVALID, f"the certificate's ИИН: {exc.detail}") from None
        if check is not None:
            check(iin)
        async with self.db.transaction() as session:
            used = await session.execute(
                update(Challenge)
                .where(Challenge.nonce == challenge.nonce, Challenge.used_at.is_(None))
                .values(used_at=now)
            )
            if rows_affected(used) != 1:
                raise RefusalError(Refusal.EXPIRED, "the challenge was used; ask for a new one")
        person = (await self.ask("gbd_fl", PERSON_LOOKUP, {"iin": iin}))["person"]
        if not person["alive"]:
            raise RefusalError(Refusal.PERSON_DECEASED)
        return iin, person

    async def login_with_key(self, nonce: str, signature: str, client: str) -> tuple[str, dt.datetime]:
        """Log-in by ЭЦП (:meth:`_login_with_key`), timed as process 1 — or 2, when refused."""
        with self.steps.timed("process_1", refused="process_2"):
            return await self._login_with_key(nonce, signature, client)

    async def _login_with_key(self, nonce: str, signature: str, client: str) -> tuple[str, dt.datetime]:
        """Log-in by ЭЦП, as on egov.kz: the challenge signed with one's own key. No password is guessed, so
        the password throttle does not apply — a person whose ИИН guessers have locked (per-ИИН ceiling)
        still gets in by proving who they are — and this client is trusted for the ИИН from now on."""
        now = self.clock.now()
        iin, _person = await self._proven(nonce, signature, client, now)
        async with self.db.sessions() as session:
            citizen = await session.get(Citizen, iin)
        if citizen is None:
            raise NotFound("NOT_REGISTERED", "no account for this key's ИИН: register first")
        await self.registration_throttle.succeeded(REGISTRATION, client, now, attempts=2)  # challenge + proof
        await self.throttle.succeeded(iin, client, now)
        async with self.db.transaction() as session:
            token = await security.issue_token(session, iin, now, self.settings.token_ttl_seconds)
        log.info("citizen logged in by ЭЦП", extra={"iin": iin})
        return token

    async def prove(self, signature: str) -> dict[str, Any]:
        """The signer of a proof of identity, by the signature service: an AUTH key, or else a SIGN key."""
        for purpose in ("AUTH", "SIGN"):
            verdict = await self.ask("signature", DOCUMENT_VERIFY, {**Signature.of(signature), "purpose": purpose})
            if verdict["valid"]:
                return verdict["signer"]
            if verdict["code"] != Refusal.CERT_WRONG_USAGE:
                break
        raise RefusalError(Refusal(verdict["code"]))

    async def login(self, iin: str, password: str, client: str) -> tuple[str, dt.datetime]:
        """Process 1 / condition 1; a wrong ИИН or password is process 2 (AUTH_FAILED). Timed as its step."""
        with self.steps.timed("process_1", refused="process_2"):
            return await self._login(iin, password, client)

    async def _login(self, iin: str, password: str, client: str) -> tuple[str, dt.datetime]:
        now = self.clock.now()
        async with self.throttle.guess(iin, client, now) as guess:  # reserved before the password is checked
            async with self.db.sessions() as session:
                # A malformed ИИН is simply a failed login (no hint), and never reaches a database query.
                citizen = await session.get(Citizen, iin) if len(iin) == 12 and iin.isdigit() else None
            if not await security.verify_password(password, citizen.password_hash if citizen else None):
                log.info("login refused", extra={"iin": iin, "client": client})
                raise RefusalError(Refusal.AUTH_FAILED)
            guess.right()
        async with self.db.transaction() as session:
            return await security.issue_token(session, iin, now, self.settings.token_ttl_seconds)

    async def logout(self, token: str) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                update(Token).where(Token.token_hash == security.token_hash(token)).values(revoked_at=self.clock.now())
            )

    async def citizen(self, token: str) -> Citizen:
        citizen = await security.citizen_of_token(self.db, token, self.clock.now())
        if citizen is None:
            raise NotAuthenticated("UNAUTHORIZED", "log in first (the token is missing, expired or revoked)")
        return citizen
