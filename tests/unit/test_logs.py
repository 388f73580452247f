"""Personal data never reaches a log line."""

from __future__ import annotations

import logging

from shared.logs import MaskingFormatter, mask


def test_mask_hides_every_twelve_digit_number() -> None:
    assert mask("iin=850315300019 and 061211600012") == "iin=85********19 and 06********12"
    assert mask("phone 1234567 or 1234567890123") == "phone 1234567 or 1234567890123"


def test_formatter_masks_message_and_extras() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "lookup of %s", ("850315300019",), None)
    record.iin = "061211600012"
    line = MaskingFormatter("gbd_fl").format(record)
    assert "850315300019" not in line and "061211600012" not in line
    assert "85********19" in line and "iin=06********12" in line
