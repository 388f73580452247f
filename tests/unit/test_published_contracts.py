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
    schemas = document["components"]["schemas"]
    for message in document["channels"]["gateway"]["messages"].values():
        # The whole envelope is the body: the envelope's schema, its type fixed, its payload the contract.
        envelope, specific = message["payload"]["allOf"]
        assert envelope == {"$ref": "#/components/schemas/Envelope"}
        assert specific["properties"]["type"] == {"const": message["name"]}
        name = specific["properties"]["payload"]["$ref"].rsplit("/", 1)[1]
        assert name in schemas, name  # every reference resolves
        assert message["headers"] == {"$ref": "#/components/schemas/AmqpHeaders"}
        assert message["bindings"]["amqp"]["messageType"] == message["name"]
    assert "x-emhana-gateway-stamp" in schemas["AmqpHeaders"]["properties"]
    channels = document["channels"]
    assert channels["delivery"]["address"] == "{namespace}.{address}.in"
    assert channels["deadLetters"]["address"] == "{namespace}.{address}.dlq"
    assert channels["replyTo"]["address"] == "amq.rabbitmq.reply-to"
    operations = document["operations"]
    lookup = operations["send_person_lookup"]
    assert lookup["action"] == "send" and lookup["reply"]["channel"] == {"$ref": "#/channels/replyTo"}
    assert "receive_person_lookup" not in operations  # only ever answered: never delivered to a queue
    assert operations["receive_eservice_status"]["action"] == "receive"
    for operation in operations.values():  # every reference resolves in the document
        for ref in [operation["channel"]["$ref"], *(m["$ref"] for m in operation["messages"])]:
            node: object = document
            for part in ref.removeprefix("#/").split("/"):
                assert isinstance(node, dict) and part in node, ref
                node = node[part]
