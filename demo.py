"""The demo batch: a morning at an Iranian distributor of industrial electronics.

Eight CRM orders on the seeded sandbox: three go all the way to cash (the warehouse ships and the
customer pays, played by the demo), one waits for a manager's approval, one is refused for stock
and compensated, one is refused because the customer is blocked, one is cancelled after its stock
was reserved, and one is malformed. Running it again resumes: orders are keyed by their CRM id, so
nothing is created or processed twice.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol

import structlog
from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError

from adapters.sandbox import seed
from demo_returns import CaseDesk, return_next_steps, run_return_demo
from domain.models import CrmOrder, CrmOrderLine
from domain.orders import OrderStatus
from infra.approvals import wait_open
from infra.orders import (
    ErpDesk,
    order_input,
    order_state,
    pay,
    reached,
    ship,
    start_order,
    wait_for,
)
from infra.returns import ReturnsDesk
from infra.settings import Settings
from workflows.order_to_cash.models import CancelInput
from workflows.order_to_cash.workflow import OrderToCashWorkflow

log = structlog.stdlib.get_logger("peyvand.demo")

TIMEOUT = 120.0


class OrderDesk(CaseDesk, Protocol):
    """Where the demo's sales people type in orders and service agents open cases (the CRM)."""

    async def create_order(self, order: CrmOrder) -> bool: ...


class WarehouseDesk(ErpDesk, ReturnsDesk, Protocol):
    """The ERP's warehouse and cashier, for orders and for returns."""


def _order(order_id: str, account: str | None, *lines: tuple[str, str, str]) -> CrmOrder:
    prices = {p.sku: p.list_price for p in seed.DEMO_PRODUCTS}
    return CrmOrder(
        order_id=order_id,
        account_id=account,
        owner=seed.SALES_REP,
        currency=seed.CURRENCY,
        tax_pct=Decimal("10"),
        lines=[
            CrmOrderLine(
                line_no=i,
                sku=sku,
                quantity=Decimal(qty),
                unit_price=prices.get(sku, Decimal("99.00")),
                currency=seed.CURRENCY,
                discount_pct=Decimal(discount),
            )
            for i, (sku, qty, discount) in enumerate(lines, start=1)
        ],
    )


COMPLETE = [
    _order(
        "DEMO-1001", seed.ACCOUNT_SEPAHAN, (seed.SKU_PLC, "4", "5"), (seed.SKU_SENSOR, "20", "0")
    ),
    _order(
        "DEMO-1002", seed.ACCOUNT_NOVIN, (seed.SKU_SWITCH, "2", "0"), (seed.SKU_ROUTER, "3", "0")
    ),
    _order("DEMO-1003", seed.ACCOUNT_KAVEH, (seed.SKU_UPS, "1", "0")),
]
NEEDS_APPROVAL = _order(
    "DEMO-1004", seed.ACCOUNT_SEPAHAN, (seed.SKU_DRIVE, "20", "0"), (seed.SKU_HMI, "16", "0")
)
SHORT_OF_STOCK = _order(
    "DEMO-1005", seed.ACCOUNT_SEPAHAN, (seed.SKU_SENSOR, "10", "0"), (seed.SKU_SERVER, "5", "0")
)
BLOCKED_CUSTOMER = _order("DEMO-1006", seed.ACCOUNT_ALBORZ, (seed.SKU_CABLE, "3", "0"))
TO_CANCEL = _order(
    "DEMO-1007", seed.ACCOUNT_SEPAHAN, (seed.SKU_MOTOR, "10", "0"), (seed.SKU_UPS, "5", "0")
)
MALFORMED = _order(
    "DEMO-1008", seed.ACCOUNT_PARS, ("NO-SUCH-SKU", "1", "0"), (seed.SKU_PLC, "-2", "0")
)

ALL = [*COMPLETE, NEEDS_APPROVAL, SHORT_OF_STOCK, BLOCKED_CUSTOMER, TO_CANCEL, MALFORMED]


async def _start(client: Client, settings: Settings, order_id: str) -> None:
    try:
        await start_order(client, settings, order_input(settings, order_id))
    except WorkflowAlreadyStartedError:
        log.info("processed by an earlier run", order_id=order_id)


