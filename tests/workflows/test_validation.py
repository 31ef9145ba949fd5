"""Orders that cannot be processed end REJECTED, say why, and leave the ERP untouched."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from domain.models import CrmOrderStatus
from domain.orders import OrderStatus
from tests.workflows.conftest import O2C

# Each case: order fields for O2C.order, and the text the rejection reason must contain.
CASES: dict[str, tuple[dict[str, Any], str]] = {
    "unknown-product": (
        {"lines": [("P1", 2, 100), ("NOPE", 1, 10)]},
        "lines[2].sku: unknown product 'NOPE'",
    ),
    "negative-quantity": (
        {"lines": [("P1", 2, 100), ("P2", -3, 50)]},
        "lines[2].quantity: must be positive, got -3",
    ),
    "zero-quantity": (
        {"lines": [("P1", 0, 100)]},
        "lines[1].quantity: must be positive, got 0",
    ),
    "mixed-currencies": (
        {"lines": [("P1", 1, 100), ("P3", 5, 10)], "line_currencies": ["EUR", "USD"]},
        "(mixed currencies)",
    ),
    "missing-account": (
        {"account_id": None},
        "account_id: the order has no customer account",
    ),
}


async def _assert_erp_untouched(o2c: O2C, order_id: str, stock_before: Any) -> None:
    assert await o2c.erp.stock_snapshot() == stock_before
    assert await o2c.erp.count_documents(f"order-{order_id}") == {
        "reservations": 0,
        "sales_orders": 0,
        "invoices": 0,
        "payments": 0,
    }
    assert await o2c.erp.customers_count() == 1  # only the seeded one
    writes = {"create_customer", "reserve", "release", "create_sales_order", "create_invoice"}
    assert writes.isdisjoint(o2c.erp.calls), o2c.erp.calls


@pytest.mark.parametrize("case", list(CASES))
async def test_invalid_order_rejected_without_erp_writes(o2c: O2C, case: str) -> None:
    fields, expected = CASES[case]
    stock_before = await o2c.erp.stock_snapshot()
    order_id = await o2c.order(**fields)
    handle = await o2c.start(order_id)

    result = await handle.result()

    assert result.status is OrderStatus.REJECTED
    assert result.reason is not None and result.reason.startswith("invalid order: ")
    assert expected in result.reason
    assert (await o2c.state(handle)).status is OrderStatus.REJECTED
    history = await o2c.crm.status_history(order_id)
    assert [u.status for u in history] == [CrmOrderStatus.REJECTED]
    assert history[-1].reason == result.reason
    assert (await o2c.crm.get_order(order_id)).status is CrmOrderStatus.REJECTED
    await _assert_erp_untouched(o2c, order_id, stock_before)
    assert "link_account" not in o2c.crm.calls


async def test_all_problems_are_named_at_once(o2c: O2C) -> None:
    order_id = await o2c.order([("NOPE", 0, 10), ("P1", -1, 100)], account_id=None)
    result = await (await o2c.start(order_id)).result()
    assert result.status is OrderStatus.REJECTED and result.reason is not None
    for problem in ("account_id", "lines[1].sku", "lines[1].quantity", "lines[2].quantity"):
        assert problem in result.reason


async def test_account_unknown_to_the_crm_rejected_before_erp_writes(o2c: O2C) -> None:
    stock_before = await o2c.erp.stock_snapshot()
    order_id = await o2c.order(account_id="A-GHOST")
    handle = await o2c.start(order_id)

    result = await handle.result()

    assert result.status is OrderStatus.REJECTED
    assert result.reason is not None
    assert "RecordNotFound" in result.reason and "A-GHOST" in result.reason
    assert o2c.crm.calls.count("get_account") == 1  # permanent: not retried
    statuses = await o2c.crm_statuses(order_id)
    assert statuses[-1] is CrmOrderStatus.REJECTED
    await _assert_erp_untouched(o2c, order_id, stock_before)


async def test_unknown_crm_order_rejected_without_any_write(o2c: O2C) -> None:
    stock_before = await o2c.erp.stock_snapshot()
    missing = f"O-MISSING-{uuid.uuid4().hex[:8]}"
    handle = await o2c.start(missing)

    result = await handle.result()

    assert result.status is OrderStatus.REJECTED
    assert result.reason is not None
    assert "RecordNotFound" in result.reason and missing in result.reason
    assert o2c.crm.calls == ["get_order"]  # read once (permanent error), nothing written
    assert o2c.erp.calls == []
    assert await o2c.crm.status_history(missing) == []
    assert await o2c.erp.stock_snapshot() == stock_before
    state = await o2c.state(handle)
    assert state.status is OrderStatus.REJECTED and state.needs_attention == []
