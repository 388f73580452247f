"""Portal security rules on a real (SQLite) database: tokens expire and are revoked; passwords are Argon2."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from services.portal import security
from services.portal.config import PortalSettings
from services.portal.models import Base, Citizen, Token
from shared.platform.db import Database
from shared.rules.errors import RuleBroken

NOW = dt.datetime(2026, 11, 24, 11, 30, tzinfo=dt.UTC)


@pytest.fixture
async def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'portal.db'}")
    await database.create_all(Base.metadata)
    async with database.transaction() as session:
        session.add(Citizen(iin="850315300019", password_hash="x", surname="A", name="B", registered_at=NOW))
    return database


async def test_tokens_expire_and_can_be_revoked(db: Database) -> None:
    async with db.transaction() as session:
        token, expires = await security.issue_token(session, "850315300019", NOW, ttl_seconds=1800)
    assert expires == NOW + dt.timedelta(minutes=30)
    holder = await security.citizen_of_token(db, token, NOW + dt.timedelta(minutes=29))
    assert holder is not None and holder.iin == "850315300019" and holder.surname == "A"
    assert await security.citizen_of_token(db, token, NOW + dt.timedelta(minutes=30)) is None
    assert await security.citizen_of_token(db, token + "x", NOW) is None
    async with db.sessions() as session:
        stored = await session.get(Token, security.token_hash(token))
        assert stored is not None and token not in stored.token_hash  # only the hash is kept
    async with db.transaction() as session:
        (await session.get(Token, security.token_hash(token))).revoked_at = NOW  # type: ignore[union-attr]
    assert await security.citizen_of_token(db, token, NOW) is None


async def test_passwords_are_argon2_and_policy_is_enforced() -> None:
    hashed = await security.hash_password("Tulpar-Zhol-2026")
    assert hashed.startswith("$argon2id$")
    assert await security.verify_password("Tulpar-Zhol-2026", hashed)
    assert not await security.verify_password("tulpar-zhol-2026", hashed)
    assert not await security.verify_password("anything", None)  # unknown ИИН: same cost, always false
    settings = PortalSettings()
    for bad in ("short", "x" * 129, "password123", "Пароль123", "my850315300019pw"):
        with pytest.raises(RuleBroken) as info:
            security.check_password_policy(bad, "850315300019", settings)
        assert info.value.code == "PASSWORD_POLICY"
    security.check_password_policy("Tulpar-Zhol-2026", "850315300019", settings)


async def test_expired_drafts_are_purged(db: Database) -> None:
    from services.portal.models import Draft
    from services.portal.service import PortalService
    from shared.wire.clock import Clock

    clock = Clock.starting_at(NOW)
    async with db.transaction() as session:
        for name, expires in (("old", NOW - dt.timedelta(days=2)), ("recent", NOW - dt.timedelta(hours=1))):
            session.add(
                Draft(
                    id=name,
                    iin="850315300019",
                    service="home_call",
                    clinic_bin="980440012347",
                    document="{}",
                    created_at=expires,
                    expires_at=expires,
                    used_at=None,
                )
            )
    portal = PortalService(PortalSettings(), db, clock, None, None)  # type: ignore[arg-type]
    assert await portal.purge_drafts() == 1
    async with db.sessions() as session:
        assert await session.get(Draft, "old") is None and await session.get(Draft, "recent") is not None
