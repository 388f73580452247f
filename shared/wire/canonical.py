"""RFC 8785 (JCS) canonical JSON: the exact bytes that are signed."""

from __future__ import annotations

import json
from typing import Any

import rfc8785


def canonical_json(value: Any) -> bytes:
    """Canonical UTF-8 bytes of a JSON-compatible value (dicts, lists, str, int, float, bool, None).

    Every message is canonicalised several times on its way (signed, verified at the gateway and at the
    recipient, stamped), and the ``rfc8785`` package does it in pure Python, about five times as slow as
    the standard library's C encoder. For the values the mesh carries (ASCII keys; strings, integers within
    I-JSON, booleans, null), the C encoder with sorted keys and no whitespace writes exactly the RFC 8785
    bytes: the same escapes (``\\"``, ``\\\\``, ``\\b \\f \\n \\r \\t``, other control characters as
    lowercase ``\\u00xx``), everything else as UTF-8, and for ASCII keys code-point order is UTF-16 order.
    Anything else — a float (ECMAScript number formatting), a non-ASCII key, a lone surrogate, an integer
    beyond ±(2^53 − 1) — goes to ``rfc8785``, which formats or refuses it as before.
    """
    if _plain(value):
        try:
            return _FAST(value).encode()
        except UnicodeEncodeError:  # a lone surrogate: rfc8785 decides
            pass
    return rfc8785.dumps(value)


_FAST = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False).encode


def _plain(value: Any) -> bool:
    """Whether ``value`` holds only what the C encoder writes exactly as RFC 8785 does (see above)."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is int:
            if -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                continue
            return False
        if kind is dict:
            for key in item:
                if type(key) is not str or not key.isascii():
                    return False
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
        else:
            return False
    return True


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
