"""What every service does at start and stop, in one place.

A service builds a :class:`ServiceRuntime` from its settings, its database metadata and its message
routes, and hands ``runtime.lifespan`` to FastAPI. Start-up order: logging → database → trust store →
own certificate → broker → topology → consumers; shutdown in reverse, letting handlers finish.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager, suppress
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import MetaData

from shared.messaging.bus import Bus
from shared.messaging.dispatch import GATEWAY_ANSWER_MARGIN_SECONDS, Dispatcher, MeshClient, MeshEndpoint, Route
from shared.messaging.inbox import Inbox
from shared.messaging.topology import declare
from shared.platform import logs, migrate, tracing
from shared.platform.db import Database
from shared.platform.http import COMMON_ERRORS, BodyLimit, InFlightLimit, error_responses, install_error_handlers
from shared.platform.metrics import UP, HttpMetrics, metrics_endpoint
from shared.platform.settings import ServiceSettings
from shared.wire.certs import TrustStore
from shared.wire.clock import Clock
from shared.wire.contracts import MAX_DOCUMENT_BYTES
from shared.wire.envelope import MAX_TTL, ServiceIdentity
from shared.wire.topology import GATEWAY, queue_name

log = logging.getLogger(__name__)

Hook = Callable[["ServiceRuntime"], Awaitable[None]]


class ServiceRuntime:
    """Shared lifecycle: database, trust store, identity, bus, dispatcher, health endpoints."""

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        metadata: MetaData | None = None,
        routes: dict[str, Route[Any]] | None = None,
        on_start: Hook | None = None,
    ) -> None:
        self.settings = settings
        self.metadata = metadata or MetaData()
        self.inbox = Inbox(self.metadata)
        self.routes = routes or {}
        self.on_start = on_start
        self.clock = Clock(settings.clock_offset_seconds)
        self.db = Database(settings.db_url, service=settings.service)
        self.bus = Bus(
            settings.amqp_url, name=settings.service, prefetch=settings.prefetch, delivery_limit=settings.delivery_limit
        )
        self.store: TrustStore
        self.identity: ServiceIdentity
        self.client: MeshClient
        self.dispatcher: Dispatcher
        self.addresses: list[str] = [settings.service]
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        logs.configure(self.settings.service, self.settings.log_level)
        await migrate.upgrade(self.db, self.settings.service, self.metadata)
        pki = self.settings.pki
        self.store = TrustStore.from_files(
            pki / "trust.pem", pki / "crl", clock=self.clock, refresh_seconds=self.settings.crl_refresh_seconds
        )
        self.identity = ServiceIdentity.from_keys(
            self.settings.service, self.settings.keys, self.settings.certificate_name
        )
        await self.bus.connect()
        endpoint = MeshEndpoint(
            bus=self.bus, identity=self.identity, store=self.store, clock=self.clock, namespace=self.settings.namespace
        )
        self.client = MeshClient(endpoint, timeout=self.settings.rpc_timeout_seconds + GATEWAY_ANSWER_MARGIN_SECONDS)
        self.dispatcher = Dispatcher(
            endpoint,
            self.routes,
            db=self.db,
            inbox=self.inbox,
            max_message_bytes=self.settings.max_message_bytes,
            sync_patience=dt.timedelta(seconds=self.settings.rpc_timeout_seconds + GATEWAY_ANSWER_MARGIN_SECONDS),
        )
        if self.on_start is not None:
            await self.on_start(self)
        self.background(self._purge_inbox())
        await self.declare([GATEWAY, *self.addresses])
        self.dispatcher.addresses = set(self.addresses)
        if self.routes:
            for address in self.addresses:
                await self.bus.consume(queue_name(self.settings.namespace, address), self.dispatcher.handle)
        UP.labels(self.settings.service).set(1)
        log.info("started", extra={"addresses": ",".join(self.addresses), "port": self.settings.port})

    async def _purge_inbox(self) -> None:
        while True:
            await asyncio.sleep(3600)
            try:
                cutoff = self.clock.now() - dt.timedelta(days=self.settings.inbox_retention_days)
                async with self.db.transaction() as session:
                    # Never forget an id that a still-valid envelope could carry (replays must stay refused).
                    removed = await self.inbox.purge(session, min(cutoff, self.clock.now() - MAX_TTL * 2))
                log.info("processed message ids purged", extra={"removed": removed})
            except Exception:
                log.exception("inbox purge failed")

    async def declare(self, addresses: list[str]) -> None:
        assert self.bus.connection is not None, "bus not connected"
        await declare(
            self.bus.connection,
            self.settings.namespace,
            addresses,
            self.settings.delivery_limit,
            self.settings.dead_letter_limits(),
        )

    def background(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run a periodic job for the service's lifetime; cancelled at stop."""
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        with suppress(Exception):
            await self.bus.close()
        await self.db.close()
        log.info("stopped")

    @asynccontextmanager
    async def lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    def health_router(self) -> APIRouter:
        router = APIRouter(prefix="/health", tags=["health"])

        @router.get("/live")
        async def live() -> dict[str, str]:
            """The process is up."""
            return {"status": "ok", "service": self.settings.service}

        @router.get("/ready")
        async def ready() -> JSONResponse:
            """Broker connected and database answering."""
            checks = {"broker": self.bus.is_ready, "database": False}
            with suppress(Exception):
                await asyncio.wait_for(self.db.ping(), 2.0)
                checks["database"] = True
            ok = all(checks.values())
            return JSONResponse(
                status_code=200 if ok else 503,
                content={"status": "ok" if ok else "unavailable", "service": self.settings.service, "checks": checks},
            )

        return router

    def create_app(self, title: str, description: str, routers: list[APIRouter] | None = None) -> FastAPI:
        """FastAPI app with this runtime's lifespan, health endpoints and typed error handlers."""
        app = FastAPI(
            title=title,
            description=description,
            version="0.1.0",
            lifespan=self.lifespan,
            responses=error_responses(*COMMON_ERRORS),
        )
        app.add_route("/metrics", metrics_endpoint, include_in_schema=False)
        upload_limit = MAX_DOCUMENT_BYTES + 64 * 1024
        app.add_middleware(
            BodyLimit,
            limit=self.settings.max_body_bytes,
            larger={"/uploads": upload_limit},
        )
        app.add_middleware(InFlightLimit, limit=self.settings.max_in_flight)
        app.add_middleware(HttpMetrics, service=self.settings.service)
        install_error_handlers(app)
        app.include_router(self.health_router())
        for router in routers or []:
            app.include_router(router)
        app.state.runtime = self
        tracing.configure(self.settings.service, app, self.db.engine)
        return app
