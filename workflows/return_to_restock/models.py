"""Inputs, results, state and messages of the return-to-restock workflow.

Fields are only ever added, each new one with a default, so recorded histories still decode.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, Field

from domain.return_rules import InspectionResult, ReturnPolicy, return_id
from domain.returns import ReceiptLine


class ReturnStatus(StrEnum):
    """Where a return stands; also the ``ReturnStatus`` search attribute."""

    CHECKING = "CHECKING"
    AWAITING_APPROVAL = "AWAITING_APPROVAL"
    AWAITING_GOODS = "AWAITING_GOODS"
    AWAITING_INSPECTION = "AWAITING_INSPECTION"
    CREDITING = "CREDITING"
    COMPENSATING = "COMPENSATING"
    RESOLVED = "RESOLVED"
    INELIGIBLE = "INELIGIBLE"
    REJECTED = "REJECTED"
    NOT_RECEIVED = "NOT_RECEIVED"
    NEEDS_ATTENTION = "NEEDS_ATTENTION"

    @property
    def is_final(self) -> bool:
        return self in _FINAL


_FINAL = frozenset(
    {
        ReturnStatus.RESOLVED,
        ReturnStatus.INELIGIBLE,
        ReturnStatus.REJECTED,
        ReturnStatus.NOT_RECEIVED,
        ReturnStatus.NEEDS_ATTENTION,
    }
)


def workflow_id(case_id: str) -> str:
    """The workflow id of a return: its business key, ``return-<crm case id>``."""
    return return_id(case_id)


class ReturnToRestockInput(BaseModel):
    """Start the return of a CRM case.

    Args:
        case_id: The CRM case (a return request on a delivered order).
        policy: Windows, auto-approval threshold, receipt deadline.
        requested_by: Who started it (may not approve it).
        receipt_poll_every: How often the ERP is asked whether the goods arrived, when no
            notice comes.
    """

    case_id: str
    policy: ReturnPolicy = Field(default_factory=ReturnPolicy)
    requested_by: str | None = None
    crm_task_queue: str = "peyvand-crm"
    erp_task_queue: str = "peyvand-orders"  # the default deployment's (infra.settings)
    receipt_poll_every: timedelta = timedelta(hours=6)


class ReturnEvent(BaseModel):
    """One line of the return's story."""

    at: datetime
    kind: str
    detail: str = ""
    actor: str | None = None


class ReturnState(BaseModel):
    """Everything the return knows; the ``status`` query returns it."""

    case_id: str
    status: ReturnStatus = ReturnStatus.CHECKING
    detail: str = ""
    order_id: str | None = None
    sales_order_number: str | None = None
    invoice_number: str | None = None
    invoice_paid: bool = False
    currency: str | None = None
    requested_value: Decimal | None = None
    approval_chain_id: str | None = None
    rma_number: str | None = None
    receipt_deadline: datetime | None = None
    received: list[ReceiptLine] = Field(default_factory=list)
    inspection: InspectionResult | None = None
    restock_number: str | None = None
    write_off_number: str | None = None
    credit_note_number: str | None = None
    credited_total: Decimal | None = None
    refund_number: str | None = None
    compensations: list[str] = Field(default_factory=list)  # steps to undo, in order done
    reason: str | None = None
    needs_attention: list[str] = Field(default_factory=list)
    events: list[ReturnEvent] = Field(default_factory=list)


class ReturnToRestockResult(BaseModel):
    """How a return ended."""

    case_id: str
    status: ReturnStatus
    reason: str | None = None
    rma_number: str | None = None
    credit_note_number: str | None = None
    credited_total: Decimal | None = None
    refund_number: str | None = None
    needs_attention: list[str] = Field(default_factory=list)
    events: list[ReturnEvent] = Field(default_factory=list)


class GoodsReceivedNotice(BaseModel):
    """The warehouse (or a person) says goods arrived (signal ``goods_received``).

    With ``lines`` the workflow records the receipt in the ERP; without, it reads what the
    warehouse booked there.
    """

    lines: list[ReceiptLine] | None = None
    source: str = "warehouse"


class InspectInput(BaseModel):
    """The inspection of the received goods (Update ``inspect``)."""

    inspection: InspectionResult


class InspectResult(BaseModel):
    """What the accepted inspection will restock, scrap and credit."""

    restock_quantity: Decimal
    scrap_quantity: Decimal
    credit_lines: int
