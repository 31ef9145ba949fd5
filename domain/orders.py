"""The order-to-cash process in business words: its steps, its policy and its record of events."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, Field

from domain.rules import ApprovalRules


class OrderStatus(StrEnum):
    """Where an order stands; also the ``OrderStatus`` search attribute."""

    RECEIVED = "RECEIVED"
    VALIDATED = "VALIDATED"
    CREDIT_CHECKED = "CREDIT_CHECKED"
    RESERVING = "RESERVING"
    AWAITING_STOCK = "AWAITING_STOCK"
    AWAITING_APPROVAL = "AWAITING_APPROVAL"
    AWAITING_SHIPMENT = "AWAITING_SHIPMENT"
    SHIPPED = "SHIPPED"
    AWAITING_PAYMENT = "AWAITING_PAYMENT"
    OVERDUE = "OVERDUE"
    COMPENSATING = "COMPENSATING"
    COMPLETED = "COMPLETED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"

    @property
    def is_final(self) -> bool:
        return self in _FINAL

    @property
    def is_resting(self) -> bool:
        """A status an order can sit in for a while: waiting for people or systems, or final.

        Only these are written to the ``OrderStatus`` search attribute, except by a run that
        ends needing attention, which writes the step it stopped at; the steps between them pass
        in milliseconds and show in the run's current details instead.
        """
        return self in _FINAL or self in _RESTING

    @property
    def awaits_event(self) -> bool:
        """A resting status the run sits in until something from outside comes: stock, a
        decision, the shipment, a payment (or a timer for them)."""
        return self in _AWAITING

    @property
    def cancellable(self) -> bool:
        """Cancellation is accepted until the goods have left the warehouse."""
        return self in _CANCELLABLE


_FINAL = {OrderStatus.COMPLETED, OrderStatus.REJECTED, OrderStatus.CANCELLED}
_RESTING = {
    OrderStatus.RECEIVED,
    OrderStatus.AWAITING_STOCK,
    OrderStatus.AWAITING_APPROVAL,
    OrderStatus.AWAITING_SHIPMENT,
    OrderStatus.AWAITING_PAYMENT,
    OrderStatus.OVERDUE,
    OrderStatus.COMPENSATING,
}
_AWAITING = _RESTING - {OrderStatus.RECEIVED, OrderStatus.COMPENSATING}
_CANCELLABLE = {
    OrderStatus.RECEIVED,
    OrderStatus.VALIDATED,
    OrderStatus.CREDIT_CHECKED,
    OrderStatus.RESERVING,
    OrderStatus.AWAITING_STOCK,
    OrderStatus.AWAITING_APPROVAL,
    OrderStatus.AWAITING_SHIPMENT,
}


class StockPolicy(StrEnum):
    """What to do when stock is short: refuse at once, or wait for replenishment."""

    REFUSE = "refuse"
    WAIT = "wait"


class OrderPolicy(BaseModel):
    """Tunable rules of one order-to-cash run, fixed when it starts (so history replays)."""

    approval: ApprovalRules = Field(default_factory=ApprovalRules)
    approval_timeout: timedelta = timedelta(days=3)
    stock_policy: StockPolicy = StockPolicy.REFUSE
    stock_wait: timedelta = timedelta(days=7)
    stock_recheck_every: timedelta = timedelta(hours=4)
    shipment_poll_every: timedelta = timedelta(hours=6)
    payment_poll_every: timedelta = timedelta(days=1)
    dunning_every: timedelta = timedelta(days=7)
    dunning_max_reminders: int = 3


class OrderEvent(BaseModel):
    """One line of an order's story, as operations read it."""

    at: datetime
    kind: str
    detail: str = ""
    actor: str | None = None


class ApprovalState(BaseModel):
    """The approval step of one order: its approval chain, as far as the order knows it."""

    reasons: list[str]
    requester: str
    eligible_approvers: list[str] = Field(default_factory=list)  # unused since approval chains
    deadline: datetime | None = None  # unused since approval chains: each level has its own
    decision: str | None = None  # "approved", "rejected", "expired", "cancelled"
    decided_by: str | None = None
    comment: str | None = None
    chain_id: str | None = None  # the approval-chain workflow's id
    levels: list[str] = Field(default_factory=list)  # the approver groups, in order
    policy_version: str | None = None


class ReservationView(BaseModel):
    """A reservation the order holds, per warehouse."""

    reference: str
    sku: str
    quantity: Decimal
    warehouses: dict[str, Decimal]
