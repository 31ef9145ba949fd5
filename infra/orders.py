"""Client-side operations on order workflows, shared by the CLI, the demo, the benchmark and tests.

``ship`` and ``pay`` act on an ERP "desk" (the warehouse and bank side of a sandbox ERP) when one is
given, then tell the workflow; with none they only tell the workflow, as a real ERP's webhook would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, Protocol

from temporalio.client import Client, WorkflowHandle
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.service import RPCError

from domain.models import Invoice, SalesOrder
from domain.orders import OrderPolicy, OrderStatus
from infra.settings import Settings
from workflows import search_attributes as sa
from workflows.order_to_cash.models import (
    ORDER_TO_CASH_VERSION,
    OrderState,
    OrderToCashInput,
    OrderToCashResult,
    PaymentNotice,
    ShipmentNotice,
    workflow_id,
)
from workflows.order_to_cash.workflow import OrderToCashWorkflow

Handle = WorkflowHandle[OrderToCashWorkflow, OrderToCashResult]


class OrderOpError(Exception):
    """A problem the user can fix (no such order, nothing to ship yet …)."""


class ErpDesk(Protocol):
    """The warehouse and cashier side of an ERP that the sandbox lets us play."""

    async def get_sales_order(self, reference: str) -> SalesOrder | None: ...

    async def ship(self, sales_order_number: str) -> SalesOrder: ...

    async def record_payment(
        self, invoice_number: str, amount: Decimal, reference: str
    ) -> Invoice: ...


def order_input(
    settings: Settings,
    order_id: str,
    *,
    requested_by: str | None = None,
    policy: OrderPolicy | None = None,
) -> OrderToCashInput:
    """The workflow input for a CRM order, with the task queues and process version of these
    settings.

    Raises:
        ValueError: ``settings.order_process_version`` is newer than this code knows.
    """
    version = settings.order_process_version or ORDER_TO_CASH_VERSION
    if version > ORDER_TO_CASH_VERSION:
        raise ValueError(
            f"PEYVAND_ORDER_PROCESS_VERSION={version}, but this code knows versions up to "
            f"{ORDER_TO_CASH_VERSION}"
        )
    return OrderToCashInput(
        order_id=order_id,
        requested_by=requested_by,
        policy=policy or OrderPolicy(),
        crm_task_queue=settings.crm_task_queue,
        erp_task_queue=settings.erp_task_queue,
        version=version,
    )


async def start_order(
    client: Client,
    settings: Settings,
    input: OrderToCashInput,
    *,
    signal: str | None = None,
    signal_args: Sequence[Any] = (),
) -> Handle:
    """Start order-to-cash for a CRM order; a running one with the same id is returned as is.

    Args:
        signal: Signal-with-start: this signal (by name, with ``signal_args``) goes to the
            running workflow, or to the one started for it, so an early event is not lost.

    Raises:
        WorkflowAlreadyStartedError: the order already completed (it is never processed twice).
    """
    return await client.start_workflow(
        OrderToCashWorkflow.run,
        input,
        id=workflow_id(input.order_id),
        task_queue=settings.workflow_task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(sa.ORDER_ID, input.order_id),
                SearchAttributePair(sa.ORDER_STATUS, OrderStatus.RECEIVED.value),
            ]
        ),
        static_summary=f"Order-to-cash for CRM order {input.order_id}",
        static_details=f"Started by {input.requested_by or 'the order owner'}",
        start_signal=signal,
        start_signal_args=signal_args,
        # When this client also runs the workflow worker (the embedded run, an ingress beside
        # its worker), the server hands the first workflow task back with the start instead of
        # through its queue. Signal-with-start cannot be eager.
        request_eager_start=signal is None,
    )


def order_handle(client: Client, order_id: str) -> Handle:
    return client.get_workflow_handle_for(OrderToCashWorkflow.run, workflow_id(order_id))


async def order_state(client: Client, order_id: str) -> OrderState:
    """The order's full state from the workflow's query."""
    try:
        return await order_handle(client, order_id).query(OrderToCashWorkflow.status)
    except RPCError as err:
        raise OrderOpError(f"order {order_id}: {err.message}") from err


async def wait_for(
    client: Client,
    order_id: str,
    done: Callable[[OrderState], bool],
    *,
    timeout: float = 60.0,
    every: float = 0.1,
) -> OrderState:
    """Poll the status query until ``done(state)``; raises TimeoutError with the last state."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    state: OrderState | None = None
    while loop.time() < deadline:
        try:
            state = await order_handle(client, order_id).query(OrderToCashWorkflow.status)
            if done(state):
                return state
        except RPCError:
            pass  # not started yet, or between workers
        await asyncio.sleep(every)
    last = state.status if state else "unknown"
    raise TimeoutError(f"order {order_id} did not get there in {timeout} s (status {last})")


