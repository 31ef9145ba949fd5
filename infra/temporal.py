"""One way to connect to Temporal, shared by the worker, the CLI, the demo and the benchmark."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client, TLSConfig
from temporalio.common import SearchAttributeKey
from temporalio.service import RPCError, RPCStatusCode

from infra.codec import data_converter, keyring_for
from infra.metrics import runtime_for
from infra.settings import Settings
from infra.tracing import tracing_interceptors


def _tls(settings: Settings) -> bool | TLSConfig:
    if settings.temporal_tls_cert and settings.temporal_tls_key:
        return TLSConfig(
            client_cert=settings.temporal_tls_cert.read_bytes(),
            client_private_key=settings.temporal_tls_key.read_bytes(),
        )
    return settings.temporal_tls or settings.temporal_api_key is not None


async def connect(settings: Settings, *, metrics: bool = False) -> Client:
    """A client for the configured server and namespace, speaking pydantic models.

    mTLS when a client certificate and key are configured; TLS with an API key for Temporal Cloud.
    Payloads are encrypted when codec keys are configured (see ``infra/codec.py``).

    Args:
        metrics: Use the worker runtime: the SDK core's logs in our log format and, when
            ``settings.metrics_address`` is set, the SDK's and the workflows' metrics exported
            there (workers ask for it; the CLI doesn't, so it never competes for the port).
    """
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        tls=_tls(settings),
        api_key=settings.temporal_api_key,
        data_converter=data_converter(keyring_for(settings)),
        interceptors=tracing_interceptors(settings),
        runtime=runtime_for(settings) if metrics else None,
    )


async def register_search_attributes(
    client: Client, keys: Sequence[SearchAttributeKey[Any]], namespace: str = "default"
) -> None:
    """Register typed search attributes on a server (idempotent: known ones are skipped).

    The dev server gets them from its start flags; the time-skipping test server and a
    self-hosted cluster need this call once.
    """
    wanted = {
        key.name: IndexedValueType.Value(f"INDEXED_VALUE_TYPE_{key.indexed_value_type.name}")
        for key in keys
    }
    try:
        known = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        missing = {k: v for k, v in wanted.items() if k not in known.custom_attributes}
    except RPCError as err:
        # The time-skipping test server cannot list them, only add.
        if err.status is not RPCStatusCode.UNIMPLEMENTED:
            raise
        missing = wanted
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
