"""RFC 8785 (JCS) canonical JSON: the exact bytes that are signed."""

from __future__ import annotations

from typing import Any

import rfc8785


def canonical_json(value: Any) -> bytes:
    """Canonical UTF-8 bytes of a JSON-compatible value (dicts, lists, str, int, float, bool, None)."""
    return rfc8785.dumps(value)
