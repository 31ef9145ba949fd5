"""The ERP fake's return records, RMAs and receipts (``InMemoryReturns`` builds on them).

They behave as ``SandboxERP``'s do (same idempotency, errors, numbers), which the contract suite
checks. Each method runs without awaiting, so every operation is atomic.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from domain.errors import IdempotencyConflict, InvalidRecord, InvalidState, RecordNotFound
from domain.models import ErpProduct, Invoice, InvoiceStatus, SalesOrderStatus
from domain.money import ZERO
from domain.return_quantities import receipt_quantities, received_use_problems, summed
from domain.returns import (
    CreditNote,
    CreditNoteStatus,
    ReceiptLine,
    Refund,
    Restock,
    ReturnableLine,
    ReturnableOrder,
    ReturnAuthorization,
    ReturnAuthorizationLine,
    ReturnAuthorizationRequest,
    ReturnAuthorizationStatus,
    ReturnReceiptRequest,
    WriteOff,
)
from tests.fault_injection import FaultInjection, _copy, _port

if TYPE_CHECKING:
    from tests.fakes_records import _SalesOrderRow, _Stock, _Warehouse


__all__ = ["InMemoryRmas", "conflict", "invalid", "not_found", "state_error"]


def invalid(what: str, problems: list[str]) -> InvalidRecord:
    return InvalidRecord(f"{what} is invalid", problems=problems, system="erp")


def state_error(kind: str, key: str, state: str, message: str, system: str = "erp") -> InvalidState:
    return InvalidState(message, kind=kind, key=key, state=state, system=system)


def conflict(kind: str, number: str, reference: str) -> IdempotencyConflict:
    return IdempotencyConflict(
        f"{kind} {number} was created under {reference} with other content",
        reference=reference,
        system="erp",
    )


def not_found(kind: str, key: str) -> RecordNotFound:
    return RecordNotFound(f"ERP {kind} {key!r} not found", kind=kind, key=key, system="erp")


# --- ERP -------------------------------------------------------------------------------------


class InMemoryRmas(FaultInjection):
    """The returns' records, what can be returned, return authorizations and receipts."""

    # InMemoryERP's records and lookups, which the returns read and change.
    _today: Callable[[], date]
    _now: Callable[[], datetime]
    _warehouses: dict[str, _Warehouse]
    _products: dict[str, ErpProduct]
    _stock: dict[tuple[str, str], _Stock]
    _invoices: dict[str, Invoice]
    _row_by_number: Callable[[str], _SalesOrderRow]
    set_stock: Callable[[str, str, Decimal], Coroutine[Any, Any, None]]

    def __init__(self) -> None:
        super().__init__()
        self._rmas: dict[str, ReturnAuthorization] = {}  # by number
        self._rma_by_ref: dict[str, str] = {}
        self._receipt_refs: dict[str, str] = {}  # receipt reference -> RMA number
        self._restocks: dict[str, Restock] = {}  # by reference
        self._write_offs: dict[str, WriteOff] = {}  # by reference
        self._credit_notes: dict[str, CreditNote] = {}  # by reference
        self._cn_by_number: dict[str, str] = {}
        self._refunds: dict[str, Refund] = {}  # by reference
        self._numbers: dict[str, int] = {}

    def _next(self, prefix: str) -> str:
        self._numbers[prefix] = self._numbers.get(prefix, 0) + 1
        return f"{prefix}{self._numbers[prefix]:06d}"

    # -- admin ------------------------------------------------------------------------------

    async def receive_return(
        self, rma_number: str, quantities: dict[int, Decimal], reference: str
    ) -> ReturnAuthorization:
        """The warehouse books the goods that arrived for an RMA; idempotent on ``reference``."""
        request = ReturnReceiptRequest(
            reference=reference,
            rma_number=rma_number,
            lines=[ReceiptLine(line_no=n, quantity=q) for n, q in sorted(quantities.items())],
        )
        return self._receive(request)

    async def credit_notes(self, sales_order_number: str) -> list[CreditNote]:
        notes = [
            n for n in self._credit_notes.values() if n.sales_order_number == sales_order_number
        ]
        return [_copy(n) for n in sorted(notes, key=lambda n: n.number)]

    async def count_return_documents(self, reference_prefix: str) -> dict[str, int]:
        def count(refs: Sequence[str]) -> int:
            return sum(1 for ref in refs if ref.startswith(reference_prefix))

        return {
            "return_authorizations": count(list(self._rma_by_ref)),
            "restocks": count(list(self._restocks)),
            "write_offs": count(list(self._write_offs)),
            "credit_notes": count(list(self._credit_notes)),
            "refunds": count(list(self._refunds)),
        }

    # -- reading ----------------------------------------------------------------------------

    def _invoice_of(self, sales_order_number: str) -> Invoice | None:
        for invoice in self._invoices.values():
            if invoice.sales_order_number == sales_order_number:
                return invoice
        return None

    def _returnable(self, number: str) -> ReturnableOrder:
        row = self._row_by_number(number)
        authorized: dict[int, Decimal] = {}
        returned: dict[int, Decimal] = {}
        for rma in self._rmas.values():
            if rma.sales_order_number != number:
                continue
            for line in rma.lines:
                if rma.status is ReturnAuthorizationStatus.AUTHORIZED:
                    authorized[line.line_no] = authorized.get(line.line_no, ZERO) + line.quantity
                elif rma.status is ReturnAuthorizationStatus.RECEIVED:
                    returned[line.line_no] = returned.get(line.line_no, ZERO) + line.received
        credited = summed(
            [
                (line.line_no, line.quantity)
                for note in self._credit_notes.values()
                if note.sales_order_number == number
                and note.status is not CreditNoteStatus.CANCELLED
                for line in note.lines
            ]
        )
        invoice = self._invoice_of(number)
        order = row.order
        products = self._products
        return ReturnableOrder(
            sales_order_number=number,
            customer_id=order.customer_id,
            currency=order.currency,
            status=order.status,
            tax_pct=row.request.tax_pct,
            delivered_on=order.shipped_at.date() if order.shipped_at is not None else None,
            invoice_number=invoice.number if invoice is not None else None,
            invoice_paid=invoice is not None and invoice.status is InvoiceStatus.PAID,
            lines=[
                ReturnableLine(
                    line_no=line.line_no,
                    sku=line.sku,
                    category=products[line.sku].category if line.sku in products else None,
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                    discount_pct=line.discount_pct,
                    authorized=authorized.get(line.line_no, ZERO),
                    returned=returned.get(line.line_no, ZERO),
                    credited=credited.get(line.line_no, ZERO),
                )
                for line in row.request.lines
            ],
        )

    def _rma(self, number: str) -> ReturnAuthorization:
        rma = self._rmas.get(number)
        if rma is None:
            raise not_found("return_authorization", number)
        return rma

    def _received_rma(self, number: str) -> ReturnAuthorization:
        rma = self._rma(number)
        if rma.status is not ReturnAuthorizationStatus.RECEIVED:
            raise state_error(
                "return_authorization",
                number,
                rma.status.value,
                f"return authorization {number} is {rma.status.value}: its goods have not been "
                "received",
            )
        return rma

    # -- port: authorization and receipt ----------------------------------------------------

    @_port
    async def get_returnable(self, sales_order_number: str) -> ReturnableOrder:
        return self._returnable(sales_order_number)

    @_port
    async def create_return_authorization(
        self, request: ReturnAuthorizationRequest
    ) -> ReturnAuthorization:
        number = self._rma_by_ref.get(request.reference)
        if number is not None:
            rma = self._rmas[number]
            stored = [(x.line_no, x.sku, x.quantity) for x in rma.lines]
            asked = sorted((x.line_no, x.sku, x.quantity) for x in request.lines)
            if rma.sales_order_number != request.sales_order_number or stored != asked:
                raise IdempotencyConflict(
                    f"return authorization {rma.number} was created under {request.reference} "
                    "for another sales order or other lines",
                    reference=request.reference,
                    system="erp",
                )
            return _copy(rma)
        order = self._row_by_number(request.sales_order_number).order
        if order.status not in (SalesOrderStatus.SHIPPED, SalesOrderStatus.INVOICED):
            raise state_error(
                "sales_order",
                order.number,
                order.status.value,
                f"sales order {order.number} is {order.status.value}: nothing shipped to return",
            )
        returnable = self._returnable(order.number)
        problems = (
            [] if request.lines else ["lines: a return authorization needs at least one line"]
        )
        by_line = {line.line_no: line for line in returnable.lines}
        seen: set[int] = set()
        for item in request.lines:
            where = f"lines[{item.line_no}]"
            line = by_line.get(item.line_no)
            if line is None:
                problems.append(f"{where}: sales order {order.number} has no such line")
            elif item.line_no in seen:
                problems.append(f"{where}: named twice")
            elif line.sku != item.sku:
                problems.append(f"{where}.sku: the line is {line.sku}, not {item.sku}")
            elif item.quantity <= ZERO:
                problems.append(f"{where}.quantity: must be positive, got {item.quantity}")
            elif item.quantity > line.returnable:
                problems.append(
                    f"{where}.quantity: {item.quantity} {line.sku} exceeds the "
                    f"{line.returnable} still returnable ({line.quantity} shipped, "
                    f"{line.returned} returned, {line.authorized} authorized)"
                )
            seen.add(item.line_no)
        if problems:
            raise invalid(f"return authorization {request.reference}", problems)
        rma = ReturnAuthorization(
            number=self._next("RMA-"),
            reference=request.reference,
            sales_order_number=order.number,
            customer_id=order.customer_id,
            currency=order.currency,
            status=ReturnAuthorizationStatus.AUTHORIZED,
            lines=sorted(
                (
                    ReturnAuthorizationLine(line_no=x.line_no, sku=x.sku, quantity=x.quantity)
                    for x in request.lines
                ),
                key=lambda x: x.line_no,
            ),
            reason=request.reason,
            crm_case_id=request.crm_case_id,
            authorized_on=request.authorized_on or self._today(),
        )
        self._rmas[rma.number] = rma
        self._rma_by_ref[request.reference] = rma.number
        return _copy(rma)

    @_port
    async def get_return_authorization(self, reference: str) -> ReturnAuthorization | None:
        number = self._rma_by_ref.get(reference)
        return None if number is None else _copy(self._rmas[number])

    @_port
    async def cancel_return_authorization(self, reference: str) -> ReturnAuthorization | None:
        number = self._rma_by_ref.get(reference)
        if number is None:
            return None
        rma = self._rmas[number]
        if rma.status is ReturnAuthorizationStatus.RECEIVED:
            raise state_error(
                "return_authorization",
                reference,
                rma.status.value,
                f"return authorization {rma.number} has received goods and cannot be cancelled",
            )
        rma.status = ReturnAuthorizationStatus.CANCELLED
        return _copy(rma)

    def _receive(self, request: ReturnReceiptRequest) -> ReturnAuthorization:
        rma = self._rma(request.rma_number)
        authorized = {line.line_no: line.quantity for line in rma.lines}
        received, problems = receipt_quantities(rma.number, authorized, request.lines)
        if problems:
            raise invalid(f"receipt {request.reference}", problems)
        stored = {line.line_no: line.received for line in rma.lines}
        own = self._receipt_refs.get(request.reference)
        if own == rma.number or rma.status is ReturnAuthorizationStatus.RECEIVED:
            if stored == received:
                return _copy(rma)
            if own == rma.number:
                raise IdempotencyConflict(
                    f"receipt {request.reference} recorded other quantities on {rma.number}",
                    reference=request.reference,
                    system="erp",
                )
        if own is not None:
            raise IdempotencyConflict(
                f"receipt {request.reference} was recorded on another RMA",
                reference=request.reference,
                system="erp",
            )
        if rma.status is not ReturnAuthorizationStatus.AUTHORIZED:
            raise state_error(
                "return_authorization",
                rma.number,
                rma.status.value,
                f"return authorization {rma.number} is {rma.status.value}: it takes no (other) "
                "receipt",
            )
        for line in rma.lines:
            line.received = received[line.line_no]
        rma.status = ReturnAuthorizationStatus.RECEIVED
        rma.received_at = self._now()
        self._receipt_refs[request.reference] = rma.number
        return _copy(rma)

    @_port
    async def record_return_receipt(self, request: ReturnReceiptRequest) -> ReturnAuthorization:
        return self._receive(request)

    @staticmethod
    def _check_quantities(
        what: str,
        rma: ReturnAuthorization,
        asked: Sequence[tuple[int, Decimal]],
        used: dict[int, Decimal],
        use: str,
    ) -> dict[int, str]:
        lines = {line.line_no: line for line in rma.lines}
        received = {line_no: line.received for line_no, line in lines.items()}
        problems = received_use_problems(rma.number, received, asked, used, use)
        if problems:
            raise invalid(what, problems)
        return {line_no: line.sku for line_no, line in lines.items()}
