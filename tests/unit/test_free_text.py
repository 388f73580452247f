"""Free text that ends up in a signed document and before clinic staff: what you see is what was signed."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.wire.contracts import AttachmentForm, HomeCallForm

INVISIBLE = {
    "bidi override": "\u202e",
    "zero-width space": "\u200b",
    "zero-width joiner": "\u200d",
    "C1 control (NEL)": "\x85",
    "line separator": "\u2028",
    "paragraph separator": "\u2029",
    "byte order mark": "\ufeff",
    "private use": "\ue000",
}


def home_call(address: str = "г. Астана, улица Сейфуллина, 10", complaints: str = "температура") -> HomeCallForm:
    return HomeCallForm(address=address, phone="+77011234567", complaints=complaints)


@pytest.mark.parametrize("name", sorted(INVISIBLE))
def test_invisible_and_control_characters_are_refused_in_free_text(name: str) -> None:
    char = INVISIBLE[name]
    for kwargs in ({"address": f"улица{char} Абая, 5"}, {"complaints": f"кашель{char}"}):
        with pytest.raises(ValidationError, match="not allowed"):
            home_call(**kwargs)
    with pytest.raises(ValidationError, match="not allowed"):
        AttachmentForm(reason="residence_change", new_address=f"улица Абая{char} 7")


def test_free_text_is_normalised_to_nfc() -> None:
    decomposed = "Cafe\u0301, улица Достык, 1"  # e + combining acute
    assert home_call(address=decomposed).address == "Café, улица Достык, 1"
    assert home_call(complaints="боль в горле, 38°").complaints == "боль в горле, 38°"  # ordinary text untouched
