"""The published contracts (docs/contracts/) are what the code says, and they describe every message."""

from __future__ import annotations

import json

from shared.wire.contracts import MESSAGE_TYPES
from shared.wire.refusals import Refusal
from tools import asyncapi


def test_the_published_files_are_current() -> None:
    assert asyncapi.main(["--check"]) == 0, "run `python -m tools.asyncapi` and commit docs/contracts/"


def test_the_asyncapi_document_covers_every_message_type_and_refusal_code() -> None:
    document = json.loads((asyncapi.OUT / "asyncapi.json").read_text())
    assert document["asyncapi"].startswith("3.")
    names = {m["name"] for m in document["channels"]["gateway"]["messages"].values()}
    assert names >= MESSAGE_TYPES
    assert set(document["x-refusal-codes"]) == {code.value for code in Refusal}
    for message in document["channels"]["gateway"]["messages"].values():  # every reference resolves
        name = message["payload"]["$ref"].rsplit("/", 1)[1]
        assert name in document["components"]["schemas"], name
