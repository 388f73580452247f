"""Alembic migrations per service: current with the code, safe for replicas starting at once, and able to
take over a database that ``create_all`` made before migrations existed."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import MetaData, inspect, text

from services.mesh import SERVICES, metadata_of
from shared.platform import migrate
from shared.platform.db import Database
from tests.databases import temporary_database


async def version(db: Database) -> str | None:
    async with db.engine.connect() as connection:
        return await connection.scalar(text("SELECT version_num FROM alembic_version"))


async def columns(db: Database, table: str) -> list[dict]:
    async with db.engine.connect() as connection:
        return await connection.run_sync(lambda c: inspect(c).get_columns(table))


async def table_names(db: Database) -> set[str]:
    async with db.engine.connect() as connection:
        return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
@pytest.mark.parametrize("service", SERVICES)
async def test_the_migrations_build_exactly_the_tables_in_code(service: str, backend: str, tmp_path: Path) -> None:
    metadata = metadata_of(service)
    async with temporary_database(backend, tmp_path, MetaData()) as db:
        await migrate.upgrade(db, service, metadata)
        assert await migrate.differences(db, metadata) == []  # a change to the tables needs a new revision
        assert await table_names(db) == {*metadata.tables, "alembic_version"}
        head = await version(db)
        await migrate.upgrade(db, service, metadata)  # idempotent
        assert await version(db) == head


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_replicas_migrating_at_once_do_not_race(backend: str, tmp_path: Path) -> None:
    metadata = metadata_of("portal")
    async with temporary_database(backend, tmp_path, MetaData()) as first:
        second = Database(first.url)  # another process's engine on the same database
        try:
            await asyncio.gather(
                migrate.upgrade(first, "portal", metadata), migrate.upgrade(second, "portal", metadata)
            )
        finally:
            await second.close()
        assert await migrate.differences(first, metadata) == []


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_database_made_before_migrations_is_taken_over_and_upgraded(backend: str, tmp_path: Path) -> None:
    """From the first revision (as create_all made it, without any record of migrations) to the newest."""
    metadata = metadata_of("gateway")
    async with temporary_database(backend, tmp_path, MetaData()) as db:
        await _taken_over(db, metadata)


async def _taken_over(db: Database, metadata: MetaData) -> None:

    def as_create_all_made_it(connection) -> None:  # type: ignore[no-untyped-def]
        config = migrate.alembic_config("gateway")
        config.attributes["connection"] = connection
        command.upgrade(config, migrate.BASELINE)  # the tables exactly as create_all made them then…
        connection.execute(text("DROP TABLE alembic_version"))  # …with no record of any migration

    async with db.engine.begin() as connection:
        await connection.run_sync(as_create_all_made_it)
        await connection.execute(text("INSERT INTO providers (bin, name, address) VALUES ('1', 'x', 'arm.1')"))
    assert "request_id" not in {c["name"] for c in await columns(db, "journal")}
    await migrate.upgrade(db, "gateway", metadata)
    assert await version(db) is not None and await migrate.differences(db, metadata) == []
    async with db.engine.connect() as connection:
        assert await connection.scalar(text("SELECT count(*) FROM providers")) == 1  # nothing lost


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_replicas_seeding_at_once_seed_once(backend: str, tmp_path: Path) -> None:
    """The АРМ and ГБД ФЛ fill an empty database at start (look, then insert): two replicas starting at once
    must not both insert (a duplicate key would stop one of them)."""
    from services.arm import models as arm_models
    from services.arm.seed import seed as seed_arm
    from services.gbd_fl import models as gbd_models
    from services.gbd_fl.service import seed as seed_registry
    from shared.rules.clinics import load_clinics

    clinics, now = load_clinics(), dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)
    for metadata, seeding, table, expected in (
        (
            arm_models.Base.metadata,
            lambda db: seed_arm(db, clinics, population_size=300, population_seed=7, attach=True, now=now),
            "clinics",
            len(clinics.clinics),
        ),
        (gbd_models.Base.metadata, lambda db: seed_registry(db, 300, 7), "persons", 300),
    ):
        async with temporary_database(backend, tmp_path / table, metadata) as first:
            second = Database(first.url)  # another process's engine on the same database
            try:
                await asyncio.gather(seeding(first), seeding(second))
            finally:
                await second.close()
            async with first.engine.connect() as connection:
                assert await connection.scalar(text(f"SELECT count(*) FROM {table}")) == expected


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_stored_nonces_become_keys_within_their_citizen(backend: str, tmp_path: Path) -> None:
    """Portal 0004: a request stored with its bare nonce is rewritten to SignedRequest.once_key, so that it
    still counts once — and only for its own citizen — after the upgrade."""
    from shared.wire.contracts import ServiceKind, SignedRequest

    metadata = metadata_of("portal")
    async with temporary_database(backend, tmp_path, MetaData()) as db:

        def before(connection) -> None:  # type: ignore[no-untyped-def]
            config = migrate.alembic_config("portal")
            config.attributes["connection"] = connection
            command.upgrade(config, "0003")

        now = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
        async with db.engine.begin() as connection:
            await connection.run_sync(before)
            await connection.execute(
                text(
                    "INSERT INTO requests (id, iin, patient_iin, service, clinic_bin, document, document_nonce,"
                    " message_id, status, status_seq, channel, submitted_at, deadline, updated_at)"
                    " VALUES ('r-1', '850315300019', '850315300019', 'home_call', '980440012347', 'x',"
                    " 'nonce-0001', 'm-1', 'completed', 3, 'portal', :now, :now, :now)"
                ),
                {"now": now},
            )
        await migrate.upgrade(db, "portal", metadata)
        async with db.engine.connect() as connection:
            stored = await connection.scalar(text("SELECT document_nonce FROM requests WHERE id = 'r-1'"))
    signed = SignedRequest(
        service=ServiceKind.HOME_CALL,
        iin="850315300019",
        provider="980440012347",
        fields={},
        time=now,
        nonce="nonce-0001",
    )
    assert stored == signed.once_key
    assert signed.model_copy(update={"iin": "061211600012"}).once_key != stored  # another citizen's differs
