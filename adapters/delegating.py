"""An ERP port that forwards every call to another one: the base for decorators that add
behaviour around a real adapter (fault injection in tests, an instant warehouse in the
benchmark, later caching or metrics) without repeating the whole port."""

from __future__ import annotations

from collections.abc import Sequence

from adapters.ports import ERPPort
from domain.models import (
    CreditStatus,
    CustomerData,
    ErpCustomer,
    ErpProduct,
    Invoice,
    InvoiceRequest,
    Reservation,
    ReservationRequest,
    SalesOrder,
    SalesOrderRequest,
    StockLevel,
)
from domain.returns import (
    CreditNote,
    CreditNoteRequest,
    Refund,
    RefundRequest,
    Restock,
    RestockRequest,
    ReturnableOrder,
    ReturnAuthorization,
    ReturnAuthorizationRequest,
    ReturnReceiptRequest,
    WriteOff,
    WriteOffRequest,
)


class DelegatingERP(ERPPort):
    """Forwards each port call to ``inner``; subclasses override what they change.

    Args:
        inner: The adapter that does the work.
    """

    def __init__(self, inner: ERPPort) -> None:
        self.inner = inner

    async def find_customer(
        self, *, external_ref: str | None, tax_id: str | None, email: str | None
    ) -> ErpCustomer | None:
        return await self.inner.find_customer(external_ref=external_ref, tax_id=tax_id, email=email)

    async def create_customer(self, data: CustomerData) -> ErpCustomer:
        return await self.inner.create_customer(data)

    async def get_credit_status(self, customer_id: str) -> CreditStatus:
        return await self.inner.get_credit_status(customer_id)

    async def get_products(self, skus: Sequence[str]) -> list[ErpProduct]:
        return await self.inner.get_products(skus)

    async def get_stock(self, skus: Sequence[str]) -> list[StockLevel]:
        return await self.inner.get_stock(skus)

    async def reserve(self, request: ReservationRequest) -> Reservation:
        return await self.inner.reserve(request)

    async def release(self, reference: str) -> Reservation | None:
        return await self.inner.release(reference)

    async def create_sales_order(self, request: SalesOrderRequest) -> SalesOrder:
        return await self.inner.create_sales_order(request)

    async def get_sales_order(self, reference: str) -> SalesOrder | None:
        return await self.inner.get_sales_order(reference)

    async def cancel_sales_order(self, reference: str) -> SalesOrder | None:
        return await self.inner.cancel_sales_order(reference)

    async def create_invoice(self, request: InvoiceRequest) -> Invoice:
        return await self.inner.create_invoice(request)

    async def get_invoice(self, number: str) -> Invoice:
        return await self.inner.get_invoice(number)

    async def get_returnable(self, sales_order_number: str) -> ReturnableOrder:
        return await self.inner.get_returnable(sales_order_number)

    async def create_return_authorization(
        self, request: ReturnAuthorizationRequest
    ) -> ReturnAuthorization:
        return await self.inner.create_return_authorization(request)

    async def get_return_authorization(self, reference: str) -> ReturnAuthorization | None:
        return await self.inner.get_return_authorization(reference)

    async def cancel_return_authorization(self, reference: str) -> ReturnAuthorization | None:
        return await self.inner.cancel_return_authorization(reference)

    async def record_return_receipt(self, request: ReturnReceiptRequest) -> ReturnAuthorization:
        return await self.inner.record_return_receipt(request)

    async def restock_return(self, request: RestockRequest) -> Restock:
        return await self.inner.restock_return(request)

    async def reverse_restock(self, reference: str) -> Restock | None:
        return await self.inner.reverse_restock(reference)

    async def write_off_return(self, request: WriteOffRequest) -> WriteOff:
        return await self.inner.write_off_return(request)

    async def create_credit_note(self, request: CreditNoteRequest) -> CreditNote:
        return await self.inner.create_credit_note(request)

    async def cancel_credit_note(self, reference: str) -> CreditNote | None:
        return await self.inner.cancel_credit_note(reference)

    async def refund_credit_note(self, request: RefundRequest) -> Refund:
        return await self.inner.refund_credit_note(request)
