"""ERP activities. Each write is idempotent on the external reference the workflow derives from
the business key and the step, so a retry never creates a second record."""

from __future__ import annotations

from pydantic import BaseModel
from temporalio import activity

from activities.base import Activities
from activities.errors import guarded
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


class EnsureCustomerInput(BaseModel):
    data: CustomerData


class EnsureCustomerResult(BaseModel):
    customer: ErpCustomer
    matched: bool  # an existing customer was found (by reference, tax id or e-mail)


class GetCreditStatusInput(BaseModel):
    customer_id: str


class GetCreditStatusResult(BaseModel):
    credit: CreditStatus


class GetProductsInput(BaseModel):
    skus: list[str]


class GetProductsResult(BaseModel):
    products: list[ErpProduct]


class GetStockInput(BaseModel):
    skus: list[str]


class GetStockResult(BaseModel):
    levels: list[StockLevel]


class ReserveStockInput(BaseModel):
    request: ReservationRequest


class ReserveStockResult(BaseModel):
    reservation: Reservation


class ReleaseStockInput(BaseModel):
    reference: str


class ReleaseStockResult(BaseModel):
    reservation: Reservation | None


class CreateSalesOrderInput(BaseModel):
    request: SalesOrderRequest


class CreateSalesOrderResult(BaseModel):
    sales_order: SalesOrder


class GetSalesOrderInput(BaseModel):
    reference: str


class GetSalesOrderResult(BaseModel):
    sales_order: SalesOrder | None


class CancelSalesOrderInput(BaseModel):
    reference: str


class CancelSalesOrderResult(BaseModel):
    sales_order: SalesOrder | None


class CreateInvoiceInput(BaseModel):
    request: InvoiceRequest


class CreateInvoiceResult(BaseModel):
    invoice: Invoice


class GetInvoiceInput(BaseModel):
    number: str


class GetInvoiceResult(BaseModel):
    invoice: Invoice


class ErpActivities(Activities):
    """Activities on the ERP task queue.

    Args:
        erp: The ERP to talk to (sandbox, Tryton, SAP …), chosen by the composition root.
    """

    def __init__(self, erp: ERPPort) -> None:
        self._erp = erp

    @activity.defn(name="erp_ensure_customer")
    async def ensure_customer(self, input: EnsureCustomerInput) -> EnsureCustomerResult:
        """Find the customer by reference, tax id or e-mail; create it only when none matches."""
        data = input.data
        found = await guarded(
            self._erp.find_customer(
                external_ref=data.external_ref, tax_id=data.tax_id, email=data.email
            )
        )
        if found is not None:
            return EnsureCustomerResult(customer=found, matched=True)
        created = await guarded(self._erp.create_customer(data))
        return EnsureCustomerResult(customer=created, matched=False)

    @activity.defn(name="erp_get_credit_status")
    async def get_credit_status(self, input: GetCreditStatusInput) -> GetCreditStatusResult:
        """Credit limit and open receivables of a customer."""
        return GetCreditStatusResult(
            credit=await guarded(self._erp.get_credit_status(input.customer_id))
        )

    @activity.defn(name="erp_get_products")
    async def get_products(self, input: GetProductsInput) -> GetProductsResult:
        """The products the ERP knows among the SKUs asked."""
        return GetProductsResult(products=await guarded(self._erp.get_products(input.skus)))

    @activity.defn(name="erp_get_stock")
    async def get_stock(self, input: GetStockInput) -> GetStockResult:
        """Stock per product and warehouse."""
        return GetStockResult(levels=await guarded(self._erp.get_stock(input.skus)))

    @activity.defn(name="erp_reserve_stock")
    async def reserve_stock(self, input: ReserveStockInput) -> ReserveStockResult:
        """Reserve stock for one order line across warehouses."""
        return ReserveStockResult(reservation=await guarded(self._erp.reserve(input.request)))

    @activity.defn(name="erp_release_stock")
    async def release_stock(self, input: ReleaseStockInput) -> ReleaseStockResult:
        """Release a reservation (compensation); a no-op when there is none."""
        return ReleaseStockResult(reservation=await guarded(self._erp.release(input.reference)))

    @activity.defn(name="erp_create_sales_order")
    async def create_sales_order(self, input: CreateSalesOrderInput) -> CreateSalesOrderResult:
        """Create the ERP sales order."""
        return CreateSalesOrderResult(
            sales_order=await guarded(self._erp.create_sales_order(input.request))
        )

    @activity.defn(name="erp_get_sales_order")
    async def get_sales_order(self, input: GetSalesOrderInput) -> GetSalesOrderResult:
        """The sales order with its status (the shipment poll)."""
        return GetSalesOrderResult(
            sales_order=await guarded(self._erp.get_sales_order(input.reference))
        )

    @activity.defn(name="erp_cancel_sales_order")
    async def cancel_sales_order(self, input: CancelSalesOrderInput) -> CancelSalesOrderResult:
        """Cancel the sales order (compensation); a no-op when there is none."""
        return CancelSalesOrderResult(
            sales_order=await guarded(self._erp.cancel_sales_order(input.reference))
        )

    @activity.defn(name="erp_create_invoice")
    async def create_invoice(self, input: CreateInvoiceInput) -> CreateInvoiceResult:
        """Invoice the shipped sales order."""
        return CreateInvoiceResult(invoice=await guarded(self._erp.create_invoice(input.request)))

    @activity.defn(name="erp_get_invoice")
    async def get_invoice(self, input: GetInvoiceInput) -> GetInvoiceResult:
        """The invoice with what is paid on it (the payment poll)."""
        return GetInvoiceResult(invoice=await guarded(self._erp.get_invoice(input.number)))
