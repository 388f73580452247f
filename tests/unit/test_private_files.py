"""A service's files are its own: SQLite databases hold password hashes, so they are created 0600."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tools.launcher import ROOT

SCRIPT = """
import asyncio, datetime as dt, sys
from shared.platform.serve import private_files
from shared.platform.db import Database
from services.portal.models import Base

private_files()  # what every service does before it starts

async def main():
    db = Database(f"sqlite+aiosqlite:///{sys.argv[1]}/portal.db")
    await db.create_all(Base.metadata)
    async with db.transaction() as session:
        await session.execute(Base.metadata.tables["citizens"].insert().values(
            iin="850315300019", password_hash="x", surname="A", name="B", registered_at=dt.datetime.now(dt.UTC)))
    await db.close()

asyncio.run(main())
"""


def test_a_service_creates_its_database_files_readable_by_itself_only(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    files = list(tmp_path.glob("portal.db*"))
    assert any(f.name == "portal.db" for f in files), files
    for path in files:
        assert path.stat().st_mode & 0o077 == 0, (path.name, oct(path.stat().st_mode))
