"""Database migrations (Alembic): one history per service, run before the service starts.

Each service's revisions live in ``services/<service>/migrations/``; the environment and template are
shared (``shared/migrations/``). A service brings its database to the newest revision at start
(:func:`upgrade`, called by the runtime), and compose runs the same as a one-shot job before the
services start (``python -m services.migrate upgrade``). Replicas starting at once cannot race on the
schema: on PostgreSQL the upgrade holds an advisory lock, on SQLite a lock file beside the database.
A database made before migrations existed (by ``create_all``) is recognised and stamped with the first
revision, which is exactly that schema, before upgrading.

``python -m services.migrate revision <service> -m "what changed"`` writes a new revision from the
difference between the service's tables in code and a database at the newest revision (:func:`revision`).
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Connection, MetaData, inspect

from shared.platform.db import Database, lock_until_commit

ROOT = Path(__file__).resolve().parents[2]
BASELINE = "0001"  # the first revision of every service: the schema create_all made before migrations


def alembic_config(service: str, metadata: MetaData | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(ROOT / "shared" / "migrations"))
    config.set_main_option("version_locations", str(ROOT / "services" / service / "migrations"))
    config.set_main_option("path_separator", "os")
    config.attributes["metadata"] = metadata
    return config


def _upgrade(connection: Connection, service: str, metadata: MetaData | None) -> None:
    config = alembic_config(service, metadata)
    config.attributes["connection"] = connection
    tables = set(inspect(connection).get_table_names())
    if "alembic_version" not in tables and metadata is not None and tables & set(metadata.tables):
        command.stamp(config, BASELINE)  # made by create_all before migrations existed
    command.upgrade(config, "head")


async def upgrade(db: Database, service: str, metadata: MetaData | None = None) -> None:
    """Bring ``db`` to the newest revision of ``service`` (idempotent, safe for replicas at once)."""
    async with db.file_lock("migrate"), db.engine.begin() as connection:
        await lock_until_commit(connection, "migrate")
        await connection.run_sync(_upgrade, service, metadata)


async def differences(db: Database, metadata: MetaData) -> list[object]:
    """What differs between the database and the tables in code (empty when the migrations are current)."""

    def compare(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return [d for d in compare_metadata(context, metadata) if not _ignored(d)]

    async with db.engine.connect() as connection:
        return await connection.run_sync(compare)


def _ignored(difference: object) -> bool:
    # the version table is Alembic's own, not part of the service's tables
    return isinstance(difference, tuple) and getattr(difference[1], "name", None) == "alembic_version"


async def revision(service: str, message: str, metadata: MetaData) -> None:
    """Write ``services/<service>/migrations/<next>.py`` from the difference between ``metadata`` (the
    service's tables in code) and a scratch database at the newest revision."""
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite+aiosqlite:///{folder}/scratch.db")
        await upgrade(db, service)

        def generate(connection: Connection) -> None:
            config = alembic_config(service, metadata)
            config.attributes["connection"] = connection
            revisions = sorted((ROOT / "services" / service / "migrations").glob("*.py"))
            command.revision(config, message, autogenerate=True, rev_id=f"{len(revisions) + 1:04d}")

        async with db.engine.begin() as connection:
            await connection.run_sync(generate)
        await db.close()


def key_by_sender(table: str) -> None:
    """Within a revision: ``table``'s rows count once per (sender, message id) instead of per message id.
    Rows kept before get the sender ``""``, which the code reads as "any sender" (shared.messaging.inbox)."""
    from alembic import op
    from sqlalchemy import Column, String
    from sqlalchemy.exc import SAWarning

    with warnings.catch_warnings():
        # The table's copy is built with the old key's column first; SQLAlchemy warns that the new key
        # replaces the old one, which is the point.
        warnings.filterwarnings("ignore", "Table '_alembic_tmp_", SAWarning)
        with op.batch_alter_table(table, recreate="always") as batch:
            batch.add_column(Column("sender", String(100), nullable=False, server_default=""))
            batch.create_primary_key(f"{table}_pkey", ["sender", "message_id"])


def key_by_message_id(table: str) -> None:
    """The downgrade of :func:`key_by_sender`: one row per message id (of ids two senders used, the first)."""
    from alembic import op
    from sqlalchemy import text
    from sqlalchemy.exc import SAWarning

    op.execute(
        text(
            f"DELETE FROM {table} WHERE sender <> '' AND EXISTS (SELECT 1 FROM {table} AS earlier"  # noqa: S608
            f" WHERE earlier.message_id = {table}.message_id AND earlier.sender < {table}.sender)"
        )
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Table '_alembic_tmp_", SAWarning)
        with op.batch_alter_table(table, recreate="always") as batch:
            batch.drop_column("sender")
            batch.create_primary_key(f"{table}_pkey", ["message_id"])


def nonces_within_citizens(table: str) -> None:
    """Within a revision: ``table``'s ``document_nonce`` (a bare nonce) becomes the nonce within its
    citizen's ИИН (shared.wire.contracts.once_key), row by row."""
    from alembic import op
    from sqlalchemy import text

    from shared.wire.contracts import once_key

    connection = op.get_bind()
    rows = connection.execute(text(f"SELECT id, iin, document_nonce FROM {table}")).all()  # noqa: S608
    for row_id, iin, nonce in rows:
        connection.execute(
            text(f"UPDATE {table} SET document_nonce = :key WHERE id = :id"),  # noqa: S608
            {"key": once_key(iin, nonce), "id": row_id},
        )
