"""The two ports peyvand talks through, in business words.

A CRM adapter (Salesforce, Zoho, Dynamics, the sandbox) implements ``CRMPort``; an ERP adapter
(SAP S/4HANA, Odoo, Tryton, the sandbox) implements ``ERPPort``. Every write is idempotent on the
key or external reference it is given, so an activity retried after its write committed changes
nothing more. Implementations raise only the errors of ``domain.errors``: vendor errors are
translated at the edge.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from domain.models import (
    CreditStatus,
    CrmAccount,
    CrmNote,
    CrmOrder,
    CrmStatusUpdate,
    CrmTask,
    CrmUser,
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


class CRMPort(ABC):
    """What peyvand needs from a CRM."""

    @abstractmethod
    async def get_order(self, order_id: str) -> CrmOrder:
        """The order with its lines. Raises RecordNotFound, InvalidRecord (unreadable record)."""

    @abstractmethod
    async def get_account(self, account_id: str) -> CrmAccount:
        """A customer account. Raises RecordNotFound."""

    @abstractmethod
    async def link_account(self, account_id: str, erp_customer_id: str) -> None:
        """Store the ERP customer id on the account (the cross-reference). Idempotent."""

    @abstractmethod
    async def list_users(self, role: str) -> list[CrmUser]:
        """Active users holding ``role``."""

    @abstractmethod
    async def update_order_status(self, update: CrmStatusUpdate) -> None:
        """Set the order's status and the fields given; records history once per ``update.key``."""

    @abstractmethod
    async def add_note(self, note: CrmNote) -> str:
        """Add a note to the order's timeline once per ``note.key``; returns the note id."""

    @abstractmethod
    async def create_task(self, task: CrmTask) -> str:
        """Create a task once per ``task.key``; returns the task id."""


class ERPPort(ABC):
    """What peyvand needs from an ERP."""

    @abstractmethod
    async def find_customer(
        self, *, external_ref: str | None, tax_id: str | None, email: str | None
    ) -> ErpCustomer | None:
        """The customer matching the external reference, else the tax id, else the e-mail."""

    @abstractmethod
    async def create_customer(self, data: CustomerData) -> ErpCustomer:
        """Create a customer; idempotent on ``data.external_ref``."""

    @abstractmethod
    async def get_credit_status(self, customer_id: str) -> CreditStatus:
        """Credit limit and open receivables. Raises RecordNotFound."""

    @abstractmethod
    async def get_products(self, skus: Sequence[str]) -> list[ErpProduct]:
        """The products among ``skus`` that the ERP knows; unknown ones are left out."""

    @abstractmethod
    async def get_stock(self, skus: Sequence[str]) -> list[StockLevel]:
        """Stock per product and warehouse."""

    @abstractmethod
    async def reserve(self, request: ReservationRequest) -> Reservation:
        """Reserve stock atomically, never below zero available; idempotent on the reference.

        Raises InsufficientStock when all warehouses together hold too little.
        """

    @abstractmethod
    async def release(self, reference: str) -> Reservation | None:
        """Release a reservation; idempotent, and None when there was none."""

    @abstractmethod
    async def create_sales_order(self, request: SalesOrderRequest) -> SalesOrder:
        """Create a sales order; idempotent on ``request.reference``."""

    @abstractmethod
    async def get_sales_order(self, reference: str) -> SalesOrder | None:
        """The sales order created under ``reference``, with its current status."""

    @abstractmethod
    async def cancel_sales_order(self, reference: str) -> SalesOrder | None:
        """Cancel an open sales order; idempotent. Raises InvalidState once it has shipped."""

    @abstractmethod
    async def create_invoice(self, request: InvoiceRequest) -> Invoice:
        """Invoice a shipped sales order; idempotent on ``request.reference``."""

    @abstractmethod
    async def get_invoice(self, number: str) -> Invoice:
        """An invoice with what has been paid on it. Raises RecordNotFound."""
