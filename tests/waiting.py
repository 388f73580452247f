"""Waiting for a condition, never for a fixed time: poll until it holds, within a generous bound."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx

T = TypeVar("T")


async def until(
    check: Callable[[], Awaitable[T]],
    seconds: float = 60,
    what: str = "the condition",
    ignoring: tuple[type[BaseException], ...] = (),
) -> T:
    """Call ``check`` until it returns something truthy and return that; fail after ``seconds``.
    A connection error while a service restarts counts as not yet, as does any of ``ignoring``."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            value = await check()
        except (OSError, httpx.TransportError, *ignoring):  # a service (or the broker) restarting: not yet
            value = None  # type: ignore[assignment]
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} never held within {seconds} s"
        await asyncio.sleep(0.1)
