"""The webhook payloads, one model per webhook.

Every event carries ``event_id``: the sender's id of the event, the same on every retry of it, so
a retried delivery starts or signals nothing a second time. Unknown fields are refused, so a
sender's typo surfaces as a 422 naming the field instead of being ignored.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from domain.orders import StockPolicy

# Ids end up in workflow ids and in the ERP's references: a conservative alphabet, bounded.
Key = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]
EventId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$",
        description="The sender's id of the event; the same on every retry of it.",
    ),
]
Person = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._@-]+$")]
Text = Annotated[str, Field(min_length=1, max_length=200)]


class Event(BaseModel):
    """Fields every webhook event has."""

    model_config = ConfigDict(extra="forbid")

    event_id: EventId
    occurred_at: datetime | None = Field(
        default=None, description="When it happened at the sender (informational)."
    )


class CrmOrderCreated(Event):
    """A new CRM order: start its order-to-cash (workflow ``order-<order_id>``)."""

    order_id: Key
    requested_by: Person | None = Field(
        default=None, description="Who started it, if not the order's CRM owner."
    )
    stock_policy: StockPolicy = StockPolicy.REFUSE


class CrmReturnRequested(Event):
    """A return request (CRM case): start its return-to-restock (``return-<case_id>``)."""

    case_id: Key
    requested_by: Person | None = None


class ErpShipment(Event):
    """The ERP shipped an order's goods: signal ``shipment_notified``."""

    order_id: Key
    shipment_ref: Text | None = None


class ErpPayment(Event):
    """The ERP booked a payment on an order's invoice: signal ``payment_notified``.

    The ERP invoice stays the truth; the amount is informational.
    """

    order_id: Key
    reference: Text | None = None
    amount: Decimal | None = Field(default=None, gt=0, max_digits=18, decimal_places=4)


class ReceiptLineIn(BaseModel):
    """What arrived of one RMA line."""

    model_config = ConfigDict(extra="forbid")

    line_no: int = Field(ge=1, le=10_000)
    quantity: Decimal = Field(ge=0, max_digits=18, decimal_places=4)


class ErpGoodsReceipt(Event):
    """Returned goods arrived for a case: signal ``goods_received``.

    With ``lines`` the workflow records the receipt in the ERP; without, it reads what the
    warehouse booked there.
    """

    case_id: Key
    lines: list[ReceiptLineIn] | None = Field(default=None, min_length=1, max_length=500)


class Accepted(BaseModel):
    """The answer to a webhook: what it started or signalled."""

    event_id: str
    workflow_id: str
    duplicate: bool = Field(description="True when this event was delivered before.")
    action: str = Field(description="started, signalled (signal-with-start) …")


class Problem(BaseModel):
    """An error answer."""

    detail: str


class FieldProblem(BaseModel):
    """One problem of a malformed payload: where (``["body", "order_id"]``) and why."""

    loc: list[str | int]
    msg: str
    type: str


class ValidationProblem(BaseModel):
    """A 422 answer: every problem found in the payload."""

    detail: list[FieldProblem]
