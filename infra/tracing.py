"""OpenTelemetry tracing through the Temporal SDK's ``TracingInterceptor``; off unless configured.

Set ``PEYVAND_OTEL_ENDPOINT`` (an OTLP/HTTP traces URL such as
``http://otel-collector:4318/v1/traces``) and every client made by ``infra.temporal.connect`` gets
a ``TracingInterceptor``. Workers built from such a client inherit it, so one trace follows an
order from ``StartWorkflow:OrderToCashWorkflow`` through ``RunWorkflow:…``, ``StartActivity:…``
and ``RunActivity:…`` (and child workflows) across processes.

Design:

* The spans go to a ``TracerProvider`` of this module's own, handed to the interceptor as its
  tracer. The global provider (``opentelemetry.trace.set_tracer_provider``, settable once per
  process) is never touched, so tests and several clients in one process do not collide.
* Each provider is kept in a module-level registry until ``shutdown_tracing()`` flushes and
  shuts it down. Providers also flush at interpreter exit on their own (the SDK's
  ``shutdown_on_exit``), so calling ``shutdown_tracing()`` is only needed to flush earlier,
  e.g. at the end of a worker's run or of a test.
* Off (no endpoint, no exporter), ``tracing_interceptors`` returns ``[]``: the OpenTelemetry
  SDK, the OTLP exporter and the SDK's contrib interceptor are imported only when tracing is
  on, so importing this module costs nothing extra.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from infra.settings import Settings

if TYPE_CHECKING:
    import temporalio.client
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

__all__ = ["EXPORT_TIMEOUT_SECONDS", "shutdown_tracing", "tracing_interceptors"]

EXPORT_TIMEOUT_SECONDS = 10.0
"""How long one OTLP export may take before it is given up (the SDK's default is also 10 s)."""

_providers: list[TracerProvider] = []
_lock = threading.Lock()


def tracing_interceptors(
    settings: Settings, *, exporter: SpanExporter | None = None
) -> list[temporalio.client.Interceptor]:
    """The client interceptors that trace Temporal calls; empty when tracing is off.

    Tracing is on when ``settings.otel_endpoint`` is set or an ``exporter`` is given. The spans
    then go to a new ``TracerProvider`` whose resource has ``service.name`` =
    ``settings.otel_service_name``:

    * without ``exporter``, batched (``BatchSpanProcessor``) to an OTLP/HTTP (protobuf) exporter
      at ``settings.otel_endpoint``; nothing is sent until a batch is due or flushed;
    * with ``exporter`` (tests pass an ``InMemorySpanExporter``), one span at a time
      (``SimpleSpanProcessor``), so each span is exported as soon as it ends.

    The provider is registered for ``shutdown_tracing()``; the global tracer provider is left
    alone. Pass the result as ``interceptors=`` to ``Client.connect``: the interceptor is also a
    worker interceptor, so workers built from that client trace workflows and activities too.

    Args:
        settings: The ``otel_endpoint`` and ``otel_service_name`` to use.
        exporter: Export spans here instead of to ``settings.otel_endpoint``.

    Returns:
        ``[TracingInterceptor(tracer)]`` when tracing is on, else ``[]``.
    """
    if settings.otel_endpoint is None and exporter is None:
        return []

    # Imported here so that a process without tracing never loads the OpenTelemetry SDK.
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    from temporalio.contrib.opentelemetry import TracingInterceptor

    processor: SpanProcessor
    if exporter is not None:
        processor = SimpleSpanProcessor(exporter)
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        processor = BatchSpanProcessor(
            OTLPSpanExporter(endpoint=settings.otel_endpoint, timeout=EXPORT_TIMEOUT_SECONDS)
        )
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: settings.otel_service_name}))
    provider.add_span_processor(processor)
    with _lock:
        _providers.append(provider)
    return [TracingInterceptor(provider.get_tracer("peyvand"))]


def shutdown_tracing() -> None:
    """Flush and shut down every provider ``tracing_interceptors`` made (idempotent).

    Pending spans are exported first (each export bounded by ``EXPORT_TIMEOUT_SECONDS``).
    Interceptors made before the call stop exporting; call ``tracing_interceptors`` again for
    new ones. Without this call the providers still flush at interpreter exit.
    """
    with _lock:
        providers = list(_providers)
        _providers.clear()
    for provider in providers:
        provider.shutdown()
