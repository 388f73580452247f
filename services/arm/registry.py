"""The АРМ's client of ГБД ФЛ (diagram 2, process 3; diagram 1, condition 1): a person looked up through
the gateway, asked again when the answer is about the exchange rather than the person. The bus handlers
(a citizen's request) and the staff's filing both ask through it."""

from __future__ import annotations

import asyncio
from typing import Any

from shared.messaging.bus import RequestTimeout
from shared.messaging.dispatch import MeshClient
from shared.wire.contracts import PERSON_LOOKUP
from shared.wire.refusals import Refusal, RefusalError

LOOKUP_ATTEMPTS = 3
LOOKUP_BACKOFF_SECONDS = 1.0
# Answers about the exchange, not about the person: asked again (each time with a new message id). REPLAYED
# is not expected for a fresh id (a delivery the gateway repeats carries a new stamp and is answered), but
# if a copy ever is refused, the person is still to be looked up.
LOOKUP_RETRYABLE = frozenset({Refusal.TIMEOUT, Refusal.REPLAYED, Refusal.INTERNAL})


async def lookup_person(client: MeshClient, iin: str, sender: str, attempts: int = 1) -> dict[str, Any]:
    """Ask ГБД ФЛ through the gateway (process 3). A technical failure (timeout, a lost answer) is retried
    ``attempts`` times in all, with a growing pause: a burst that delays ГБД ФЛ, or a broker restart, is not
    a reason to fail a citizen's signed request."""
    for attempt in range(1, attempts + 1):
        try:
            return await client.request("gbd_fl", PERSON_LOOKUP, {"iin": iin}, sender=sender)
        except RequestTimeout:
            pass
        except RefusalError as exc:
            if exc.code not in LOOKUP_RETRYABLE:
                raise
        if attempt < attempts:
            await asyncio.sleep(LOOKUP_BACKOFF_SECONDS * attempt)
    raise RequestTimeout(f"ГБД ФЛ did not answer {attempts} times")
