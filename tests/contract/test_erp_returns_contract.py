"""What every ERP adapter must do for returns up to the goods (what can be returned, the
authorization, the receipt), run against each implementation; what becomes of the goods and the
money (restock, write-off, credit notes, refunds) is in ``test_erp_return_outcomes_contract.py``.

The order of every test is ``invoiced_order`` (``sold``): line 1 is 3 x SKU-A at 19.99 less 10 %
(53.97), line 2 is 2 x SKU-B at 5.00 (10.00); net 63.97, tax 9 % 5.76, total 69.73.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from domain.errors import (
    IdempotencyConflict,
    InvalidRecord,
    InvalidState,
    RecordNotFound,
)
from domain.models import SalesOrderStatus
from domain.returns import (
    ReturnAuthorization,
    ReturnAuthorizationStatus,
)
from tests.contract.conftest import SKU_A, SKU_B
from tests.contract.erp_orders import ORDER_DATE, order_request
from tests.contract.erp_returns import (
    D,
    assert_permanent,
    receipt,
    rma_request,
)

# --- what can be returned --------------------------------------------------------------------


async def test_returnable_shows_what_shipped_and_how_it_was_invoiced(sold: Any) -> None:
    erp, so = sold
    returnable = await erp.get_returnable(so)

    assert returnable.sales_order_number == so
    assert returnable.status is SalesOrderStatus.INVOICED
    assert (returnable.currency, returnable.tax_pct) == ("EUR", D("9"))
    assert returnable.delivered_on == datetime.now(UTC).date()  # shipped today
    assert re.fullmatch(r"INV-\d{6}", returnable.invoice_number or "")
    assert returnable.invoice_paid is False
    assert [
        (x.line_no, x.sku, x.quantity, x.unit_price, x.discount_pct) for x in returnable.lines
    ] == [
        (1, SKU_A, D(3), D("19.99"), D(10)),
        (2, SKU_B, D(2), D("5.00"), D(0)),
    ]
    assert all(x.returnable == x.quantity for x in returnable.lines)
    with pytest.raises(RecordNotFound) as unknown:
        await erp.get_returnable("SO-404404")
    assert (unknown.value.kind, unknown.value.key) == ("sales_order", "SO-404404")


async def test_an_open_order_cannot_be_returned(stocked_erp: Any) -> None:
    order = await stocked_erp.create_sales_order(order_request("so-open"))

    with pytest.raises(InvalidState) as caught:
        await stocked_erp.create_return_authorization(
            rma_request("r/rma", order.number, (1, SKU_A, "1"))
        )
    assert caught.value.state == "open"
    assert_permanent(caught.value)
    returnable = await stocked_erp.get_returnable(order.number)
    assert (returnable.delivered_on, returnable.invoice_number) == (None, None)


# --- authorization ---------------------------------------------------------------------------


async def test_return_authorization_is_idempotent_on_its_reference(sold: Any) -> None:
    erp, so = sold
    request = rma_request("return-C1/rma", so, (2, SKU_B, "1"), (1, SKU_A, "2"))

    first = await erp.create_return_authorization(request)
    again = await erp.create_return_authorization(request)

    assert again == first
    assert re.fullmatch(r"RMA-\d{6}", first.number)
    assert first.status is ReturnAuthorizationStatus.AUTHORIZED
    assert [(x.line_no, x.sku, x.quantity, x.received) for x in first.lines] == [
        (1, SKU_A, D(2), D(0)),
        (2, SKU_B, D(1), D(0)),
    ]
    assert (first.reason, first.crm_case_id, first.authorized_on) == (
        "damaged in transit",
        "CASE-1",
        ORDER_DATE,
    )
    assert await erp.get_return_authorization("return-C1/rma") == first
    assert await erp.get_return_authorization("never-made") is None
    counts = await erp.count_return_documents("return-C1/")
    assert counts["return_authorizations"] == 1
    lines = {x.line_no: x for x in (await erp.get_returnable(so)).lines}
    assert (lines[1].authorized, lines[1].returnable) == (D(2), D(1))

    with pytest.raises(IdempotencyConflict) as conflict:
        await erp.create_return_authorization(rma_request("return-C1/rma", so, (1, SKU_A, "1")))
    assert conflict.value.reference == "return-C1/rma"
    assert_permanent(conflict.value)


async def test_two_returns_never_exceed_what_shipped(sold: Any) -> None:
    erp, so = sold
    await erp.create_return_authorization(rma_request("c1/rma", so, (1, SKU_A, "2")))

    with pytest.raises(InvalidRecord) as too_many:
        await erp.create_return_authorization(rma_request("c2/rma", so, (1, SKU_A, "2")))
    assert [p.split(":")[0] for p in too_many.value.problems] == ["lines[1].quantity"]
    assert "1 still returnable" in too_many.value.problems[0]
    assert_permanent(too_many.value)
    assert await erp.get_return_authorization("c2/rma") is None

    last = await erp.create_return_authorization(rma_request("c3/rma", so, (1, SKU_A, "1")))
    assert last.status is ReturnAuthorizationStatus.AUTHORIZED
    line = (await erp.get_returnable(so)).lines[0]
    assert (line.authorized, line.returnable) == (D(3), D(0))

    # A cancelled authorization gives its quantity back; cancelling is idempotent.
    cancelled = await erp.cancel_return_authorization("c1/rma")
    assert cancelled is not None and cancelled.status is ReturnAuthorizationStatus.CANCELLED
    assert await erp.cancel_return_authorization("c1/rma") == cancelled
    assert await erp.cancel_return_authorization("never-made") is None
    assert (await erp.get_returnable(so)).lines[0].returnable == D(2)
    await erp.create_return_authorization(rma_request("c4/rma", so, (1, SKU_A, "2")))


async def test_concurrent_returns_of_one_order_never_exceed_what_shipped(sold: Any) -> None:
    erp, so = sold
    requests = [rma_request(f"c{i}/rma", so, (1, SKU_A, "1")) for i in range(6)]

    outcomes = await asyncio.gather(
        *(erp.create_return_authorization(r) for r in requests), return_exceptions=True
    )

    made = [o for o in outcomes if isinstance(o, ReturnAuthorization)]
    refused = [o for o in outcomes if isinstance(o, InvalidRecord)]
    assert (len(made), len(refused)) == (3, 3), outcomes
    assert len({rma.number for rma in made}) == 3
    line = (await erp.get_returnable(so)).lines[0]
    assert (line.authorized, line.returnable) == (D(3), D(0))
    assert (await erp.count_return_documents("c"))["return_authorizations"] == 3


async def test_return_lines_must_match_the_order(sold: Any) -> None:
    erp, so = sold
    with pytest.raises(InvalidRecord) as caught:
        await erp.create_return_authorization(
            rma_request(
                "r/rma", so, (9, SKU_A, "1"), (2, SKU_A, "1"), (1, SKU_A, "0"), (1, SKU_A, "1")
            )
        )
    assert [p.split(":")[0] for p in caught.value.problems] == [
        "lines[9]",
        "lines[2].sku",
        "lines[1].quantity",
        "lines[1]",
    ]
    with pytest.raises(InvalidRecord):
        await erp.create_return_authorization(rma_request("r/rma", so))
    with pytest.raises(RecordNotFound):
        await erp.create_return_authorization(rma_request("r/rma", "SO-404404", (1, SKU_A, "1")))
    assert (await erp.count_return_documents("r/"))["return_authorizations"] == 0


# --- receipt ---------------------------------------------------------------------------------


async def test_receipt_records_what_arrived_once(sold: Any) -> None:
    erp, so = sold
    rma = await erp.create_return_authorization(
        rma_request("c1/rma", so, (1, SKU_A, "2"), (2, SKU_B, "2"))
    )
    request = receipt("c1/receipt", rma.number, (1, "2"), (2, "1"))

    received = await erp.record_return_receipt(request)
    again = await erp.record_return_receipt(request)
    # The warehouse reporting the same goods under its own reference changes nothing either.
    same_goods = await erp.receive_return(rma.number, {1: D(2), 2: D(1)}, "WH-77")

    assert again == received == same_goods
    assert received.status is ReturnAuthorizationStatus.RECEIVED
    assert received.received_at is not None
    assert [(x.line_no, x.quantity, x.received) for x in received.lines] == [
        (1, D(2), D(2)),
        (2, D(2), D(1)),
    ]
    assert await erp.get_return_authorization("c1/rma") == received
    # Only what arrived counts as returned; the rest of line 2 is returnable again.
    lines = {x.line_no: x for x in (await erp.get_returnable(so)).lines}
    assert [(x.authorized, x.returned, x.returnable) for x in lines.values()] == [
        (D(0), D(2), D(1)),
        (D(0), D(1), D(1)),
    ]

    with pytest.raises(IdempotencyConflict):
        await erp.record_return_receipt(receipt("c1/receipt", rma.number, (1, "1")))
    with pytest.raises(InvalidState) as other_goods:
        await erp.record_return_receipt(receipt("c1/receipt-2", rma.number, (1, "1")))
    assert other_goods.value.state == "received"
    with pytest.raises(InvalidState) as cancel:
        await erp.cancel_return_authorization("c1/rma")
    assert cancel.value.state == "received"
    assert await erp.get_return_authorization("c1/rma") == received


async def test_receipt_must_fit_the_authorization(sold: Any) -> None:
    erp, so = sold
    rma = await erp.create_return_authorization(rma_request("c1/rma", so, (1, SKU_A, "2")))

    with pytest.raises(InvalidRecord) as caught:
        await erp.record_return_receipt(
            receipt("c1/receipt", rma.number, (1, "3"), (2, "1"), (1, "1"))
        )
    assert [p.split(":")[0] for p in caught.value.problems] == [
        "lines[1].quantity",
        "lines[2]",
        "lines[1]",
    ]
    with pytest.raises(InvalidRecord):
        await erp.record_return_receipt(receipt("c1/receipt", rma.number, (1, "0")))
    with pytest.raises(RecordNotFound) as unknown:
        await erp.record_return_receipt(receipt("c1/receipt", "RMA-404404", (1, "1")))
    assert unknown.value.kind == "return_authorization"

    await erp.cancel_return_authorization("c1/rma")
    with pytest.raises(InvalidState) as cancelled:
        await erp.record_return_receipt(receipt("c1/receipt", rma.number, (1, "1")))
    assert cancelled.value.state == "cancelled"
