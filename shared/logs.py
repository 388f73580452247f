"""Readable ``key=value`` log lines with personal data masked.

Any run of 12 digits (ИИН/БИН) in a message or an extra field is masked before it is written, so a log
line can never leak a citizen's identifier whichever code path produced it.
"""

from __future__ import annotations

import logging
import re
import sys

_TWELVE_DIGITS = re.compile(r"(?<!\d)(\d{2})\d{8}(\d{2})(?!\d)")
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


def mask(text: str) -> str:
    """Mask every 12-digit number in ``text``."""
    return _TWELVE_DIGITS.sub(r"\1********\2", text)


class MaskingFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(f"{key}={value}" for key, value in record.__dict__.items() if key not in _STANDARD)
        line = (
            f"{self.formatTime(record, '%Y-%m-%dT%H:%M:%S')} {record.levelname:<7} {self.service:<9} "
            f"{record.name}: {record.getMessage()}"
        )
        if extras:
            line += f" | {extras}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return mask(line)


def configure(service: str, level: str = "INFO") -> None:
    """Install the masking formatter on the root logger (idempotent)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(MaskingFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiormq", "aio_pika", "uvicorn.access", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
