"""Order-to-cash on a real Temporal dev server with the sandbox CRM and ERP (SQL, seeded)."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from adapters.sandbox import seed
from domain.models import CrmOrder, CrmOrderLine, CrmOrderStatus
from domain.orders import OrderStatus
from infra import approvals
from infra.orders import order_handle, order_input, pay, reached, ship, start_order, wait_for
from tests.integration.conftest import Stack
from workflows.approval_chain.models import ChainStatus, DecideInput
from workflows.order_to_cash.models import CancelInput
from workflows.order_to_cash.workflow import OrderToCashWorkflow

pytestmark = pytest.mark.devserver


def crm_order(order_id: str, account: str | None, *lines: tuple[str, str]) -> CrmOrder:
    return CrmOrder(
        order_id=order_id,
        account_id=account,
        owner=seed.SALES_REP,
        currency="EUR",
        lines=[
            CrmOrderLine(
                line_no=i, sku=sku, quantity=Decimal(q), unit_price=Decimal("10"), currency="EUR"
            )
            for i, (sku, q) in enumerate(lines, start=1)
        ],
    )


async def run_to_cash(stack: Stack, order: CrmOrder) -> None:
    assert await stack.crm.create_order(order)
    await start_order(stack.client, stack.settings, order_input(stack.settings, order.order_id))
    state = await wait_for(
        stack.client,
        order.order_id,
        reached(OrderStatus.AWAITING_SHIPMENT, OrderStatus.AWAITING_APPROVAL),
    )
    if state.status is OrderStatus.AWAITING_APPROVAL:
        # Each level in turn, by the first person who may decide it.
        chain = await approvals.wait_open(stack.client, order.order_id)
        while chain.level is not None and chain.status is ChainStatus.PENDING:
            approver = chain.level.pending()[0]
            decision = DecideInput(approver=approver, approve=True)
            await approvals.decide(stack.client, order.order_id, decision)
            chain = await approvals.wait_open(stack.client, order.order_id)
        await wait_for(stack.client, order.order_id, reached(OrderStatus.AWAITING_SHIPMENT))
    await ship(stack.client, stack.erp, order.order_id)
    state = await wait_for(stack.client, order.order_id, reached(OrderStatus.AWAITING_PAYMENT))
    assert state.total is not None
    await pay(stack.client, stack.erp, order.order_id, state.total, f"pay-{order.order_id}")


async def test_order_reaches_cash_with_exactly_one_of_each_document(stack: Stack) -> None:
    before = await stack.erp.stock_snapshot()
    order = crm_order("IT-1", seed.ACCOUNT_SEPAHAN, (seed.SKU_PLC, "3"), (seed.SKU_SENSOR, "7"))
    await run_to_cash(stack, order)
    result = await order_handle(stack.client, "IT-1").result()

    assert result.status is OrderStatus.COMPLETED
    assert result.amount_paid == result.total == Decimal("100.00")
    counts = await stack.erp.count_documents("order-IT-1/")
    assert counts == {"reservations": 2, "sales_orders": 1, "invoices": 1, "payments": 0}
    after = await stack.erp.stock_snapshot()
    assert after[(seed.SKU_PLC, "THR")] == (before[(seed.SKU_PLC, "THR")][0] - 3, Decimal(0))
    assert after[(seed.SKU_SENSOR, "THR")][0] == before[(seed.SKU_SENSOR, "THR")][0] - 7
    history = [u.status for u in await stack.crm.status_history("IT-1")]
    assert history[0] is CrmOrderStatus.IN_PROGRESS and history[-1] is CrmOrderStatus.CLOSED
    assert CrmOrderStatus.INVOICED in history


async def test_cancel_after_reservation_restores_every_warehouse(stack: Stack) -> None:
    before = await stack.erp.stock_snapshot()
    # Spread over two warehouses (THR has 6 motors) and over the approval threshold: it waits.
    order = crm_order(
        "IT-2", seed.ACCOUNT_SEPAHAN, (seed.SKU_MOTOR, "9"), (seed.SKU_SERVER, "1000")
    )
    order.lines[0].unit_price = Decimal("612")
    order.lines[1] = order.lines[1].model_copy(update={"quantity": Decimal("2")})
    order.lines[1].unit_price = Decimal("3450")
    assert await stack.crm.create_order(order)
    await start_order(stack.client, stack.settings, order_input(stack.settings, "IT-2"))
    state = await wait_for(stack.client, "IT-2", reached(OrderStatus.AWAITING_APPROVAL))
    assert {w for r in state.reservations for w in r.warehouses} >= {"THR", "IFN"}
    assert await stack.erp.stock_snapshot() != before

    update = CancelInput(requested_by=seed.SALES_REP, reason="customer withdrew")
    accepted = await order_handle(stack.client, "IT-2").execute_update(
        OrderToCashWorkflow.cancel, update
    )
    assert accepted.accepted
    result = await order_handle(stack.client, "IT-2").result()

    assert result.status is OrderStatus.CANCELLED
    assert await stack.erp.stock_snapshot() == before
    history = await stack.crm.status_history("IT-2")
    assert history[-1].status is CrmOrderStatus.CANCELLED
    assert history[-1].reason and "customer withdrew" in history[-1].reason


@pytest.mark.parametrize(
    ("lines", "account", "expected"),
    [
        ([("NO-SUCH-SKU", "1")], seed.ACCOUNT_SEPAHAN, "unknown product"),
        ([(seed.SKU_PLC, "-2")], seed.ACCOUNT_SEPAHAN, "must be positive"),
        ([(seed.SKU_PLC, "0")], seed.ACCOUNT_SEPAHAN, "must be positive"),
        ([(seed.SKU_PLC, "1")], None, "no customer account"),
    ],
)
async def test_bad_input_is_rejected_and_changes_nothing(
    stack: Stack, lines: list[tuple[str, str]], account: str | None, expected: str
) -> None:
    stock = await stack.erp.stock_snapshot()
    customers = await stack.erp.customers_count()
    order_id = f"IT-BAD-{uuid.uuid4().hex[:6]}"
    order = crm_order(order_id, account, *lines)
    assert await stack.crm.create_order(order)
    await start_order(stack.client, stack.settings, order_input(stack.settings, order_id))
    result = await order_handle(stack.client, order_id).result()

    assert result.status is OrderStatus.REJECTED
    assert result.reason and expected in result.reason
    assert await stack.erp.stock_snapshot() == stock
    assert await stack.erp.customers_count() == customers
    assert await stack.erp.count_documents(f"order-{order_id}/") == {
        "reservations": 0,
        "sales_orders": 0,
        "invoices": 0,
        "payments": 0,
    }
    history = await stack.crm.status_history(order_id)
    assert [u.status for u in history] == [CrmOrderStatus.REJECTED]
    assert history[0].reason and expected in history[0].reason


async def test_unknown_crm_order_is_rejected_not_retried_forever(stack: Stack) -> None:
    await start_order(stack.client, stack.settings, order_input(stack.settings, "IT-NOPE"))
    result = await order_handle(stack.client, "IT-NOPE").result()
    assert result.status is OrderStatus.REJECTED
    assert result.reason and "RecordNotFound" in result.reason
