"""OpenTelemetry tracing (``infra/tracing.py``): off by default, one trace per order when on.

The workflow test runs a whole order (reserved, shipped, paid) on the time-skipping server with
the fakes, through a client made with ``tracing_interceptors`` and workers built from that
client, under the sandbox ``worker.py`` gives that client (``workflow_runner``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.approvals import ApprovalActivities
from activities.crm import CrmActivities
from activities.erp import ErpActivities
from adapters.policy_file import StaticPolicySource
from adapters.sandbox.directory import StaticDirectory
from domain.orders import OrderPolicy, OrderStatus
from infra.settings import Settings
from infra.temporal import connect
from infra.tracing import shutdown_tracing, tracing_interceptors
from tests.workflows.conftest import O2C, POLICY, seed
from worker import workflow_runner
from workflows.approval_chain.workflow import ApprovalChainWorkflow
from workflows.order_to_cash.models import (
    ORDER_TO_CASH_VERSION,
    OrderToCashInput,
    PaymentNotice,
    workflow_id,
)
from workflows.order_to_cash.workflow import OrderToCashWorkflow

UNREACHABLE = "http://127.0.0.1:9/v1/traces"  # nothing is ever sent there in these tests


def settings(tmp_path: Path, **fields: Any) -> Settings:
    """Settings from these fields only: no environment, no ``.env``, no ``data/`` keys."""
    return Settings(_env_file=None, data_dir=tmp_path, **fields)


@pytest.fixture(autouse=True)
def _shutdown_providers() -> Iterator[None]:
    yield
    shutdown_tracing()


def test_tracing_is_off_by_default(tmp_path: Path) -> None:
    assert settings(tmp_path).otel_endpoint is None
    assert tracing_interceptors(settings(tmp_path)) == []


def test_an_endpoint_turns_tracing_on_without_sending(tmp_path: Path) -> None:
    interceptors = tracing_interceptors(settings(tmp_path, otel_endpoint=UNREACHABLE))
    assert len(interceptors) == 1 and isinstance(interceptors[0], TracingInterceptor)
    shutdown_tracing()  # no span was made: flushes nothing, returns at once
    shutdown_tracing()  # idempotent


async def test_connect_adds_the_interceptor_only_when_configured(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    address = env.client.service_client.config.target_host
    off = await connect(settings(tmp_path, temporal_address=address))
    assert list(off.config()["interceptors"]) == []
    on = await connect(settings(tmp_path, temporal_address=address, otel_endpoint=UNREACHABLE))
    assert [type(i) for i in on.config()["interceptors"]] == [TracingInterceptor]


async def test_one_trace_follows_an_order_from_start_to_its_activities(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    exporter = InMemorySpanExporter()
    interceptors = tracing_interceptors(settings(tmp_path), exporter=exporter)
    config = env.client.config()
    config["interceptors"] = interceptors
    client = Client(**config)
    world = O2C(env)
    await seed(world.crm, world.erp)
    order_id = await world.order([("P1", 2, 100)])

    async with AsyncExitStack() as stack:
        # Workers made from the traced client inherit its interceptor (none given here).
        workers = [
            Worker(
                client,
                task_queue=world.queue,
                workflows=[OrderToCashWorkflow, ApprovalChainWorkflow],
                workflow_runner=workflow_runner(client),
            ),
            Worker(
                client,
                task_queue=f"{world.queue}-crm",
                activities=CrmActivities(world.crm).methods()
                + ApprovalActivities(
                    StaticDirectory(world.directory), StaticPolicySource(POLICY)
                ).methods(),
            ),
            Worker(
                client,
                task_queue=f"{world.queue}-erp",
                activities=ErpActivities(world.erp).methods(),
            ),
        ]
        for worker in workers:
            await stack.enter_async_context(worker)
        handle = await client.start_workflow(
            OrderToCashWorkflow.run,
            OrderToCashInput(
                order_id=order_id,
                policy=OrderPolicy(),
                crm_task_queue=f"{world.queue}-crm",
                erp_task_queue=f"{world.queue}-erp",
                version=ORDER_TO_CASH_VERSION,
            ),
            id=workflow_id(order_id),
            task_queue=world.queue,
        )
        world.handles.append(handle)
        try:
            await world.wait_for(handle, OrderStatus.AWAITING_SHIPMENT)
            await world.ship(handle)
            state = await world.wait_for(handle, OrderStatus.AWAITING_PAYMENT)
            assert state.invoice_number is not None
            invoice = await world.erp.get_invoice(state.invoice_number)
            await world.erp.record_payment(invoice.number, invoice.total, f"pay-{uuid.uuid4()}")
            await handle.signal(
                OrderToCashWorkflow.payment_notified, PaymentNotice(amount=invoice.total)
            )
            assert (await handle.result()).status is OrderStatus.COMPLETED
        finally:
            await world.cleanup()

    spans = exporter.get_finished_spans()
    names = {span.name for span in spans}
    workflow = "OrderToCashWorkflow"
    for name in (f"StartWorkflow:{workflow}", f"RunWorkflow:{workflow}"):
        assert name in names, sorted(names)
    for activity in ("crm_fetch_order", "erp_reserve_stock"):
        assert f"StartActivity:{activity}" in names, sorted(names)
        assert f"RunActivity:{activity}" in names, sorted(names)
    assert f"CompleteWorkflow:{workflow}" in names
    assert "HandleSignal:payment_notified" in names

    def trace_of(span: ReadableSpan) -> int:
        assert span.context is not None
        trace_id: int = span.context.trace_id
        return trace_id

    (start,) = [s for s in spans if s.name == f"StartWorkflow:{workflow}"]
    # Queries and signals from the client open traces of their own (linked to the order's);
    # everything the order itself does is in the trace its start opened.
    order_spans = [
        s
        for s in spans
        if s.name.split(":")[0]
        in {"StartWorkflow", "RunWorkflow", "StartActivity", "RunActivity", "CompleteWorkflow"}
    ]
    assert {trace_of(s) for s in order_spans} == {trace_of(start)}
    assert len(order_spans) >= 6
    resource = spans[0].resource.attributes
    assert resource["service.name"] == "peyvand"
