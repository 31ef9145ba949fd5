"""A return driven from the CLI against a real dev server and the real workers: started,
its goods reported, a bad inspection refused with the reason, a good one applied, status shown."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

from adapters.sandbox import seed
from domain.models import (
    CrmOrder,
    CrmOrderLine,
    CrmOrderStatus,
    CrmStatusUpdate,
    InvoiceRequest,
    SalesOrderLine,
    SalesOrderRequest,
)
from domain.returns import CrmCase, CrmCaseLine, CrmCaseStatus
from infra.returns import return_state
from tests.integration.conftest import Stack, run_cli
from workflows.return_to_restock.models import ReturnStatus


async def _delivered_order(stack: Stack) -> None:
    """CLI-1: 3 sensors, shipped and invoiced (as order-to-cash would have left it)."""
    line = dict(line_no=1, sku=seed.SKU_SENSOR, quantity=Decimal(3), unit_price=Decimal("18.40"))
    await stack.crm.create_order(
        CrmOrder(
            order_id="CLI-1",
            account_id=seed.ACCOUNT_KAVEH,
            owner=seed.SALES_REP,
            currency="EUR",
            lines=[CrmOrderLine(currency="EUR", **line)],  # type: ignore[arg-type]
        )
    )
    so = await stack.erp.create_sales_order(
        SalesOrderRequest(
            reference="order-CLI-1/sales-order",
            customer_id=seed.CUSTOMER_KAVEH,
            currency="EUR",
            lines=[SalesOrderLine(**line)],  # type: ignore[arg-type]
        )
    )
    await stack.erp.ship(so.number)
    await stack.erp.create_invoice(
        InvoiceRequest(reference="order-CLI-1/invoice", sales_order_number=so.number)
    )
    await stack.crm.update_order_status(
        CrmStatusUpdate(
            key="order-CLI-1/confirmed",
            order_id="CLI-1",
            status=CrmOrderStatus.CONFIRMED,
            erp_order_number=so.number,
        )
    )
    await stack.crm.create_case(
        CrmCase(
            case_id="CASE-CLI-1",
            order_id="CLI-1",
            owner=seed.SALES_REP,
            requested_on=datetime.now(UTC).date(),
            lines=[CrmCaseLine(line_no=1, sku=seed.SKU_SENSOR, quantity=Decimal(2))],
        )
    )


async def _until(stack: Stack, status: ReturnStatus) -> None:
    for _ in range(300):
        state = await return_state(stack.client, "CASE-CLI-1")
        if state.status is status:
            return
        assert not state.status.is_final, state.reason
        await asyncio.sleep(0.1)
    raise AssertionError(f"never reached {status}")


async def test_return_from_the_cli(stack: Stack) -> None:
    await _delivered_order(stack)
    before = await stack.erp.stock_snapshot()

    code, out = await run_cli(stack, "returns", "start", "CASE-CLI-1")
    assert code == 0, out
    await _until(stack, ReturnStatus.AWAITING_GOODS)
    code, out = await run_cli(
        stack, "returns", "receive", "CASE-CLI-1", "--line", "1=2", "--report"
    )
    assert code == 0 and "reported" in out, out
    await _until(stack, ReturnStatus.AWAITING_INSPECTION)

    code, out = await run_cli(stack, "returns", "inspect", "CASE-CLI-1", "--restock", "1=1@THR")
    assert code == 1
    assert "inspection refused" in out and "restock 1 + scrap 0 = 1, but 2 were received" in out
    code, out = await run_cli(
        stack, "returns", "inspect", "CASE-CLI-1", "--restock", "1=1@THR", "--scrap", "1=1:bent"
    )
    assert code == 0 and "restock 1, scrap 1" in out, out
    await _until(stack, ReturnStatus.RESOLVED)

    code, out = await run_cli(stack, "returns", "status", "CASE-CLI-1")
    assert code == 0 and "[RESOLVED]" in out and "credit" in out, out
    after = await stack.erp.stock_snapshot()
    key = (seed.SKU_SENSOR, "THR")
    assert after[key][0] == before[key][0] + 1
    assert (await stack.crm.get_case("CASE-CLI-1")).status is CrmCaseStatus.RESOLVED
    code, out = await run_cli(stack, "returns", "inspect", "CASE-CLI-9", "--restock", "x")
    assert code == 1 and "expected LINE=QTY@WAREHOUSE" in out
