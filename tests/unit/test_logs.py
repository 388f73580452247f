"""Personal data never reaches a log line."""

from __future__ import annotations

import logging

from shared.platform.logs import MaskingFormatter, mask


def test_mask_hides_every_twelve_digit_number() -> None:
    assert mask("iin=850315300019 and 061211600012") == "iin=85********19 and 06********12"
    assert mask("phone 1234567 or 1234567890123") == "phone 1234567 or 1234567890123"
    # a request id whose last group happens to be twelve digits stays searchable; an ИИН next to it does not
    uuid_like = "5f0c7c1e-1111-4222-8333-444455556666"
    assert mask(f"{uuid_like} iin=850315300019") == f"{uuid_like} iin=85********19"


def test_formatter_masks_message_and_extras() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "lookup of %s", ("850315300019",), None)
    record.iin = "061211600012"
    line = MaskingFormatter("gbd_fl").format(record)
    assert "850315300019" not in line and "061211600012" not in line
    assert "85********19" in line and '"iin": "06********12"' in line


def test_a_line_is_json_and_carries_the_correlation_id() -> None:
    import json

    from shared.platform.logs import CORRELATION

    record = logging.LogRecord("x", logging.INFO, __file__, 1, "request submitted", (), None)
    token = CORRELATION.set("5f0c7c1e-1111-4222-8333-444455556666")
    try:
        entry = json.loads(MaskingFormatter("portal").format(record))
    finally:
        CORRELATION.reset(token)
    assert (entry["service"], entry["msg"]) == ("portal", "request submitted")
    assert entry["cid"] == "5f0c7c1e-1111-4222-8333-444455556666"
    assert "cid" not in json.loads(MaskingFormatter("portal").format(record))
