"""Serving the ingress with uvicorn: alone (``python -m ingress``) or inside ``worker.py``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import structlog
import uvicorn
from fastapi import FastAPI

from infra.devserver import port_open
from infra.settings import Settings
from infra.startup import StartupError
from infra.temporal import connect
from ingress.app import create_app

log = structlog.stdlib.get_logger("peyvand.ingress")


class Server(uvicorn.Server):
    """uvicorn without signal handlers of its own: the process that embeds it (``worker.py``)
    owns SIGINT/SIGTERM and stops it by setting ``should_exit``."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def config(app: FastAPI, settings: Settings) -> uvicorn.Config:
    """uvicorn's configuration for the app on the configured host and port."""
    # log_config=None: uvicorn's lines go through the process's logging (infra/logging.py).
    return uvicorn.Config(
        app,
        host=settings.ingress_host,
        port=settings.ingress_port,
        log_level="warning",
        log_config=None,
    )


@contextlib.asynccontextmanager
async def running(app: FastAPI, settings: Settings) -> AsyncIterator[Server]:
    """Serve the app in the background for as long as the context lasts.

    Raises:
        RuntimeError: The server could not start (the port is taken, for one).
    """
    probe = "127.0.0.1" if settings.ingress_host in ("0.0.0.0", "::", "") else settings.ingress_host
    if port_open(probe, settings.ingress_port):
        raise StartupError(
            f"port {settings.ingress_port} is taken on {probe}: set PEYVAND_INGRESS_PORT, "
            "or run without the ingress (--no-ingress)"
        )
    srv = Server(config(app, settings))
    task = asyncio.create_task(srv.serve())
    while not srv.started:
        if task.done():
            task.result()  # re-raises why it stopped, if it raised
            raise StartupError(
                f"the ingress could not listen on {settings.ingress_host}:"
                f"{settings.ingress_port} (set PEYVAND_INGRESS_PORT)"
            )
        await asyncio.sleep(0.05)
    try:
        yield srv
    finally:
        srv.should_exit = True
        await task


async def serve(settings: Settings) -> None:
    """Serve the ingress until SIGINT/SIGTERM.

    Its own metrics are at ``GET /metrics``; with ``PEYVAND_METRICS_ADDRESS`` set, the SDK's
    runtime metrics of its Temporal client (requests, failures, latencies) are served there too,
    as a worker's are.
    """
    client = await connect(settings, metrics=True)
    app = create_app(settings, client)
    log.info("ingress on http://%s:%s", settings.ingress_host, settings.ingress_port)
    await uvicorn.Server(config(app, settings)).serve()
