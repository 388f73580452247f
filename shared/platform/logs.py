"""Structured JSON log lines with personal data masked and the correlation id of the citizen's request.

Any run of 12 digits (ИИН/БИН) in a message or an extra field is masked before it is written, so a log
line can never leak a citizen's identifier whichever code path produced it. Every line written while a
request is being handled carries its correlation id (``cid``): one ``grep`` follows a request through all
five services.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar

_TWELVE_DIGITS = re.compile(r"(?<!\d)(\d{2})\d{8}(\d{2})(?!\d)")
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


# The correlation id of what is being handled now: the citizen's request, as the envelope of its sending
# (and every message sent on its behalf) carries it. Set by the dispatcher, the gateway and the portal.
CORRELATION: ContextVar[str | None] = ContextVar("correlation_id", default=None)


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def mask(text: str) -> str:
    """Mask every 12-digit number in ``text`` — except inside UUIDs (ids of requests and messages), whose
    last group can be twelve digits by chance and must stay searchable."""
    parts, last = [], 0
    for found in _UUID.finditer(text):
        parts += [_TWELVE_DIGITS.sub(r"\1********\2", text[last : found.start()]), found.group()]
        last = found.end()
    parts.append(_TWELVE_DIGITS.sub(r"\1********\2", text[last:]))
    return "".join(parts)


class MaskingFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        correlation = CORRELATION.get()
        if correlation:
            entry["cid"] = correlation
        entry.update({key: value for key, value in record.__dict__.items() if key not in _STANDARD})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return mask(json.dumps(entry, ensure_ascii=False, default=str))


def configure(service: str, level: str = "INFO") -> None:
    """Install the masking formatter on the root logger (idempotent)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(MaskingFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiormq", "aio_pika", "uvicorn.access", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
