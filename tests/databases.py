"""A throw-away database for unit tests that must run on both SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
from sqlalchemy import MetaData

from shared.platform.db import Database

POSTGRES_URL = os.environ.get("EMHANA_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")


@asynccontextmanager
async def temporary_database(backend: str, folder: Path, metadata: MetaData) -> AsyncIterator[Database]:
    """An empty database with ``metadata``'s tables: a SQLite file in ``folder``, or a new PostgreSQL
    database dropped afterwards."""
    admin_url = POSTGRES_URL.replace("postgresql+asyncpg", "postgresql")
    name = None
    if backend == "sqlite":
        database = Database(f"sqlite+aiosqlite:///{folder / 'test.db'}")
    else:
        name = f"unit_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(admin_url)
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        database = Database(f"{POSTGRES_URL.rsplit('/', 1)[0]}/{name}")
    await database.create_all(metadata)
    try:
        yield database
    finally:
        await database.close()
        if name is not None:
            admin = await asyncpg.connect(admin_url)
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
