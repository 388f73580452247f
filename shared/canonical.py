"""RFC 8785 (JCS) canonical JSON: the exact bytes that are signed."""

from __future__ import annotations

import json
from typing import Any

import rfc8785


def canonical_json(value: Any) -> bytes:
    """Canonical UTF-8 bytes of a JSON-compatible value (dicts, lists, str, int, float, bool, None)."""
    return rfc8785.dumps(value)


MAX_DEPTH = 32
MAX_SAFE_INTEGER = 2**53 - 1  # I-JSON (RFC 7493): what every receiver represents exactly


class UnacceptableJson(ValueError):
    """JSON the mesh does not take: not JSON, NaN or Infinity, an integer beyond ±(2^53 − 1), or too deep."""


def _no_constants(name: str) -> Any:
    raise UnacceptableJson(f"{name} is not JSON")


def loads_strict(raw: bytes | str) -> Any:
    """Parse JSON as the mesh accepts it (the I-JSON subset that RFC 8785 can sign), refusing everything
    else up front with :class:`UnacceptableJson` — never a RecursionError or an error later in signing."""
    try:
        value = json.loads(raw, parse_constant=_no_constants)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise UnacceptableJson(f"not acceptable JSON: {type(exc).__name__}") from None
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise UnacceptableJson(f"nested deeper than {MAX_DEPTH}")
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
        elif isinstance(item, int) and not isinstance(item, bool) and abs(item) > MAX_SAFE_INTEGER:
            raise UnacceptableJson("an integer beyond ±(2^53 − 1)")
    return value
