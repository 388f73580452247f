"""Database migrations of the mesh's services (Alembic, one history per service: shared.platform.migrate).

    python -m services.migrate upgrade [service…]             # each database to its newest revision
    python -m services.migrate revision <service> -m "…"      # a new revision from the model's changes

Compose runs ``upgrade`` as a one-shot job before the services start; each service also upgrades its own
database at start.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from services.mesh import SERVICES, metadata_of, settings_of
from shared.platform import migrate
from shared.platform.db import Database


def main(argv: list[str] | None = None) -> int:
    """``upgrade [service…]`` (all by default, each with its configured database) or
    ``revision <service> -m <message>``."""
    parser = argparse.ArgumentParser(prog="python -m services.migrate", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("upgrade", help="bring each service's database to its newest revision")
    up.add_argument("services", nargs="*", help=f"any of {', '.join(SERVICES)} (default: all)")
    revision = sub.add_parser("revision", help="write a revision from the difference to the code's tables")
    revision.add_argument("service", choices=SERVICES)
    revision.add_argument("-m", "--message", required=True)
    args = parser.parse_args(argv)
    if args.command == "revision":
        asyncio.run(migrate.revision(args.service, args.message, metadata_of(args.service)))
        return 0

    unknown = set(args.services) - set(SERVICES)
    if unknown:
        parser.error(f"no such service: {', '.join(sorted(unknown))}")

    async def upgrade_all() -> None:
        for service in args.services or SERVICES:
            db = Database(settings_of(service).db_url)
            try:
                await migrate.upgrade(db, service, metadata_of(service))
            finally:
                await db.close()
            print(f"{service}: database at the newest revision", file=sys.stderr)

    os.umask(0o077)  # a SQLite file made here holds what the service's own would (password hashes)
    asyncio.run(upgrade_all())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


if __name__ == "__main__":
    raise SystemExit(main())
