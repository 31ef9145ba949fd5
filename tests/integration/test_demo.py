"""The run command's demo batch, on the dev server with the real workers: every order and return
ends where the README says, with exact stock, and a second run changes nothing."""

from __future__ import annotations

from decimal import Decimal

from adapters.sandbox import seed
from demo import ALL, run_demo
from demo_returns import FULL_RETURN, TO_INSPECT
from domain.orders import OrderStatus
from infra.orders import order_state
from infra.returns import return_state
from tests.integration.conftest import Stack
from workflows.return_to_restock.models import ReturnStatus


async def test_demo_batch_ends_as_documented_and_resumes(stack: Stack) -> None:
    await run_demo(stack.client, stack.settings, stack.crm, stack.erp)

    statuses = {o.order_id: (await order_state(stack.client, o.order_id)).status for o in ALL}
    assert statuses == {
        "DEMO-1001": OrderStatus.COMPLETED,
        "DEMO-1002": OrderStatus.COMPLETED,
        "DEMO-1003": OrderStatus.COMPLETED,
        "DEMO-1004": OrderStatus.AWAITING_APPROVAL,
        "DEMO-1005": OrderStatus.REJECTED,
        "DEMO-1006": OrderStatus.REJECTED,
        "DEMO-1007": OrderStatus.CANCELLED,
        "DEMO-1008": OrderStatus.REJECTED,
    }
    full = await return_state(stack.client, FULL_RETURN.case_id)
    assert full.status is ReturnStatus.RESOLVED
    assert full.refund_number is not None  # DEMO-1001 was paid: the credit is paid back
    waiting = await return_state(stack.client, TO_INSPECT.case_id)
    assert waiting.status is ReturnStatus.AWAITING_INSPECTION
    before = await stack.erp.stock_snapshot()
    documents = await stack.erp.count_return_documents("return-")

    await run_demo(stack.client, stack.settings, stack.crm, stack.erp)  # as a second run does

    assert await stack.erp.stock_snapshot() == before
    assert await stack.erp.count_return_documents("return-") == documents
    notes = await stack.erp.credit_notes(
        (await order_state(stack.client, "DEMO-1001")).erp_order_number or ""
    )
    assert len(notes) == 1
    # One PLC (420 less 5 %) and two sensors (18.40) credited, 10 % tax: scrap is credited too.
    assert notes[0].total == ((Decimal("399.00") + 2 * Decimal("18.40")) * Decimal("1.1")).quantize(
        Decimal("0.01")
    )
    assert seed.SKU_PLC in {line.sku for line in notes[0].lines}
