"""Bus handlers of ГБД ФЛ. Lookups are read-only, so they need no inbox record."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from services.gbd_fl.service import lookup
from shared.contracts import PERSON_LOOKUP, PING, PersonLookup
from shared.messaging import MessageContext, Route, ping_route
from shared.refusals import Refusal, RefusalError
from shared.runtime import ServiceRuntime


def routes(runtime: ServiceRuntime) -> dict[str, Route]:
    async def person_lookup(context: MessageContext) -> dict[str, Any]:
        try:
            request = PersonLookup.model_validate(context.envelope.payload)
        except ValidationError:
            raise RefusalError(Refusal.MALFORMED, "lookup request does not match its contract") from None
        async with runtime.db.sessions() as session:
            person, parents = await lookup(session, request.iin)
        return {"person": person.model_dump(mode="json"), "parents": parents}

    return {PERSON_LOOKUP: Route(person_lookup), PING: ping_route("gbd_fl")}
