"""Run a service: ``python -m services.<name>.app`` → uvicorn on the service's configured port."""

from __future__ import annotations

import os
from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from shared.platform.http import ForwardedHeaders
from shared.platform.settings import ServiceSettings


def private_files() -> None:
    """Files the service creates from now on (SQLite databases holding password hashes, their WAL and
    journal files, anything else) are readable and writable by its own user only: mode 0600."""
    os.umask(0o077)


def serve(create_app: Callable[[ServiceSettings], FastAPI], settings: ServiceSettings) -> None:
    """Start uvicorn for one service; Ctrl-C / SIGTERM stop it cleanly through the lifespan."""
    private_files()
    uvicorn.run(
        ForwardedHeaders(create_app(settings), settings.trusted_proxies),
        host=settings.http_host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
        # Keep idle connections longer than clients do (httpx: 5 s), so that the client, not the server,
        # closes them: otherwise a request sent on a connection the server is closing fails mid-flight.
        timeout_keep_alive=75,
        # Forwarded headers are believed only from proxies named in the settings, all alike (ForwardedHeaders;
        # uvicorn's own would trust X-Forwarded-For from 127.0.0.1 and knows nothing of X-Forwarded-Host).
        proxy_headers=False,
    )
