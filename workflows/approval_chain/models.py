"""Inputs, results and state of the approval-chain workflow, its updates, signal and query.

Fields are only ever added, each new one with a default, so recorded histories still decode.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, Field

from domain.approval_chain import LevelState
from domain.approvals import LevelSpec


def chain_id(business_key: str) -> str:
    """The chain's workflow id: ``approval-<business key>``, e.g. ``approval-order-SO-1001``."""
    return f"approval-{business_key}"


class ChainStatus(StrEnum):
    """Where a chain stands; also the ``ApprovalStatus`` search attribute."""

    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    CANCELLED = "CANCELLED"


class ChainEvent(BaseModel):
    """One line of a chain's story: requested, reminded, escalated, delegated, decided, refused,
    expired, and how it ended."""

    at: datetime
    kind: str
    level: int | None = None  # 1-based, as people count
    actor: str | None = None
    detail: str = ""


class ApprovalChainInput(BaseModel):
    """Start a chain.

    Args:
        request_kind: "order", later "return" …
        record_id: The CRM record the notes and tasks go to (the CRM order id).
        case_id: The CRM case of that order they go to instead, for a return.
        business_key: The requesting process's key (``order-SO-1001``); keys every CRM write.
        requester: Who asked; may never decide (four-eyes).
        owner: The record's owner; may never decide either.
        amount: The request's amount in ``currency`` (the policy's base currency).
        reasons: Why approval is needed, for people.
        policy_version: The policy the levels were planned with.
        levels: The levels, in order.
        crm_task_queue: Where the CRM and directory activities run.
    """

    request_kind: str
    record_id: str
    business_key: str
    requester: str
    owner: str | None = None
    amount: Decimal
    currency: str
    reasons: list[str] = Field(default_factory=list)
    policy_version: str
    levels: list[LevelSpec] = Field(min_length=1)
    crm_task_queue: str = "peyvand-crm"
    # A return's chain writes its notes and tasks on the return's case of that order.
    case_id: str | None = None


class ChainState(BaseModel):
    """Everything the chain knows; returned by the ``state`` query."""

    chain_id: str
    request_kind: str
    record_id: str
    requester: str
    owner: str | None = None
    amount: Decimal
    currency: str
    reasons: list[str] = Field(default_factory=list)
    policy_version: str
    status: ChainStatus = ChainStatus.PENDING
    current: int | None = None  # 0-based index of the open level
    levels: list[LevelState] = Field(default_factory=list)
    planned_groups: list[str] = Field(default_factory=list)
    open_tasks: dict[str, int] = Field(default_factory=dict)  # task key → level index
    events: list[ChainEvent] = Field(default_factory=list)

    @property
    def level(self) -> LevelState | None:
        return self.levels[self.current] if self.current is not None else None


class ChainView(BaseModel):
    """The chain's state after a decision or delegation (the Updates' result)."""

    status: ChainStatus
    level: int | None = None  # 1-based
    group: str | None = None
    pending: list[str] = Field(default_factory=list)
    approved_by: list[str] = Field(default_factory=list)
    rejected_by: list[str] = Field(default_factory=list)


class ApprovalChainResult(BaseModel):
    """How a chain ended."""

    chain_id: str
    status: ChainStatus
    policy_version: str
    decided_by: str | None = None  # who made the decision that ended it, if a person did
    comment: str | None = None
    levels: list[LevelState] = Field(default_factory=list)
    events: list[ChainEvent] = Field(default_factory=list)


class DecideInput(BaseModel):
    """A decision (Update ``decide`` or signal ``decide_signal``)."""

    approver: str
    approve: bool
    comment: str = ""


class DelegateInput(BaseModel):
    """Hand a pending decision to another person (Update ``delegate``)."""

    holder: str
    delegate: str
    comment: str = ""
