"""Bus handlers of the АРМ."""

from __future__ import annotations

from shared.messaging import Route, basic_routes
from shared.runtime import ServiceRuntime


def routes(_runtime: ServiceRuntime) -> dict[str, Route]:
    return basic_routes("arm")
