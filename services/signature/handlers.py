"""Bus handlers of the signature service: thin wrappers around :mod:`services.signature.service`."""

from __future__ import annotations

from typing import Any

from services.signature.service import verdict
from shared.messaging.dispatch import MessageContext, Route, basic_routes
from shared.platform.runtime import ServiceRuntime
from shared.wire.contracts import DOCUMENT_VERIFY, Verdict, VerifyRequest


def routes(runtime: ServiceRuntime) -> dict[str, Route[Any]]:
    async def verify(_context: MessageContext, request: VerifyRequest) -> Verdict:
        return verdict(request, runtime.store)

    return {**basic_routes("signature"), DOCUMENT_VERIFY: Route(verify)}
