"""What every ERP adapter must do for returns, run against each implementation.

The order of every test is ``invoiced_order``: line 1 is 3 x SKU-A at 19.99 less 10 % (53.97),
line 2 is 2 x SKU-B at 5.00 (10.00); net 63.97, tax 9 % 5.76, total 69.73.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from domain.errors import (
    IdempotencyConflict,
    InvalidRecord,
    InvalidState,
    PermanentError,
    RecordNotFound,
)
from domain.models import InvoiceStatus, ReservationRequest, SalesOrderStatus
from domain.returns import (
    CreditNote,
    CreditNoteRequest,
    CreditNoteStatus,
    CreditQuantity,
    ReceiptLine,
    RefundRequest,
    RestockLine,
    RestockRequest,
    RestockStatus,
    ReturnAuthorization,
    ReturnAuthorizationRequest,
    ReturnAuthorizationStatus,
    ReturnLineRequest,
    ReturnReceiptRequest,
    ScrapLine,
    WriteOffRequest,
)
from tests.contract.conftest import SKU_A, SKU_B
from tests.contract.erp_orders import ORDER_DATE, invoiced_order, order_request

D = Decimal


def rma_request(
    reference: str, so_number: str, *lines: tuple[int, str, str]
) -> ReturnAuthorizationRequest:
    return ReturnAuthorizationRequest(
        reference=reference,
        sales_order_number=so_number,
        lines=[ReturnLineRequest(line_no=n, sku=sku, quantity=D(q)) for n, sku, q in lines],
        reason="damaged in transit",
        crm_case_id="CASE-1",
        authorized_on=ORDER_DATE,
    )


def receipt(reference: str, rma: str, *lines: tuple[int, str]) -> ReturnReceiptRequest:
    return ReturnReceiptRequest(
        reference=reference,
        rma_number=rma,
        lines=[ReceiptLine(line_no=n, quantity=D(q)) for n, q in lines],
    )


def credit(reference: str, rma: str, *lines: tuple[int, str]) -> CreditNoteRequest:
    return CreditNoteRequest(
        reference=reference,
        rma_number=rma,
        lines=[CreditQuantity(line_no=n, quantity=D(q)) for n, q in lines],
        credit_date=ORDER_DATE,
    )


async def received_rma(erp: Any, so: str, ref: str, *lines: tuple[int, str, str]) -> str:
    """An RMA of ``lines``, all of which arrived; its number."""
    rma = await erp.create_return_authorization(rma_request(f"{ref}/rma", so, *lines))
    await erp.record_return_receipt(
        receipt(f"{ref}/receipt", rma.number, *((n, q) for n, _, q in lines))
    )
    return str(rma.number)


@pytest.fixture
async def sold(stocked_erp: Any) -> tuple[Any, str]:
    """The ERP and the number of an invoiced sales order."""
    invoice = await invoiced_order(stocked_erp)
    return stocked_erp, invoice.sales_order_number


def assert_permanent(error: Exception) -> None:
    assert isinstance(error, PermanentError)
    assert getattr(error, "system", None) == "erp"


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


# --- restock and write-off -------------------------------------------------------------------


async def test_restock_raises_on_hand_by_exactly_the_restocked_quantity(sold: Any) -> None:
    erp, so = sold
    rma = await received_rma(erp, so, "c1", (1, SKU_A, "3"), (2, SKU_B, "2"))
    before = await erp.stock_snapshot()
    request = RestockRequest(
        reference="c1/restock",
        rma_number=rma,
        lines=[
            RestockLine(line_no=1, warehouse="W2", quantity=D(2)),
            RestockLine(line_no=2, warehouse="W3", quantity=D("1.5")),  # no SKU-B row in W3 yet
        ],
    )

    restock = await erp.restock_return(request)
    again = await erp.restock_return(request)

    assert again == restock
    assert re.fullmatch(r"RST-\d{6}", restock.number)
    assert restock.status is RestockStatus.POSTED
    assert [(x.line_no, x.sku, x.warehouse, x.quantity) for x in restock.lines] == [
        (1, SKU_A, "W2", D(2)),
        (2, SKU_B, "W3", D("1.5")),
    ]
    after = await erp.stock_snapshot()
    expected = dict(before)
    expected[(SKU_A, "W2")] = (before[(SKU_A, "W2")][0] + 2, before[(SKU_A, "W2")][1])
    expected[(SKU_B, "W3")] = (D("1.5"), D(0))
    assert after == expected

    with pytest.raises(IdempotencyConflict):
        await erp.restock_return(request.model_copy(update={"rma_number": "RMA-000999"}))
    with pytest.raises(InvalidRecord) as beyond:  # 3 received, 2 restocked: 1 left
        await erp.restock_return(
            RestockRequest(
                reference="c1/restock-2",
                rma_number=rma,
                lines=[RestockLine(line_no=1, warehouse="W1", quantity=D(2))],
            )
        )
    assert "1 received and not yet restocked or scrapped" in beyond.value.problems[0]
    with pytest.raises(RecordNotFound) as no_warehouse:
        await erp.restock_return(
            RestockRequest(
                reference="c1/restock-3",
                rma_number=rma,
                lines=[RestockLine(line_no=1, warehouse="W9", quantity=D(1))],
            )
        )
    assert (no_warehouse.value.kind, no_warehouse.value.key) == ("warehouse", "W9")
    assert await erp.stock_snapshot() == expected
    assert (await erp.count_return_documents("c1/"))["restocks"] == 1


async def test_goods_not_received_cannot_be_restocked_scrapped_or_credited(sold: Any) -> None:
    erp, so = sold
    rma = await erp.create_return_authorization(rma_request("c1/rma", so, (1, SKU_A, "1")))
    before = await erp.stock_snapshot()

    with pytest.raises(InvalidState) as restock:
        await erp.restock_return(
            RestockRequest(
                reference="c1/restock",
                rma_number=rma.number,
                lines=[RestockLine(line_no=1, warehouse="W1", quantity=D(1))],
            )
        )
    with pytest.raises(InvalidState):
        await erp.write_off_return(
            WriteOffRequest(
                reference="c1/scrap",
                rma_number=rma.number,
                lines=[ScrapLine(line_no=1, quantity=D(1), reason="broken")],
            )
        )
    with pytest.raises(InvalidState):
        await erp.create_credit_note(credit("c1/credit", rma.number, (1, "1")))

    assert restock.value.state == "authorized"
    assert await erp.stock_snapshot() == before
    assert await erp.count_return_documents("c1/") == {
        "return_authorizations": 1,
        "restocks": 0,
        "write_offs": 0,
        "credit_notes": 0,
        "refunds": 0,
    }


async def test_write_off_leaves_stock_alone_and_shares_the_received_quantity(sold: Any) -> None:
    erp, so = sold
    rma = await received_rma(erp, so, "c1", (1, SKU_A, "3"))
    before = await erp.stock_snapshot()
    scrap = WriteOffRequest(
        reference="c1/scrap",
        rma_number=rma,
        lines=[ScrapLine(line_no=1, quantity=D(1), reason="housing cracked")],
    )

    write_off = await erp.write_off_return(scrap)
    assert await erp.write_off_return(scrap) == write_off
    assert re.fullmatch(r"WO-\d{6}", write_off.number)
    assert [(x.line_no, x.sku, x.quantity, x.reason) for x in write_off.lines] == [
        (1, SKU_A, D(1), "housing cracked")
    ]
    assert await erp.stock_snapshot() == before

    with pytest.raises(InvalidRecord) as no_reason:
        await erp.write_off_return(
            WriteOffRequest(
                reference="c1/scrap-2",
                rma_number=rma,
                lines=[ScrapLine(line_no=1, quantity=D(1), reason="  ")],
            )
        )
    assert no_reason.value.problems == ["lines[1].reason: scrap needs a reason"]
    with pytest.raises(IdempotencyConflict):
        await erp.write_off_return(
            scrap.model_copy(update={"lines": [ScrapLine(line_no=1, quantity=D(1), reason="x")]})
        )
    # 3 received, 1 scrapped: 2 can be restocked, not 3.
    with pytest.raises(InvalidRecord):
        await erp.restock_return(
            RestockRequest(
                reference="c1/restock",
                rma_number=rma,
                lines=[RestockLine(line_no=1, warehouse="W1", quantity=D(3))],
            )
        )
    await erp.restock_return(
        RestockRequest(
            reference="c1/restock",
            rma_number=rma,
            lines=[RestockLine(line_no=1, warehouse="W1", quantity=D(2))],
        )
    )
    assert (await erp.stock_snapshot())[(SKU_A, "W1")][0] == before[(SKU_A, "W1")][0] + 2


async def test_reverse_restock_takes_exactly_the_goods_back_off_hand(sold: Any) -> None:
    erp, so = sold
    rma = await received_rma(erp, so, "c1", (1, SKU_A, "2"))
    before = await erp.stock_snapshot()
    request = RestockRequest(
        reference="c1/restock",
        rma_number=rma,
        lines=[RestockLine(line_no=1, warehouse="W3", quantity=D(2))],
    )
    await erp.restock_return(request)

    reversed_ = await erp.reverse_restock("c1/restock")
    again = await erp.reverse_restock("c1/restock")

    assert reversed_ is not None and reversed_.status is RestockStatus.REVERSED
    assert again == reversed_
    assert await erp.stock_snapshot() == before
    assert await erp.reverse_restock("never-made") is None
    # A late retry of the restock does not post it again; a new restock may.
    assert (await erp.restock_return(request)).status is RestockStatus.REVERSED
    assert await erp.stock_snapshot() == before
    await erp.restock_return(request.model_copy(update={"reference": "c1/restock-again"}))
    assert (await erp.stock_snapshot())[(SKU_A, "W3")][0] == before[(SKU_A, "W3")][0] + 2


async def test_a_restock_whose_goods_are_reserved_cannot_be_reversed(sold: Any) -> None:
    erp, so = sold
    rma = await received_rma(erp, so, "c1", (2, SKU_B, "2"))
    await erp.restock_return(
        RestockRequest(
            reference="c1/restock",
            rma_number=rma,
            lines=[RestockLine(line_no=2, warehouse="W2", quantity=D(2))],
        )
    )
    await erp.reserve(
        ReservationRequest(reference="other", sku=SKU_B, quantity=D(1), warehouses=["W2"])
    )
    before = await erp.stock_snapshot()

    with pytest.raises(InvalidState) as caught:
        await erp.reverse_restock("c1/restock")

    assert (caught.value.kind, caught.value.key) == ("stock", f"{SKU_B}@W2")
    assert_permanent(caught.value)
    assert await erp.stock_snapshot() == before


# --- credit notes and refunds ----------------------------------------------------------------


async def test_credit_note_is_pro_rata_of_the_invoice(sold: Any) -> None:
    erp, so = sold
    rma = await received_rma(erp, so, "c1", (1, SKU_A, "1"), (2, SKU_B, "2"))
    request = credit("c1/credit", rma, (1, "1"), (2, "2"))

    note = await erp.create_credit_note(request)
    again = await erp.create_credit_note(request)

    assert again == note
    assert re.fullmatch(r"CN-\d{6}", note.number)
    assert (note.rma_number, note.sales_order_number, note.currency) == (rma, so, "EUR")
    assert note.invoice_number == (await erp.get_returnable(so)).invoice_number
    # 53.97 / 3 = 17.99 for one SKU-A; 10.00 for both SKU-B; 9 % tax on 27.99.
    assert [(x.line_no, x.quantity, x.net) for x in note.lines] == [
        (1, D(1), D("17.99")),
        (2, D(2), D("10.00")),
    ]
    assert (note.net, note.tax, note.total) == (D("27.99"), D("2.52"), D("30.51"))
    assert (note.issued_on, note.status) == (ORDER_DATE, CreditNoteStatus.OPEN)
    assert [x.credited for x in (await erp.get_returnable(so)).lines] == [D(1), D(2)]
    with pytest.raises(IdempotencyConflict):
        await erp.create_credit_note(credit("c1/credit", rma, (1, "1")))
    with pytest.raises(InvalidRecord) as beyond:
        await erp.create_credit_note(credit("c1/credit-2", rma, (1, "1")))
    assert "0 received and not yet credited" in beyond.value.problems[0]


async def test_returns_in_parts_credit_exactly_the_invoice(sold: Any) -> None:
    erp, so = sold
    first = await received_rma(erp, so, "c1", (1, SKU_A, "1"), (2, SKU_B, "2"))
    second = await received_rma(erp, so, "c2", (1, SKU_A, "2"))

    one = await erp.create_credit_note(credit("c1/credit", first, (1, "1"), (2, "2")))
    two = await erp.create_credit_note(credit("c2/credit", second, (1, "2")))

    assert (two.net, two.tax, two.total) == (D("35.98"), D("3.24"), D("39.22"))
    notes: list[CreditNote] = await erp.credit_notes(so)
    assert [n.number for n in notes] == [one.number, two.number]
    assert sum((n.total for n in notes), D(0)) == D("69.73")  # the invoice total
    assert sum((n.net for n in notes), D(0)) == D("63.97")
    with pytest.raises(InvalidRecord):  # nothing left to return
        await erp.create_return_authorization(rma_request("c3/rma", so, (1, SKU_A, "1")))


async def test_cancelled_credit_note_frees_its_quantities(sold: Any) -> None:
    erp, so = sold
    rma = await received_rma(erp, so, "c1", (1, SKU_A, "2"))
    note = await erp.create_credit_note(credit("c1/credit", rma, (1, "2")))

    cancelled = await erp.cancel_credit_note("c1/credit")
    again = await erp.cancel_credit_note("c1/credit")

    assert cancelled is not None and cancelled.status is CreditNoteStatus.CANCELLED
    assert cancelled.number == note.number and again == cancelled
    assert await erp.cancel_credit_note("never-made") is None
    assert (await erp.get_returnable(so)).lines[0].credited == D(0)
    retry = await erp.create_credit_note(credit("c1/credit", rma, (1, "2")))
    assert retry.status is CreditNoteStatus.CANCELLED  # a late retry does not revive it
    fresh = await erp.create_credit_note(credit("c1/credit-2", rma, (1, "2")))
    assert (fresh.total, fresh.status) == (note.total, CreditNoteStatus.OPEN)
    with pytest.raises(InvalidState) as refund:
        await erp.refund_credit_note(
            RefundRequest(reference="c1/refund", credit_note_number=note.number)
        )
    assert refund.value.state == "cancelled"


async def test_refund_only_when_the_invoice_was_paid(sold: Any) -> None:
    erp, so = sold
    invoice_number = (await erp.get_returnable(so)).invoice_number
    rma = await received_rma(erp, so, "c1", (2, SKU_B, "1"))
    note = await erp.create_credit_note(credit("c1/credit", rma, (2, "1")))
    request = RefundRequest(reference="c1/refund", credit_note_number=note.number)

    with pytest.raises(InvalidState) as unpaid:
        await erp.refund_credit_note(request)
    assert (unpaid.value.kind, unpaid.value.state) == ("invoice", "open")

    paid = await erp.record_payment(invoice_number, D("69.73"), "pay-1")
    assert paid.status is InvoiceStatus.PAID
    assert (await erp.get_returnable(so)).invoice_paid is True
    refund = await erp.refund_credit_note(request)
    again = await erp.refund_credit_note(request)

    assert again == refund
    assert re.fullmatch(r"RF-\d{6}", refund.number)
    assert (refund.amount, refund.currency, refund.invoice_number) == (
        note.total,
        "EUR",
        invoice_number,
    )
    assert (await erp.credit_notes(so))[0].status is CreditNoteStatus.REFUNDED
    with pytest.raises(InvalidState):
        await erp.cancel_credit_note("c1/credit")
    with pytest.raises(InvalidState):  # one refund per credit note
        await erp.refund_credit_note(request.model_copy(update={"reference": "c1/refund-2"}))
    with pytest.raises(IdempotencyConflict):
        await erp.refund_credit_note(request.model_copy(update={"credit_note_number": "CN-9"}))
    with pytest.raises(RecordNotFound):
        await erp.refund_credit_note(RefundRequest(reference="x", credit_note_number="CN-404"))
    assert (await erp.count_return_documents("c1/"))["refunds"] == 1


async def test_credit_needs_an_invoice(stocked_erp: Any) -> None:
    erp = stocked_erp
    await erp.reserve(ReservationRequest(reference="o-a", sku=SKU_A, quantity=D(3)))
    order = await erp.create_sales_order(order_request("o-so", "o-a"))
    await erp.ship(order.number)
    rma = await received_rma(erp, order.number, "c1", (1, SKU_A, "1"))

    with pytest.raises(InvalidState) as caught:
        await erp.create_credit_note(credit("c1/credit", rma, (1, "1")))
    assert (caught.value.kind, caught.value.state) == ("sales_order", "shipped")


async def test_concurrent_restocks_never_exceed_what_was_received(sold: Any) -> None:
    erp, so = sold
    rma = await received_rma(erp, so, "c1", (1, SKU_A, "3"))
    before = await erp.stock_snapshot()

    def one(reference: str) -> RestockRequest:
        return RestockRequest(
            reference=reference,
            rma_number=rma,
            lines=[RestockLine(line_no=1, warehouse="W1", quantity=D(1))],
        )

    # Two restocks, each retried while it still runs: exactly two documents.
    retried = await asyncio.gather(*(erp.restock_return(one(f"c1/r{i % 2}")) for i in range(4)))
    assert len({r.number for r in retried}) == 2
    # Three more race for the one piece left: exactly one wins.
    outcomes = await asyncio.gather(
        *(erp.restock_return(one(f"c1/s{i}")) for i in range(3)), return_exceptions=True
    )

    refused = [o for o in outcomes if isinstance(o, InvalidRecord)]
    made = [o for o in outcomes if not isinstance(o, BaseException)]
    assert (len(made), len(refused)) == (1, 2), outcomes
    after = await erp.stock_snapshot()
    assert after[(SKU_A, "W1")] == (before[(SKU_A, "W1")][0] + 3, before[(SKU_A, "W1")][1])
    assert {k: v for k, v in after.items() if k != (SKU_A, "W1")} == {
        k: v for k, v in before.items() if k != (SKU_A, "W1")
    }
    assert (await erp.count_return_documents("c1/"))["restocks"] == 3
