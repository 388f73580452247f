"""Bus handlers of the signature service: thin wrappers around :mod:`services.signature.service`."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from services.signature.service import verdict
from shared.contracts import DOCUMENT_VERIFY, PING, VerifyRequest
from shared.messaging import MessageContext, Route, ping_route
from shared.refusals import Refusal, RefusalError
from shared.runtime import ServiceRuntime


def routes(runtime: ServiceRuntime) -> dict[str, Route]:
    async def verify(context: MessageContext) -> dict[str, Any]:
        try:
            request = VerifyRequest.model_validate(context.envelope.payload)
        except ValidationError:
            raise RefusalError(Refusal.MALFORMED, "verify request does not match its contract") from None
        return verdict(request, runtime.store).model_dump(mode="json")

    return {DOCUMENT_VERIFY: Route(verify), PING: ping_route("signature")}
