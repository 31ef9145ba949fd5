"""The ERP fake's restocks, write-offs, credit notes and refunds (``InMemoryERP`` inherits
``InMemoryReturns``).

They behave as ``SandboxERP``'s do (same idempotency, errors, numbers), which the contract suite
checks. Each method runs without awaiting, so every operation is atomic.
"""

from __future__ import annotations

from decimal import Decimal

from domain.models import InvoiceStatus
from domain.money import ZERO
from domain.return_quantities import summed
from domain.return_rules import credit_amounts
from domain.returns import (
    CreditNote,
    CreditNoteRequest,
    CreditNoteStatus,
    Refund,
    RefundRequest,
    Restock,
    RestockedLine,
    RestockRequest,
    RestockStatus,
    ScrappedLine,
    WriteOff,
    WriteOffRequest,
)
from tests.fakes_rma import InMemoryRmas, conflict, invalid, not_found, state_error
from tests.fault_injection import _copy, _port

__all__ = ["InMemoryReturns"]


class InMemoryReturns(InMemoryRmas):
    """Restocks, write-offs, credit notes and refunds of received returns."""

    # -- port: restock and write-off --------------------------------------------------------

    def _disposed(self, rma_number: str) -> dict[int, Decimal]:
        restocked = [
            (line.line_no, line.quantity)
            for restock in self._restocks.values()
            if restock.rma_number == rma_number and restock.status is RestockStatus.POSTED
            for line in restock.lines
        ]
        scrapped = [
            (line.line_no, line.quantity)
            for write_off in self._write_offs.values()
            if write_off.rma_number == rma_number
            for line in write_off.lines
        ]
        return summed(restocked + scrapped)

    def _credited(self, rma_number: str) -> dict[int, Decimal]:
        return summed(
            [
                (line.line_no, line.quantity)
                for note in self._credit_notes.values()
                if note.rma_number == rma_number and note.status is not CreditNoteStatus.CANCELLED
                for line in note.lines
            ]
        )

    @_port
    async def restock_return(self, request: RestockRequest) -> Restock:
        existing = self._restocks.get(request.reference)
        if existing is not None:
            stored = [(x.line_no, x.warehouse, x.quantity) for x in existing.lines]
            asked = [(x.line_no, x.warehouse, x.quantity) for x in request.lines]
            if existing.rma_number != request.rma_number or stored != asked:
                raise conflict("restock", existing.number, request.reference)
            return _copy(existing)
        rma = self._received_rma(request.rma_number)
        asked_qty = [(line.line_no, line.quantity) for line in request.lines]
        skus = self._check_quantities(
            f"restock {request.reference}",
            rma,
            asked_qty,
            self._disposed(rma.number),
            "restocked or scrapped",
        )
        for code in sorted({line.warehouse for line in request.lines}):
            if code not in self._warehouses:
                raise not_found("warehouse", code)
        for line in request.lines:
            sku = skus[line.line_no]
            level = self._stock.get((sku, line.warehouse))
            if level is None:
                await self.set_stock(sku, line.warehouse, line.quantity)
            else:
                level.on_hand += line.quantity
        restock = Restock(
            number=self._next("RST-"),
            reference=request.reference,
            rma_number=rma.number,
            status=RestockStatus.POSTED,
            lines=[
                RestockedLine(
                    line_no=x.line_no,
                    sku=skus[x.line_no],
                    warehouse=x.warehouse,
                    quantity=x.quantity,
                )
                for x in request.lines
            ],
        )
        self._restocks[request.reference] = restock
        return _copy(restock)

    @_port
    async def reverse_restock(self, reference: str) -> Restock | None:
        restock = self._restocks.get(reference)
        if restock is None:
            return None
        if restock.status is RestockStatus.REVERSED:
            return _copy(restock)
        taken: dict[tuple[str, str], Decimal] = {}
        for line in restock.lines:
            key = (line.sku, line.warehouse)
            taken[key] = taken.get(key, ZERO) + line.quantity
        for (sku, warehouse), quantity in taken.items():
            level = self._stock.get((sku, warehouse))
            available = ZERO if level is None else level.on_hand - level.reserved
            if available < quantity:
                raise state_error(
                    "stock",
                    f"{sku}@{warehouse}",
                    f"available={available}",
                    f"restock {reference} cannot be reversed: only {available} {sku} available "
                    f"in {warehouse}, {quantity} were restocked",
                )
        for key, quantity in taken.items():
            self._stock[key].on_hand -= quantity
        restock.status = RestockStatus.REVERSED
        return _copy(restock)

    @_port
    async def write_off_return(self, request: WriteOffRequest) -> WriteOff:
        existing = self._write_offs.get(request.reference)
        if existing is not None:
            stored = [(x.line_no, x.quantity, x.reason) for x in existing.lines]
            asked = [(x.line_no, x.quantity, x.reason) for x in request.lines]
            if existing.rma_number != request.rma_number or stored != asked:
                raise conflict("write-off", existing.number, request.reference)
            return _copy(existing)
        rma = self._received_rma(request.rma_number)
        unexplained = [
            f"lines[{line.line_no}].reason: scrap needs a reason"
            for line in request.lines
            if not line.reason.strip()
        ]
        if unexplained:
            raise invalid(f"write-off {request.reference}", unexplained)
        skus = self._check_quantities(
            f"write-off {request.reference}",
            rma,
            [(line.line_no, line.quantity) for line in request.lines],
            self._disposed(rma.number),
            "restocked or scrapped",
        )
        write_off = WriteOff(
            number=self._next("WO-"),
            reference=request.reference,
            rma_number=rma.number,
            lines=[
                ScrappedLine(
                    line_no=x.line_no, sku=skus[x.line_no], quantity=x.quantity, reason=x.reason
                )
                for x in request.lines
            ],
        )
        self._write_offs[request.reference] = write_off
        return _copy(write_off)

    # -- port: credit notes and refunds -----------------------------------------------------

    @_port
    async def create_credit_note(self, request: CreditNoteRequest) -> CreditNote:
        asked = summed([(line.line_no, line.quantity) for line in request.lines])
        existing = self._credit_notes.get(request.reference)
        if existing is not None:
            stored = {x.line_no: x.quantity for x in existing.lines}
            if existing.rma_number != request.rma_number or stored != asked:
                raise conflict("credit note", existing.number, request.reference)
            return _copy(existing)
        rma = self._received_rma(request.rma_number)
        order = self._row_by_number(rma.sales_order_number).order
        invoice = self._invoice_of(order.number)
        if invoice is None:
            raise state_error(
                "sales_order",
                order.number,
                order.status.value,
                f"sales order {order.number} is not invoiced: there is nothing to credit",
            )
        self._check_quantities(
            f"credit note {request.reference}",
            rma,
            [(line.line_no, line.quantity) for line in request.lines],
            self._credited(rma.number),
            "credited",
        )
        amounts = credit_amounts(self._returnable(order.number), asked)
        note = CreditNote(
            number=self._next("CN-"),
            reference=request.reference,
            rma_number=rma.number,
            invoice_number=invoice.number,
            sales_order_number=order.number,
            customer_id=order.customer_id,
            currency=order.currency,
            lines=amounts.lines,
            net=amounts.net,
            tax=amounts.tax,
            total=amounts.total,
            issued_on=request.credit_date or self._today(),
            status=CreditNoteStatus.OPEN,
        )
        self._credit_notes[request.reference] = note
        self._cn_by_number[note.number] = request.reference
        return _copy(note)

    @_port
    async def cancel_credit_note(self, reference: str) -> CreditNote | None:
        note = self._credit_notes.get(reference)
        if note is None:
            return None
        if note.status is CreditNoteStatus.REFUNDED:
            raise state_error(
                "credit_note",
                reference,
                note.status.value,
                f"credit note {note.number} was refunded and cannot be cancelled",
            )
        note.status = CreditNoteStatus.CANCELLED
        return _copy(note)

    @_port
    async def refund_credit_note(self, request: RefundRequest) -> Refund:
        existing = self._refunds.get(request.reference)
        if existing is not None:
            if existing.credit_note_number != request.credit_note_number:
                raise conflict("refund", existing.number, request.reference)
            return _copy(existing)
        reference = self._cn_by_number.get(request.credit_note_number)
        if reference is None:
            raise not_found("credit_note", request.credit_note_number)
        note = self._credit_notes[reference]
        if note.status is not CreditNoteStatus.OPEN:
            raise state_error(
                "credit_note",
                note.number,
                note.status.value,
                f"credit note {note.number} is {note.status.value}: it cannot be refunded",
            )
        invoice = self._invoices.get(note.invoice_number)
        if invoice is None or invoice.status is not InvoiceStatus.PAID:
            raise state_error(
                "invoice",
                note.invoice_number,
                invoice.status.value if invoice is not None else "missing",
                f"invoice {note.invoice_number} is not paid: the credit is offset, not refunded",
            )
        refund = Refund(
            number=self._next("RF-"),
            reference=request.reference,
            credit_note_number=note.number,
            invoice_number=note.invoice_number,
            customer_id=note.customer_id,
            currency=note.currency,
            amount=note.total,
            refunded_on=self._today(),
        )
        note.status = CreditNoteStatus.REFUNDED
        self._refunds[request.reference] = refund
        return _copy(refund)