async def _to_cash(client: Client, erp: ErpDesk, order_id: str) -> None:
    """Play the warehouse and the customer: ship, then pay what is open."""
    state = await wait_for(
        client,
        order_id,
        reached(OrderStatus.AWAITING_SHIPMENT, OrderStatus.AWAITING_PAYMENT, OrderStatus.OVERDUE),
        timeout=TIMEOUT,
    )
    if state.status is OrderStatus.AWAITING_SHIPMENT:
        await ship(client, erp, order_id)
        state = await wait_for(
            client,
            order_id,
            reached(OrderStatus.AWAITING_PAYMENT, OrderStatus.OVERDUE),
            timeout=TIMEOUT,
        )
    if not state.status.is_final and state.total is not None:
        await pay(
            client, erp, order_id, state.total - state.amount_paid, f"demo-{order_id}-payment"
        )
    await wait_for(client, order_id, reached(), timeout=TIMEOUT)


async def _cancel_after_reservation(client: Client, order_id: str) -> None:
    state = await wait_for(
        client, order_id, reached(OrderStatus.AWAITING_APPROVAL), timeout=TIMEOUT
    )
    if state.status.cancellable:
        handle = client.get_workflow_handle_for(OrderToCashWorkflow.run, f"order-{order_id}")
        await handle.execute_update(
            OrderToCashWorkflow.cancel,
            CancelInput(requested_by=seed.SALES_REP, reason="customer changed its mind"),
        )
    await wait_for(client, order_id, reached(), timeout=TIMEOUT)


async def _chain_waiting(client: Client, order_id: str) -> None:
    """Wait until the order's approval chain has its first level open, so a decision lands."""
    await wait_for(client, order_id, reached(OrderStatus.AWAITING_APPROVAL), timeout=TIMEOUT)
    await wait_open(client, order_id, timeout=TIMEOUT)


async def run_demo(client: Client, settings: Settings, crm: OrderDesk, erp: WarehouseDesk) -> None:
    """Create the demo orders in the CRM (once), run them, print where each ended."""
    for order in ALL:
        await crm.create_order(order)
    for order in ALL:
        await _start(client, settings, order.order_id)
    await asyncio.gather(
        *(_to_cash(client, erp, o.order_id) for o in COMPLETE),
        _cancel_after_reservation(client, TO_CANCEL.order_id),
        *(
            wait_for(client, o.order_id, reached(), timeout=TIMEOUT)
            for o in (SHORT_OF_STOCK, BLOCKED_CUSTOMER, MALFORMED)
        ),
        _chain_waiting(client, NEEDS_APPROVAL.order_id),
    )
    # Customers send back part of two orders that went to cash.
    returns = await run_return_demo(client, settings, crm, erp, datetime.now(UTC).date())
    print("\nDemo orders:")
    for order in ALL:
        s = await order_state(client, order.order_id)
        total = f"{s.total} {s.currency}" if s.total is not None else "-"
        erp_no = s.erp_order_number or "-"
        print(
            f"  {order.order_id}  {s.status.value:18} {total:>14}  ERP {erp_no:10}  "
            f"{s.reason or s.detail}"
        )
    print("\nDemo returns:")
    for r in returns:
        money = f"{r.credited_total} {r.currency}" if r.credited_total is not None else "-"
        print(
            f"  {r.case_id}  {r.status.value:20} {money:>14}  "
            f"RMA {r.rma_number or '-':10}  {r.detail}"
        )
    _print_next_steps()


def _print_next_steps() -> None:
    oid = NEEDS_APPROVAL.order_id
    py = ".venv/bin/python"
    print(
        f"""
{oid} waits for a sales manager in its own approval chain, approval-order-{oid}. Try it:
  {py} starter.py approvals pending --group sales_manager    # or --user {seed.APPROVERS[1]}
  {py} starter.py approvals status {oid}                      # levels, seats, events
  {py} starter.py approve {oid} --approver {seed.SALES_REP}      # refused: four-eyes
  {py} starter.py approvals decide {oid} --approver {seed.APPROVERS[1]} --approve --comment "ok"
then play the warehouse and the customer:
  {py} starter.py ship {oid}                  # or as the ERP would, by signed webhook:
  {py} -m ingress send erp shipments '{{"event_id": "shp-{oid}", "order_id": "{oid}"}}'
  {py} starter.py status {oid}                # shows the invoice and what is open
  {py} starter.py pay {oid} <amount>          # partial payments add up
{return_next_steps(py)}
Other commands: {py} starter.py --help; every order is in the Web UI, searchable by
OrderId, CustomerId, OrderStatus and ErpOrderNumber, every approval by ApprovalStatus,
ApproverGroup and PendingApprovers, every return by ReturnId, OrderId and ReturnStatus.
""",
        flush=True,
    )