def reached(*statuses: OrderStatus) -> Callable[[OrderState], bool]:
    return lambda state: state.status in statuses or state.status.is_final


async def ship(client: Client, erp: ErpDesk | None, order_id: str) -> str:
    """Ship the order in the sandbox ERP (if given), then tell the workflow."""
    ref = None
    if erp is not None:
        so = await erp.get_sales_order(f"{workflow_id(order_id)}/sales-order")
        if so is None:
            state = await order_state(client, order_id)
            raise OrderOpError(
                f"order {order_id} has no ERP sales order yet (it is {state.status})"
            )
        ref = (await erp.ship(so.number)).number
    notice = ShipmentNotice(source="cli", shipment_ref=ref)
    await order_handle(client, order_id).signal(OrderToCashWorkflow.shipment_notified, notice)
    return ref or "notified"


async def pay(
    client: Client, erp: ErpDesk | None, order_id: str, amount: Decimal, reference: str
) -> None:
    """Record a payment in the sandbox ERP (if given), then tell the workflow."""
    if erp is not None:
        state = await order_state(client, order_id)
        if state.invoice_number is None:
            raise OrderOpError(f"order {order_id} has no invoice yet (it is {state.status})")
        await erp.record_payment(state.invoice_number, amount, reference)
    notice = PaymentNotice(source="cli", reference=reference, amount=amount)
    await order_handle(client, order_id).signal(OrderToCashWorkflow.payment_notified, notice)


# --- printing ---------------------------------------------------------------------------------


def describe(state: OrderState) -> str:
    """A readable summary of an order's state."""
    rows = [
        f"order      {state.order_id}  [{state.status.value}]  {state.detail}",
        f"customer   CRM {state.account_id or '-'}  ERP {state.erp_customer_id or '-'}",
        f"total      {state.total if state.total is not None else '-'} {state.currency or ''}",
    ]
    for r in state.reservations:
        where = ", ".join(f"{q} in {w}" for w, q in r.warehouses.items())
        rows.append(f"reserved   {r.sku}: {where}")
    if state.erp_order_number:
        rows.append(f"ERP order  {state.erp_order_number}, promised {state.promised_date}")
    if state.invoice_number:
        rows.append(
            f"invoice    {state.invoice_number}, due {state.due_date}, paid {state.amount_paid}"
            f", reminders {state.reminders_sent}"
        )
    if state.approval:
        a = state.approval
        rows.append(
            f"approval   {a.decision or 'pending'} ({'; '.join(a.reasons)}); "
            f"levels {', '.join(a.levels) or '-'}, policy {a.policy_version or '-'}"
            + (f"; by {a.decided_by}" if a.decided_by else "")
        )
        if a.chain_id:
            rows.append(f"           chain {a.chain_id}: see 'starter.py approvals status'")
    if state.reason:
        rows.append(f"reason     {state.reason}")
    for item in state.needs_attention:
        rows.append(f"ATTENTION  {item}")
    rows.append("events:")
    for e in state.events:
        actor = f" ({e.actor})" if e.actor else ""
        rows.append(f"  {e.at:%Y-%m-%d %H:%M:%S} {e.kind}{actor}: {e.detail}")
    return "\n".join(rows)
