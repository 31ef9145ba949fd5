"""Short stock: refuse at once, or wait for replenishment until the stock deadline."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from domain.models import CrmOrderStatus
from domain.orders import OrderPolicy, OrderStatus, StockPolicy
from tests.workflows.conftest import O2C
from workflows.order_to_cash.models import CancelInput, StockNotice
from workflows.order_to_cash.workflow import OrderToCashWorkflow

# Line 1 fits (P1: 5 THR + 4 IFN); line 2 asks 30 P2 where 25 exist (20 THR + 5 IFN).
SHORT = [("P1", 9, 100), ("P2", 30, 10)]
WAIT = OrderPolicy(stock_policy=StockPolicy.WAIT, stock_wait=timedelta(days=1))


async def test_refuse_policy_rejects_and_releases_earlier_lines(o2c: O2C) -> None:
    stock_before = await o2c.erp.stock_snapshot()
    order_id = await o2c.order(SHORT)
    handle = await o2c.start(order_id)

    result = await handle.result()

    assert result.status is OrderStatus.REJECTED
    assert result.reason == "only 25 of 30 P2 available"
    assert await o2c.erp.stock_snapshot() == stock_before
    docs = await o2c.erp.count_documents(f"order-{order_id}/")
    assert docs["reservations"] == 1 and docs["sales_orders"] == 0  # line 1's, released
    assert o2c.erp.calls.count("reserve") == 2  # InsufficientStock is not retried
    history = await o2c.crm.status_history(order_id)
    assert history[-1].status is CrmOrderStatus.REJECTED
    assert history[-1].reason == result.reason
    state = await o2c.state(handle)
    assert state.reservations == []
    assert [e.detail for e in state.events if e.kind == "compensated"] == [
        "release P2",
        "release P1",
    ]


async def test_wait_policy_continues_on_replenishment_signal(o2c: O2C) -> None:
    order_id = await o2c.order(SHORT)
    handle = await o2c.start(order_id, policy=WAIT)

    state = await o2c.wait_for(handle, OrderStatus.AWAITING_STOCK)
    assert "P2" in state.detail
    assert [r.sku for r in state.reservations] == ["P1"]  # line 1 held while waiting
    assert (await o2c.crm_statuses(order_id))[-1] is CrmOrderStatus.AWAITING_STOCK
    await o2c.env.sleep(timedelta(hours=2))
    assert (await o2c.state(handle)).status is OrderStatus.AWAITING_STOCK

    await o2c.erp.set_stock("P2", "IFN", Decimal(10))
    await handle.signal(OrderToCashWorkflow.stock_replenished, StockNotice(sku="P2"))
    state = await o2c.wait_for(handle, OrderStatus.AWAITING_SHIPMENT, steps=10)

    assert {r.sku: r.warehouses for r in state.reservations} == {
        "P1": {"THR": Decimal(5), "IFN": Decimal(4)},
        "P2": {"THR": Decimal(20), "IFN": Decimal(10)},
    }
    snap = await o2c.erp.stock_snapshot()
    assert snap[("P2", "THR")] == (Decimal(20), Decimal(20))
    assert snap[("P2", "IFN")] == (Decimal(10), Decimal(10))
    assert await o2c.crm_statuses(order_id) == [
        CrmOrderStatus.IN_PROGRESS,
        CrmOrderStatus.AWAITING_STOCK,
        CrmOrderStatus.CONFIRMED,
    ]
    assert await o2c.erp.count_documents(f"order-{order_id}/") == {
        "reservations": 2,
        "sales_orders": 1,
        "invoices": 0,
        "payments": 0,
    }


async def test_wait_policy_rechecks_without_a_signal(o2c: O2C) -> None:
    order_id = await o2c.order(SHORT)
    handle = await o2c.start(order_id, policy=WAIT)
    await o2c.wait_for(handle, OrderStatus.AWAITING_STOCK)
    await o2c.erp.set_stock("P2", "THR", Decimal(40))

    await o2c.env.sleep(timedelta(hours=4, minutes=1))  # the recheck interval

    state = await o2c.wait_for(handle, OrderStatus.AWAITING_SHIPMENT, steps=10)
    assert {r.sku: r.warehouses for r in state.reservations}["P2"] == {"THR": Decimal(30)}


async def test_wait_policy_rejects_after_the_stock_deadline(o2c: O2C) -> None:
    stock_before = await o2c.erp.stock_snapshot()
    order_id = await o2c.order(SHORT)
    handle = await o2c.start(order_id, policy=WAIT)
    await o2c.wait_for(handle, OrderStatus.AWAITING_STOCK)

    await o2c.env.sleep(timedelta(hours=23))
    assert (await o2c.state(handle)).status is OrderStatus.AWAITING_STOCK
    await o2c.env.sleep(timedelta(hours=2))

    result = await handle.result()
    assert result.status is OrderStatus.REJECTED
    assert result.reason == "only 25 of 30 P2 available"
    assert await o2c.erp.stock_snapshot() == stock_before
    assert (await o2c.crm_statuses(order_id))[-1] is CrmOrderStatus.REJECTED
    # Rechecked every 4 hours for a day: a handful of attempts, not a busy loop.
    assert 6 <= o2c.erp.calls.count("reserve") <= 10


async def test_cancel_while_awaiting_stock(o2c: O2C) -> None:
    stock_before = await o2c.erp.stock_snapshot()
    order_id = await o2c.order(SHORT)
    handle = await o2c.start(order_id, policy=WAIT)
    await o2c.wait_for(handle, OrderStatus.AWAITING_STOCK)

    answer = await handle.execute_update(
        OrderToCashWorkflow.cancel, CancelInput(requested_by="rep", reason="found elsewhere")
    )
    assert answer.accepted
    result = await handle.result()

    assert result.status is OrderStatus.CANCELLED
    assert await o2c.erp.stock_snapshot() == stock_before
    assert (await o2c.crm_statuses(order_id))[-1] is CrmOrderStatus.CANCELLED
