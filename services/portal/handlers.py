"""Bus handlers of the portal."""

from __future__ import annotations

from shared.contracts import PING, REFUSAL
from shared.messaging import Route, logged_refusal_route, ping_route
from shared.runtime import ServiceRuntime


def routes(_runtime: ServiceRuntime) -> dict[str, Route]:
    return {PING: ping_route("portal"), REFUSAL: logged_refusal_route()}
