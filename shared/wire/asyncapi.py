"""The bus's published contract, made from the message declarations (:data:`shared.wire.contracts.MESSAGES`):
an AsyncAPI 3 document and a JSON Schema per payload. Pure — no I/O: ``tools.asyncapi`` writes them to
``docs/contracts/`` (and the tests check those files are current); the gateway serves the document at
``GET /asyncapi.json``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from shared.wire import contracts as c
from shared.wire.envelope import Envelope
from shared.wire.refusals import REFUSAL_TEXTS, Refusal

EXTRA_MODELS: tuple[type[BaseModel], ...] = (c.SignedRequest, Envelope, *c.FORMS.values())


def schemas(ref_template: str = "#/$defs/{model}") -> dict[str, dict[str, Any]]:
    """JSON Schema of every payload and of the documents inside them, by model name (each standalone,
    with its own ``$defs``, unless ``ref_template`` points elsewhere)."""
    models: set[type[BaseModel]] = {
        m for spec in c.MESSAGES.values() for m in (spec.payload, spec.reply) if m is not None
    }
    models |= set(EXTRA_MODELS)
    return {model.__name__: model.model_json_schema(ref_template=ref_template) for model in models}


def asyncapi() -> dict[str, Any]:
    """The AsyncAPI 3 document: one channel per address's queue, one operation per message type."""
    components: dict[str, Any] = {}
    for name, schema in schemas("#/components/schemas/{model}").items():
        for inner, definition in schema.pop("$defs", {}).items():
            components[inner] = definition
        components[name] = schema
    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    delivered: dict[str, Any] = {}
    replies: dict[str, Any] = {}
    namespace = {"description": "the deployment's namespace, e.g. emhana"}
    address = {"description": "a participant's address on the gateway: portal, gbd_fl, arm.<БИН>, a partner's"}

    def message(type_: str, payload: str, summary: str, mode: str) -> dict[str, Any]:
        """A message as it is on the wire: the whole signed envelope is the body (its ``payload`` the type's
        contract); the AMQP properties and headers are bindings and headers, not the envelope."""
        return {
            "name": type_,
            "summary": summary,
            "x-emhana-mode": mode,
            "contentType": "application/json",
            "payload": {
                "allOf": [
                    {"$ref": "#/components/schemas/Envelope"},
                    {
                        "type": "object",
                        "properties": {
                            "type": {"const": type_},
                            "payload": {"$ref": f"#/components/schemas/{payload}"},
                        },
                    },
                ]
            },
            "headers": {"$ref": "#/components/schemas/AmqpHeaders"},
            "correlationId": {"location": "$message.payload#/correlation_id"},
            "bindings": {
                "amqp": {
                    "bindingVersion": "0.3.0",
                    "contentEncoding": "utf-8",
                    "messageType": type_,
                }
            },
        }

    for type_, spec in c.MESSAGES.items():
        key, payload, reply, summary = type_.replace(".", "_"), spec.payload, spec.reply, spec.summary
        messages[key] = message(type_, payload.__name__, summary, spec.mode)
        operation: dict[str, Any] = {
            "action": "send",
            "channel": {"$ref": "#/channels/gateway"},
            "summary": summary,
            "messages": [{"$ref": f"#/channels/gateway/messages/{key}"}],
            "bindings": {
                "amqp": {
                    "bindingVersion": "0.3.0",
                    "deliveryMode": 1 if spec.mode == "sync" else 2,
                    "ack": spec.mode != "sync",
                }
            },
        }
        if reply is not None:
            replies[f"{key}_reply"] = message(c.reply_type(type_), reply.__name__, f"The answer to {type_}.", "sync")
            operation["reply"] = {
                "channel": {"$ref": "#/channels/replyTo"},
                "messages": [
                    {"$ref": f"#/channels/replyTo/messages/{key}_reply"},
                    {"$ref": "#/channels/replyTo/messages/refusal"},
                ],
            }
        operations[f"send_{key}"] = operation
        if spec.mode != "sync":  # what a participant gets in its own queue, delivered and stamped by the gateway
            delivered[key] = {"$ref": f"#/channels/gateway/messages/{key}"}
            operations[f"receive_{key}"] = {
                "action": "receive",
                "channel": {"$ref": "#/channels/delivery"},
                "summary": f"{summary} (delivered by the gateway, with its stamp)",
                "messages": [{"$ref": f"#/channels/delivery/messages/{key}"}],
            }
    replies["refusal"] = {"$ref": "#/channels/gateway/messages/refusal"}
    components["AmqpHeaders"] = {
        "type": "object",
        "description": "AMQP headers: the envelope itself is the body, never in headers.",
        "properties": {
            "x-emhana-gateway-stamp": {
                "type": "string",
                "description": "the gateway's signed stamp on what it delivers; set by the gateway only",
            },
            "traceparent": {"type": "string", "description": "W3C trace context (optional)"},
        },
    }
    refusals = {
        code.value: {"text": text, "rule": rule} for code, (text, rule) in REFUSAL_TEXTS.items() if code in Refusal
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Emhana bus",
            "version": "1.0.0",
            "description": (
                "Signed envelopes between the participants of the regulation, always through the gateway "
                "(ШЭП). The envelope is the message body; its `signature` is a detached JWS (RS256/ES256, "
                "x5c chain) over the RFC 8785 canonical JSON of the other fields. Deliveries carry the "
                "gateway's stamp in the AMQP header x-emhana-gateway-stamp. Requests awaiting an answer "
                "use RabbitMQ Direct Reply-To. Refusal codes: see x-refusal-codes."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {"broker": {"host": "rabbitmq:5672", "protocol": "amqp", "protocolVersion": "0.9.1"}},
        "channels": {
            "gateway": {
                "address": "{namespace}.gateway.in",
                "description": "Everything is sent here; the gateway verifies, routes and stamps it.",
                "parameters": {"namespace": namespace},
                "messages": messages,
                "bindings": {"amqp": queue_binding("the gateway's inbound queue")},
            },
            "delivery": {
                "address": "{namespace}.{address}.in",
                "description": (
                    "A participant's own queue (a service, a clinic arm.<БИН>, a partner): what the gateway "
                    "delivers to it, stamped. Durable quorum queue with a delivery limit."
                ),
                "parameters": {"namespace": namespace, "address": address},
                "messages": delivered,
                "bindings": {"amqp": queue_binding("a participant's delivery queue")},
            },
            "deadLetters": {
                "address": "{namespace}.{address}.dlq",
                "description": "What could not be processed after the delivery limit; bounded in length and age.",
                "parameters": {"namespace": namespace, "address": address},
                "bindings": {"amqp": queue_binding("a participant's dead-letter queue")},
            },
            "replyTo": {
                "address": "amq.rabbitmq.reply-to",
                "description": (
                    "RabbitMQ Direct Reply-To: consume it (no-ack) on the channel you publish a request on; "
                    "the answer — the recipient's signed reply or the gateway's signed refusal — comes here."
                ),
                "messages": replies,
            },
        },
        "operations": operations,
        "components": {"schemas": dict(sorted(components.items()))},
        "x-refusal-codes": refusals,
    }


def queue_binding(name: str) -> dict[str, Any]:
    return {
        "bindingVersion": "0.3.0",
        "is": "queue",
        "queue": {"name": name, "durable": True, "exclusive": False, "autoDelete": False},
    }
