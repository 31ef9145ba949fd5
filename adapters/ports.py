"""The two ports peyvand talks through, in business words.

A CRM adapter (Salesforce, Zoho, Dynamics, the sandbox) implements ``CRMPort``; an ERP adapter
(SAP S/4HANA, Odoo, Tryton, the sandbox) implements ``ERPPort``. Every write is idempotent on the
key or external reference it is given, so an activity retried after its write committed changes
nothing more. Implementations raise only the errors of ``domain.errors``: vendor errors are
translated at the edge.

Approvals add two small ones: ``DirectoryPort`` (who may approve; a file in the sandbox, later a
CRM or an identity provider) and ``PolicySource`` (the approval policy; a file by default).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime

from domain.approval_chain import DirectoryGroup, DirectoryUser, OutOfOffice
from domain.approvals import ApprovalPolicy
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
from domain.returns import (
    CreditNote,
    CreditNoteRequest,
    CrmCase,
    CrmCaseClosure,
    CrmCaseUpdate,
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

    async def update_order_statuses(self, updates: Sequence[CrmStatusUpdate]) -> None:
        """``update_order_status`` for each of ``updates``, in order, each once per key.

        A CRM that can take them in one request or transaction overrides this; the default
        sends them one by one.
        """
        for update in updates:
            await self.update_order_status(update)

    @abstractmethod
    async def add_note(self, note: CrmNote) -> str:
        """Add a note to the order's timeline once per ``note.key``; returns the note id."""

    @abstractmethod
    async def create_task(self, task: CrmTask) -> str:
        """Create a task once per ``task.key``; returns the task id."""

    @abstractmethod
    async def complete_task(self, key: str, outcome: str) -> bool:
        """Close the task created under ``key`` with ``outcome`` ("approved", "cancelled" …).

        Idempotent: True when this call closed it, False when it was already closed (its first
        outcome stays). Raises RecordNotFound when no task has this key.
        """

    # -- return cases (notes and tasks on a case: ``add_note`` / ``create_task`` with case_id) --

    @abstractmethod
    async def get_case(self, case_id: str) -> CrmCase:
        """A return case with its lines. Raises RecordNotFound, InvalidRecord (unreadable)."""

    @abstractmethod
    async def update_case(self, update: CrmCaseUpdate) -> None:
        """Set an open case's status and the fields given, once per ``update.key``.

        Raises RecordNotFound, and InvalidState when the case is resolved or closed already.
        """

    @abstractmethod
    async def close_case(self, closure: CrmCaseClosure) -> None:
        """Resolve or close a case with its outcome and answer, once per ``closure.key``.

        Raises RecordNotFound, and InvalidState when the case is resolved or closed already.
        """


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

    # -- returns ----------------------------------------------------------------------------

    @abstractmethod
    async def get_returnable(self, sales_order_number: str) -> ReturnableOrder:
        """What shipped on a sales order, how it was invoiced and what came back of it.

        Raises RecordNotFound.
        """

    @abstractmethod
    async def create_return_authorization(
        self, request: ReturnAuthorizationRequest
    ) -> ReturnAuthorization:
        """Authorize a return (RMA); idempotent on ``request.reference``.

        Atomic per sales order: the quantities of all its authorizations never exceed what
        shipped, even for concurrent requests. Raises InvalidRecord (a line beyond what is still
        returnable, unknown or not positive), InvalidState (not shipped), RecordNotFound,
        IdempotencyConflict.
        """

    @abstractmethod
    async def get_return_authorization(self, reference: str) -> ReturnAuthorization | None:
        """The RMA created under ``reference``, with its status and what was received."""

    @abstractmethod
    async def cancel_return_authorization(self, reference: str) -> ReturnAuthorization | None:
        """Cancel an RMA whose goods have not arrived, freeing its quantities; idempotent.

        None when there is none. Raises InvalidState once goods were received.
        """

    @abstractmethod
    async def record_return_receipt(self, request: ReturnReceiptRequest) -> ReturnAuthorization:
        """Record what arrived for an RMA (at most what it authorizes); idempotent.

        The same receipt reported again (same quantities) changes nothing, under any reference.
        Raises RecordNotFound, InvalidRecord, InvalidState (cancelled, or received otherwise),
        IdempotencyConflict.
        """

    @abstractmethod
    async def restock_return(self, request: RestockRequest) -> Restock:
        """Put received goods back on hand in the warehouses named; idempotent on the reference.

        Restocked plus scrapped never exceeds what was received. Raises RecordNotFound,
        InvalidRecord, InvalidState (not received), IdempotencyConflict.
        """

    @abstractmethod
    async def reverse_restock(self, reference: str) -> Restock | None:
        """Take a restock's goods off hand again (compensation); idempotent, None when none.

        Raises InvalidState when the stock is reserved or gone in the meantime.
        """

    @abstractmethod
    async def write_off_return(self, request: WriteOffRequest) -> WriteOff:
        """Write off received goods as scrap, each line with its reason; idempotent.

        Stock on hand is unchanged. Raises like ``restock_return``.
        """

    @abstractmethod
    async def create_credit_note(self, request: CreditNoteRequest) -> CreditNote:
        """Credit received goods pro rata of the original invoice; idempotent on the reference.

        Credited never exceeds what was received. Raises RecordNotFound, InvalidRecord,
        InvalidState (not received, or the order is not invoiced), IdempotencyConflict.
        """

    @abstractmethod
    async def cancel_credit_note(self, reference: str) -> CreditNote | None:
        """Cancel an open credit note (compensation); idempotent, None when none.

        Raises InvalidState once it was refunded.
        """

    @abstractmethod
    async def refund_credit_note(self, request: RefundRequest) -> Refund:
        """Pay an open credit note back to the customer; idempotent on the reference.

        Raises RecordNotFound, InvalidState (cancelled), IdempotencyConflict.
        """


class DirectoryPort(ABC):
    """Who may approve: users, approver groups with their escalation, out-of-office delegations.

    The sandbox reads a file; a CRM or an identity provider can supply it later.
    """

    @abstractmethod
    async def get_group(self, name: str) -> DirectoryGroup:
        """A group with its members and escalation group. Raises RecordNotFound."""

    @abstractmethod
    async def get_user(self, user_id: str) -> DirectoryUser:
        """A user. Raises RecordNotFound."""

    @abstractmethod
    async def out_of_office(self, at: datetime) -> list[OutOfOffice]:
        """The out-of-office delegations in force at ``at``."""

    @abstractmethod
    async def group_names(self) -> set[str]:
        """Every group's name (to check an approval policy against)."""


class PolicySource(ABC):
    """Where the approval policy comes from (a file by default)."""

    @abstractmethod
    async def current(self) -> ApprovalPolicy:
        """The policy in force: the newest valid one. Raises InvalidRecord when none ever was."""
