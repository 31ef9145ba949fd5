"""What every ERP adapter must do with a return's goods and money (restock, write-off, credit
notes, refunds), run against each implementation. The order of every test is ``sold`` (see
``test_erp_returns_contract.py``)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from domain.errors import (
    IdempotencyConflict,
    InvalidRecord,
    InvalidState,
    RecordNotFound,
)
from domain.models import InvoiceStatus, ReservationRequest
from domain.returns import (
    CreditNote,
    CreditNoteStatus,
    RefundRequest,
    RestockLine,
    RestockRequest,
    RestockStatus,
    ScrapLine,
    WriteOffRequest,
)
from tests.contract.conftest import SKU_A, SKU_B
from tests.contract.erp_orders import ORDER_DATE, order_request
from tests.contract.erp_returns import (
    D,
    assert_permanent,
    credit,
    received_rma,
    rma_request,
)

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
