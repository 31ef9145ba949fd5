"""The ingress app: webhooks, the approvals API, status reads and the codec server.

``create_app(settings, client)`` builds it for uvicorn (``python -m ingress``, or ``worker.py
--embedded``, which serves it beside the workers) and for the tests.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic.json_schema import models_json_schema
from sqlalchemy.exc import SQLAlchemyError
from temporalio.client import Client

from infra.codec import codec_server
from infra.settings import Settings
from ingress import approvals_api, routes_webhooks
from ingress.dedupe import EventLog
from ingress.keys import ApiKeys
from ingress.state import Ingress

logger = structlog.stdlib.get_logger("peyvand.ingress")

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

DESCRIPTION = """\
Doors into peyvand's workflows.

* **Webhooks** (`/webhooks/crm/…`, `/webhooks/erp/…`) are signed per source: header
  `X-Peyvand-Timestamp` (Unix seconds) and `X-Peyvand-Signature: sha256=<hex HMAC-SHA256 of
  "<timestamp>." + body>`. Each event carries `event_id`; a retried event acts once.
* **Approvals and status** take an API key in `X-API-Key`.
* **Codec server** (`/codec/encode`, `/codec/decode`) lets the Temporal Web UI decrypt payloads.
"""


def create_app(
    settings: Settings,
    client: Client,
    *,
    events: EventLog | None = None,
    keys: ApiKeys | None = None,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """The ingress for ``client`` (which must carry the codec, if history is encrypted).

    Args:
        events: The event log; default: ``settings.ingress_url``, closed with the app.
        keys: The API keys; default: the file ``settings.api_keys_path``.
        clock: Unix time, for the signatures' window.
    """
    own_log = events is None
    log = events or EventLog(settings.ingress_url)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await log.create_schema()
        try:
            yield
        finally:
            if own_log:
                await log.close()

    app = FastAPI(title="peyvand ingress", version="1", description=DESCRIPTION, lifespan=lifespan)
    app.state.ingress = Ingress(
        settings=settings,
        client=client,
        events=log,
        keys=keys or ApiKeys(settings.api_keys_path),
        clock=clock,
    )
    app.include_router(routes_webhooks.router)
    app.include_router(approvals_api.router)

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        # Nothing was acted on: an event is claimed before its action, and a failed action
        # gives the claim back. The sender retries on 503.
        what = "the ingress database" if isinstance(exc, SQLAlchemyError) else "a local resource"
        logger.error(f"{what} failed", path=request.url.path, error=str(exc))
        return JSONResponse({"detail": f"{what} is unavailable; retry later"}, status_code=503)

    metrics = app.state.ingress.metrics

    @app.middleware("http")
    async def measure(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        status = "500"  # unless the app answers: an exception no handler took is a 500
        try:
            response = await call_next(request)
            status = str(response.status_code)
            return response
        finally:
            route = request.scope.get("route")
            # The template, not the path, and only known methods: a label a caller can choose
            # freely would make a series per made-up value.
            template = getattr(route, "path", None) or "unmatched"
            method = request.method if request.method in METHODS else "OTHER"
            metrics.requests.labels(template, method, status).inc()
            metrics.latency.labels(template).observe(time.perf_counter() - started)

    @app.get(
        "/metrics",
        tags=["operations"],
        summary="Prometheus metrics of the ingress",
        response_class=PlainTextResponse,
    )
    async def prometheus() -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    app.add_exception_handler(SQLAlchemyError, unavailable)
    app.add_exception_handler(OSError, unavailable)

    @app.get("/healthz", tags=["operations"], summary="The ingress answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    codec = client.data_converter.payload_codec
    if codec is not None:
        app.mount("/codec", codec_server(codec, settings.codec_origins))
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document plus the webhook bodies, which the routes read themselves (so the
    signature is checked before the payload is looked at)."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    _, defs = models_json_schema(
        [(m, "validation") for m in routes_webhooks.WEBHOOK_MODELS],
        ref_template="#/components/schemas/{model}",
    )
    doc.setdefault("components", {}).setdefault("schemas", {}).update(defs.get("$defs", {}))
    app.openapi_schema = doc
    return doc
