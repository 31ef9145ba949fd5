"""Inputs, results and state of the order-to-cash workflow, its updates, signals and query.

Fields are only ever added, each new one with a default, so histories recorded by older versions
still decode.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from domain.orders import ApprovalState, OrderEvent, OrderPolicy, OrderStatus, ReservationView


def workflow_id(order_id: str) -> str:
    """The business key under which an order runs: at most one live workflow per CRM order."""
    return f"order-{order_id}"


class CompensationKind(StrEnum):
    RELEASE_STOCK = "release_stock"
    CANCEL_SALES_ORDER = "cancel_sales_order"


class Compensation(BaseModel):
    """An undo step, registered before the step it undoes; data, so it survives continue-as-new."""

    kind: CompensationKind
    reference: str
    label: str


class OrderState(BaseModel):
    """Everything the workflow knows about its order; returned by the ``status`` query."""

    order_id: str
    status: OrderStatus = OrderStatus.RECEIVED
    detail: str = ""
    account_id: str | None = None
    requester: str | None = None
    erp_customer_id: str | None = None
    currency: str | None = None
    total: Decimal | None = None
    payment_terms_days: int = 30
    reservations: list[ReservationView] = Field(default_factory=list)
    erp_order_number: str | None = None
    promised_date: date | None = None
    shipped_at: datetime | None = None
    received_at: datetime | None = None  # when the run first started: the KPI clock
    invoice_number: str | None = None
    due_date: date | None = None
    amount_paid: Decimal = Decimal("0")
    reminders_sent: int = 0
    approval: ApprovalState | None = None
    cancel_requested_by: str | None = None
    compensations: list[Compensation] = Field(default_factory=list)
    needs_attention: list[str] = Field(default_factory=list)
    reason: str | None = None
    events: list[OrderEvent] = Field(default_factory=list)


ORDER_TO_CASH_VERSION = 3
"""The version of the process new orders start with (``OrderToCashInput.version``).

1: the first release, whose later changes are gated by ``workflow.patched`` (a marker and a
   ``TemporalChangeVersion`` search attribute write in every run).
2: those changes always on, no patch markers, and the search attributes known between two resting
   statuses written together with the next one: three visibility writes in an automated order
   instead of seven, which was a fifth of the dev server's CPU per order.
3: a resting status (awaiting shipment, payment, stock or approval) is written, search attributes
   and CRM changes, only when the run really waits in it: an order whose shipment and payment are
   in before it reaches those steps (prepaid, instant warehouse) makes one visibility write and
   one CRM status call instead of three of each.
"""


class OrderToCashInput(BaseModel):
    """Start an order.

    Args:
        order_id: The CRM order id (the business key).
        requested_by: Who started the run, if not the order's CRM owner.
        policy: Tunable rules, fixed for the whole run.
        crm_task_queue: Where CRM activities run.
        erp_task_queue: Where ERP activities run.
        resume: State carried over by continue-as-new; None on a first start.
        version: The process version the run follows, fixed at its start so that its history
            always replays the same way. Runs recorded before versions existed read as 1; new
            orders get ``ORDER_TO_CASH_VERSION`` from ``infra.orders.order_input``.
    """

    # A field this code does not know fails the workflow task instead of being dropped: the run
    # was started by newer code and waits for a worker that has it.
    model_config = ConfigDict(extra="forbid")

    order_id: str
    requested_by: str | None = None
    policy: OrderPolicy = Field(default_factory=OrderPolicy)
    crm_task_queue: str = "peyvand-crm"
    erp_task_queue: str = "peyvand-orders"  # the default deployment's (infra.settings)
    resume: OrderState | None = None
    version: int = 1


class OrderToCashResult(BaseModel):
    """How an order ended."""

    order_id: str
    status: OrderStatus
    reason: str | None = None
    erp_customer_id: str | None = None
    erp_order_number: str | None = None
    invoice_number: str | None = None
    total: Decimal | None = None
    amount_paid: Decimal = Decimal("0")
    needs_attention: list[str] = Field(default_factory=list)
    events: list[OrderEvent] = Field(default_factory=list)


class CancelInput(BaseModel):
    """Ask to cancel the order (Update ``cancel``); accepted until shipment."""

    requested_by: str
    reason: str = "cancelled on request"


class CancelResult(BaseModel):
    accepted: bool
    status: OrderStatus


class ShipmentNotice(BaseModel):
    """The ERP (or a person) says the goods left (signal ``shipment_notified``)."""

    source: str = "erp"
    shipment_ref: str | None = None


class PaymentNotice(BaseModel):
    """The ERP (or a person) says a payment arrived (signal ``payment_notified``)."""

    source: str = "erp"
    reference: str | None = None
    amount: Decimal | None = None


class StockNotice(BaseModel):
    """Stock was replenished (signal ``stock_replenished``): re-try waiting reservations now."""

    source: str = "erp"
    sku: str | None = None
