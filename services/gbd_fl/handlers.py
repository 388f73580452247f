"""Bus handlers of ГБД ФЛ. Lookups are read-only, so they need no inbox record."""

from __future__ import annotations

from typing import Any

from services.gbd_fl.service import lookup
from shared.messaging.dispatch import MessageContext, Route, basic_routes
from shared.platform.runtime import ServiceRuntime
from shared.wire.contracts import PERSON_LOOKUP, PersonFound, PersonLookup


def routes(runtime: ServiceRuntime) -> dict[str, Route[Any]]:
    async def person_lookup(_context: MessageContext, request: PersonLookup) -> PersonFound:
        async with runtime.db.reading() as connection:  # a plain read: no ORM session, no transaction
            person, parents = await lookup(connection, request.iin)
        return PersonFound(person=person, parents=parents)

    return {**basic_routes("gbd_fl"), PERSON_LOOKUP: Route(person_lookup)}
