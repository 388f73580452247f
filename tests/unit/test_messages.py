"""Every message type is declared once (:data:`shared.wire.contracts.MESSAGES`), and what derives from the
declaration agrees with it: the dispatcher parses payloads and checks replies by it, every service's routes
handle declared types, the gateway's rights name only declared types, the AsyncAPI document lists each.
The dispatcher's part runs on the in-memory bus with the services' real ``ping`` route."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from services.arm.handlers import routes as arm_routes
from services.gateway.access import AccessRights
from services.gbd_fl.handlers import routes as gbd_fl_routes
from services.portal.handlers import routes as portal_routes
from services.signature.ca import DevCA, bootstrap
from services.signature.handlers import routes as signature_routes
from shared.messaging.dispatch import Dispatcher, MeshEndpoint, MessageContext, Route, basic_routes
from shared.messaging.memory import MemoryBus
from shared.wire.certs import TrustStore
from shared.wire.clock import Clock
from shared.wire.contracts import MESSAGE_TYPES, MESSAGES, PING, PONG, REFUSAL, Ping, Pong, RefusalPayload, Verdict
from shared.wire.envelope import ServiceIdentity, peek, seal
from shared.wire.refusals import Refusal
from shared.wire.stamp import STAMP_HEADER, make_stamp
from shared.wire.topology import GATEWAY, queue_name
from tools.asyncapi import asyncapi

NAMESPACE = "messages"


def test_each_declaration_is_consistent_and_the_rights_and_asyncapi_follow_it() -> None:
    assert MESSAGE_TYPES == frozenset(MESSAGES)
    for name, spec in MESSAGES.items():
        assert spec.name == name and spec.summary
        # Asked synchronously means answered: a reply model exactly when the type may be asked so.
        assert (spec.reply is not None) == (spec.mode in ("sync", "both")), name
    rights = AccessRights.load().rights
    assert {t for right in rights for t in right.types} <= MESSAGE_TYPES
    document = asyncapi()
    assert {m["name"] for m in document["channels"]["gateway"]["messages"].values() if "x-emhana-mode" in m} == set(
        MESSAGES
    )


def test_every_service_routes_only_declared_types_and_every_type_has_a_handler() -> None:
    nothing = cast(Any, None)  # the route tables close over these; building them touches neither
    tables = {
        "arm": arm_routes(nothing, nothing),
        "gbd_fl": gbd_fl_routes(nothing),
        "portal": portal_routes(nothing, nothing),
        "signature": signature_routes(nothing),
    }
    for service, table in tables.items():
        assert set(table) <= MESSAGE_TYPES, service
    assert set().union(*tables.values()) == MESSAGE_TYPES  # nothing declared that no one handles


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ca = DevCA(tmp_path_factory.mktemp("pki"), clock=Clock())
    bootstrap(ca, population_size=0)
    return ca.folder


class Mesh:
    """One dispatcher (gbd_fl's address) on a memory bus, and a portal that sends it stamped messages."""

    def __init__(self, pki: Path, routes: dict[str, Route[Any]]) -> None:
        self.clock = Clock()
        self.bus = MemoryBus(delivery_limit=1)
        store = TrustStore.from_files(pki / "trust.pem", pki / "crl", clock=self.clock)
        identity = ServiceIdentity.from_pki("gbd_fl", pki, "service-gbd_fl")
        self.dispatcher = Dispatcher(MeshEndpoint(self.bus, identity, store, self.clock, NAMESPACE), routes)
        self.dispatcher.addresses = {"gbd_fl"}
        self.portal = ServiceIdentity.from_pki("portal", pki, "service-portal")
        self.gateway = ServiceIdentity.from_pki("gateway", pki, "service-gateway")
        self.queue = queue_name(NAMESPACE, "gbd_fl")

    async def start(self) -> None:
        await self.bus.consume(self.queue, self.dispatcher.handle)

    def sealed(self, payload: dict[str, Any], *, sync: bool) -> tuple[str, bytes, dict[str, Any]]:
        message_id, raw = seal(self.portal, type=PING, recipient="gbd_fl", payload=payload, clock=self.clock)
        envelope = peek(raw)
        assert envelope is not None
        return (
            str(message_id),
            raw,
            {STAMP_HEADER: make_stamp(self.gateway, envelope, raw, self.clock.now(), sync=sync)},
        )

    async def ask(self, payload: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        message_id, raw, headers = self.sealed(payload, sync=True)
        reply = await self.bus.request(self.queue, raw, message_id=message_id, timeout=5, type=PING, headers=headers)
        answer = peek(reply.body)
        assert answer is not None
        return answer.type, answer.payload

    async def send(self, payload: dict[str, Any]) -> str:
        message_id, raw, headers = self.sealed(payload, sync=False)
        await self.bus.publish(self.queue, raw, message_id=message_id, type=PING, headers=headers)
        return message_id


async def test_the_dispatcher_parses_by_the_declaration_and_dumps_the_declared_reply(pki: Path) -> None:
    mesh = Mesh(pki, basic_routes("gbd_fl"))
    await mesh.start()
    kind, payload = await mesh.ask({})
    assert kind == "ping.reply"
    assert Pong.model_validate(payload).service == "gbd_fl"
    kind, payload = await mesh.ask({"not_in_the_contract": 1})  # Ping forbids unknown fields
    assert kind == REFUSAL and RefusalPayload.model_validate(payload).code is Refusal.MALFORMED
    # An asynchronous ping asking for a pong: the handler got the parsed flag and sent a typed Pong.
    await mesh.send(Ping(reply_async=True).model_dump(mode="json"))
    sent = [peek(m.body) for key, m in mesh.bus.published if key == queue_name(NAMESPACE, GATEWAY)]
    assert [e.type for e in sent if e is not None] == [PONG]
    assert Pong.model_validate(sent[0].payload).address == "gbd_fl"  # type: ignore[union-attr]


async def test_a_reply_of_the_wrong_model_is_a_bug_never_sent(pki: Path) -> None:
    handled: list[Ping] = []

    async def wrong(_context: MessageContext, ping: Ping) -> Verdict:
        handled.append(ping)
        return Verdict(valid=True)  # ping replies Pong

    mesh = Mesh(pki, {PING: Route(wrong)})
    await mesh.start()
    message_id = await mesh.send({})
    assert len(handled) == 2  # delivered, failed, redelivered once (the limit), failed: then parked
    assert [m.message_id for m in mesh.bus.dead_letters[mesh.queue]] == [message_id]
    assert not [m for key, m in mesh.bus.published if key != mesh.queue]  # nothing went out
