"""Bus handlers of the signature service: thin wrappers around :mod:`services.signature.service`."""

from __future__ import annotations

from typing import Any

from services.signature.service import verdict
from shared.messaging.dispatch import MessageContext, Route, basic_routes
from shared.platform.runtime import ServiceRuntime
from shared.wire.contracts import DOCUMENT_VERIFY, VerifyRequest, parse_payload


def routes(runtime: ServiceRuntime) -> dict[str, Route]:
    async def verify(context: MessageContext) -> dict[str, Any]:
        request = parse_payload(VerifyRequest, context.envelope.payload)
        return verdict(request, runtime.store).model_dump(mode="json")

    return {**basic_routes("signature"), DOCUMENT_VERIFY: Route(verify)}
