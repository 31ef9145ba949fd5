"""The worker's Temporal runtime: the SDK core's logs forwarded into our logging, and, when
``metrics_address`` is set, a Prometheus endpoint with the SDK's runtime metrics and peyvand's
business metrics (``workflows/metrics.py``), served by the SDK's own exporter.

One runtime per process and address: the exporter binds its port when the runtime is made, so a
second client in the same process must share it rather than bind again.
"""

from __future__ import annotations

import logging

from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

from infra.settings import Settings
from infra.startup import StartupError
from workflows.metrics import BUCKETS

_runtimes: dict[str | None, Runtime] = {}


def prometheus_runtime(address: str | None) -> Runtime:
    """The runtime exporting on ``address`` (``host:port``; None: no endpoint), made on first use.

    Counters end in ``_total`` and durations are seconds, as Prometheus conventions want. The
    core's own warnings go to the ``temporalio.core`` logger, so they come out in the process's
    log format (JSON in production) instead of as raw console lines.

    Raises:
        RuntimeError: The address cannot be bound (the port is taken, for one).
    """
    runtime = _runtimes.get(address)
    if runtime is None:
        metrics = (
            PrometheusConfig(
                bind_address=address,
                counters_total_suffix=True,
                durations_as_seconds=True,
                histogram_bucket_overrides=BUCKETS,
            )
            if address
            else None
        )
        forwarded = LoggingConfig(
            filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
            forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
        )
        try:
            runtime = Runtime(telemetry=TelemetryConfig(logging=forwarded, metrics=metrics))
        except ValueError as err:  # the exporter could not bind
            raise StartupError(
                f"the metrics endpoint cannot listen on {address} ({err}): "
                "set PEYVAND_METRICS_ADDRESS to a free host:port"
            ) from err
        _runtimes[address] = runtime
    return runtime


def runtime_for(settings: Settings) -> Runtime:
    """The worker runtime for these settings (exporting when ``metrics_address`` is set)."""
    return prometheus_runtime(settings.metrics_address)
