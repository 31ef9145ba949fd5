"""Typed activity calls of order-to-cash: which queue, which timeouts, which retries.

Keeping them here keeps the workflow readable as a business process.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities import crm as c
    from activities import erp as e
    from domain.models import (
        CreditStatus,
        CrmNote,
        CrmStatusUpdate,
        CrmTask,
        CustomerData,
        ErpProduct,
        Invoice,
        InvoiceRequest,
        Reservation,
        ReservationRequest,
        SalesOrder,
        SalesOrderRequest,
    )
    from workflows.activity_calls import run_activity


class Calls:
    """The activities one order-to-cash run uses, bound to its task queues."""

    def __init__(self, crm_queue: str, erp_queue: str) -> None:
        self._crm = crm_queue
        self._erp = erp_queue

    async def fetch_order(self, order_id: str) -> c.FetchOrderResult:
        return await run_activity(
            c.CrmActivities.fetch_order,
            c.FetchOrderInput(order_id=order_id),
            self._crm,
            f"read CRM order {order_id}",
            c.FetchOrderResult,
        )

    async def link_account(self, account_id: str, customer_id: str) -> None:
        await run_activity(
            c.CrmActivities.link_account,
            c.LinkAccountInput(account_id=account_id, erp_customer_id=customer_id),
            self._crm,
            f"link CRM account {account_id} to ERP customer {customer_id}",
            c.LinkAccountResult,
        )

    async def set_status(self, update: CrmStatusUpdate, *more: CrmStatusUpdate) -> None:
        """Set the CRM status to ``update``, then to each of ``more``, in one activity."""
        await run_activity(
            c.CrmActivities.update_order_status,
            c.UpdateOrderStatusInput(update=update, more=list(more)),
            self._crm,
            "CRM status " + " → ".join(u.status.value for u in (update, *more)),
            c.UpdateOrderStatusResult,
        )

    async def add_note(self, note: CrmNote) -> None:
        await run_activity(
            c.CrmActivities.add_note,
            c.AddNoteInput(note=note),
            self._crm,
            f"CRM note: {note.subject}"[:100],
            c.AddNoteResult,
        )

    async def create_task(self, task: CrmTask) -> None:
        await run_activity(
            c.CrmActivities.create_task,
            c.CreateTaskInput(task=task),
            self._crm,
            f"CRM task for {task.assignee}: {task.subject}"[:100],
            c.CreateTaskResult,
        )

    # --- ERP ---------------------------------------------------------------------------------

    async def ensure_customer(self, data: CustomerData) -> e.EnsureCustomerResult:
        return await run_activity(
            e.ErpActivities.ensure_customer,
            e.EnsureCustomerInput(data=data),
            self._erp,
            f"find or create ERP customer for {data.external_ref}",
            e.EnsureCustomerResult,
        )

    async def credit_status(self, customer_id: str) -> CreditStatus:
        out = await run_activity(
            e.ErpActivities.get_credit_status,
            e.GetCreditStatusInput(customer_id=customer_id),
            self._erp,
            f"credit status of {customer_id}",
            e.GetCreditStatusResult,
        )
        return out.credit

    async def products(self, skus: list[str]) -> list[ErpProduct]:
        out = await run_activity(
            e.ErpActivities.get_products,
            e.GetProductsInput(skus=skus),
            self._erp,
            f"look up {len(skus)} products",
            e.GetProductsResult,
        )
        return out.products

    async def reserve(self, request: ReservationRequest) -> Reservation:
        out = await run_activity(
            e.ErpActivities.reserve_stock,
            e.ReserveStockInput(request=request),
            self._erp,
            f"reserve {request.quantity} x {request.sku}",
            e.ReserveStockResult,
        )
        return out.reservation

    async def release(self, reference: str) -> None:
        await run_activity(
            e.ErpActivities.release_stock,
            e.ReleaseStockInput(reference=reference),
            self._erp,
            f"release {reference}",
            e.ReleaseStockResult,
        )

    async def create_sales_order(self, request: SalesOrderRequest) -> SalesOrder:
        out = await run_activity(
            e.ErpActivities.create_sales_order,
            e.CreateSalesOrderInput(request=request),
            self._erp,
            "create ERP sales order",
            e.CreateSalesOrderResult,
        )
        return out.sales_order

    async def sales_order(self, reference: str) -> SalesOrder | None:
        out = await run_activity(
            e.ErpActivities.get_sales_order,
            e.GetSalesOrderInput(reference=reference),
            self._erp,
            "check shipment in ERP",
            e.GetSalesOrderResult,
        )
        return out.sales_order

    async def cancel_sales_order(self, reference: str) -> None:
        await run_activity(
            e.ErpActivities.cancel_sales_order,
            e.CancelSalesOrderInput(reference=reference),
            self._erp,
            f"cancel ERP sales order {reference}",
            e.CancelSalesOrderResult,
        )

    async def create_invoice(self, request: InvoiceRequest) -> Invoice:
        out = await run_activity(
            e.ErpActivities.create_invoice,
            e.CreateInvoiceInput(request=request),
            self._erp,
            "create ERP invoice",
            e.CreateInvoiceResult,
        )
        return out.invoice

    async def invoice(self, number: str) -> Invoice:
        out = await run_activity(
            e.ErpActivities.get_invoice,
            e.GetInvoiceInput(number=number),
            self._erp,
            f"check payments on {number}",
            e.GetInvoiceResult,
        )
        return out.invoice
