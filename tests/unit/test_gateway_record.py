"""The gateway's record of accepted messages: a redelivery is delivered again only while the journal holds
no outcome of the genuine message's delivery (the gateway died between accepting and delivering it)."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from alembic import command
from sqlalchemy import MetaData, text

from services.gateway.access import AccessRights
from services.gateway.journal import row
from services.gateway.models import Base
from services.gateway.service import Gateway, in_hand
from services.mesh import metadata_of
from shared.platform import migrate
from shared.wire.envelope import Envelope
from shared.wire.refusals import Refusal
from tests.databases import temporary_database

NOW = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)


def envelope(message_id: uuid.UUID) -> Envelope:
    return Envelope.model_validate(
        {
            "id": str(message_id),
            "type": "ping",
            "sender": "portal",
            "recipient": "gbd_fl",
            "correlation_id": None,
            "issued_at": NOW.isoformat(),
            "expires_at": (NOW + dt.timedelta(minutes=5)).isoformat(),
            "payload": {},
            "signature": "x..y",
        }
    )


def gateway(db: Any) -> Gateway:
    runtime = SimpleNamespace(db=db, settings=SimpleNamespace(rpc_timeout_seconds=10))
    return Gateway(runtime, AccessRights([]))  # type: ignore[arg-type]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_redelivery_is_delivered_only_while_its_delivery_has_no_outcome(backend: str, tmp_path: Path) -> None:
    async with temporary_database(backend, tmp_path, Base.metadata) as db:
        gw = gateway(db)
        message_id = uuid.uuid4()
        assert await gw.accept("portal", message_id, NOW, redelivered=False)  # the first arrival
        assert not await gw.accept("portal", message_id, NOW, redelivered=False)  # a copy: a replay
        # The gateway died before delivering it: the broker's redelivery is delivered.
        assert await gw.accept("portal", message_id, NOW, redelivered=True)
        gw.in_hand.add(in_hand("portal", message_id))
        assert not await gw.accept("portal", message_id, NOW, redelivered=True)  # not while this process holds it
        gw.in_hand.clear()
        # A forged copy carrying the same id, refused at admission, is no outcome of the genuine delivery;
        # nor is the refusal of a replayed copy.
        for refused in (Refusal.SIGNATURE_INVALID, Refusal.REPLAYED):
            await gw.journal.envelope(envelope(message_id), "async", b"{}", NOW, f"refused:{refused}")
        assert await gw.accept("portal", message_id, NOW, redelivered=True)
        await gw.journal.envelope(envelope(message_id), "async", b"{}", NOW, "delivered")
        assert not await gw.accept("portal", message_id, NOW, redelivered=True)  # finished: never delivered again
        other = uuid.uuid4()
        assert await gw.accept("portal", other, NOW, redelivered=False)
        await gw.journal.envelope(envelope(other), "sync", b"{}", NOW, f"refused:{Refusal.TIMEOUT}")
        assert not await gw.accept("portal", other, NOW, redelivered=True)  # a refusal at delivery is an outcome too
        # Ids are the senders' own: another sender's message with the portal's id is another message.
        clinic = "arm.980440012347"
        assert await gw.accept(clinic, message_id, NOW, redelivered=False)
        assert not await gw.accept(clinic, message_id, NOW, redelivered=False)  # its own copy is a replay
        assert await gw.accept(clinic, message_id, NOW, redelivered=True)  # the portal's outcome is not its


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_downgrade_fills_the_outcome_column_back_from_the_journal(backend: str, tmp_path: Path) -> None:
    async with temporary_database(backend, tmp_path, MetaData()) as db:
        await migrate.upgrade(db, "gateway", metadata_of("gateway"))
        delivered, unfinished = uuid.uuid4(), uuid.uuid4()
        gw = gateway(db)
        for message_id in (delivered, unfinished):
            assert await gw.accept("portal", message_id, NOW, redelivered=False)
        await gw.journal.rows(
            [
                row(envelope(delivered), "async", b"{}", NOW, f"refused:{Refusal.SIGNATURE_INVALID}"),
                row(envelope(delivered), "async", b"{}", NOW, "delivered"),
                row(envelope(unfinished), "async", b"{}", NOW, f"refused:{Refusal.REPLAYED}"),
            ]
        )

        def downgrade(connection) -> None:  # type: ignore[no-untyped-def]
            config = migrate.alembic_config("gateway")
            config.attributes["connection"] = connection
            command.downgrade(config, "0002")

        async with db.engine.begin() as connection:
            await connection.run_sync(downgrade)
        async with db.engine.connect() as connection:
            outcomes = dict(list(await connection.execute(text("SELECT message_id, outcome FROM accepted_messages"))))
        assert outcomes == {str(delivered): "delivered", str(unfinished): None}
