"""CRM activities. Each is idempotent: retrying one after its write committed changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from temporalio import activity

from activities.errors import guarded
from adapters.ports import CRMPort
from domain.models import CrmAccount, CrmNote, CrmOrder, CrmStatusUpdate, CrmTask


class FetchOrderInput(BaseModel):
    order_id: str


class FetchOrderResult(BaseModel):
    order: CrmOrder


class FetchAccountInput(BaseModel):
    account_id: str


class FetchAccountResult(BaseModel):
    account: CrmAccount


class LinkAccountInput(BaseModel):
    account_id: str
    erp_customer_id: str


class LinkAccountResult(BaseModel):
    linked: bool = True


class ListApproversInput(BaseModel):
    role: str = "approver"


class ListApproversResult(BaseModel):
    user_ids: list[str]


class UpdateOrderStatusInput(BaseModel):
    update: CrmStatusUpdate


class UpdateOrderStatusResult(BaseModel):
    applied: bool = True


class AddNoteInput(BaseModel):
    note: CrmNote


class AddNoteResult(BaseModel):
    note_id: str


class CreateTaskInput(BaseModel):
    task: CrmTask


class CreateTaskResult(BaseModel):
    task_id: str


class CrmActivities:
    """Activities on the CRM task queue.

    Args:
        crm: The CRM to talk to (sandbox, Salesforce …), chosen by the composition root.
    """

    def __init__(self, crm: CRMPort) -> None:
        self._crm = crm

    def methods(self) -> list[Callable[..., Any]]:
        """Every activity of this class, bound to its port, for ``Worker(activities=…)``."""
        return [
            getattr(self, name)
            for name in dir(type(self))
            if hasattr(getattr(type(self), name), "__temporal_activity_definition")
        ]

    @activity.defn(name="crm_fetch_order")
    async def fetch_order(self, input: FetchOrderInput) -> FetchOrderResult:
        """Read an order with its lines."""
        return FetchOrderResult(order=await guarded(self._crm.get_order(input.order_id)))

    @activity.defn(name="crm_fetch_account")
    async def fetch_account(self, input: FetchAccountInput) -> FetchAccountResult:
        """Read a customer account."""
        return FetchAccountResult(account=await guarded(self._crm.get_account(input.account_id)))

    @activity.defn(name="crm_link_account")
    async def link_account(self, input: LinkAccountInput) -> LinkAccountResult:
        """Store the ERP customer id on the CRM account (the cross-reference)."""
        await guarded(self._crm.link_account(input.account_id, input.erp_customer_id))
        return LinkAccountResult()

    @activity.defn(name="crm_list_approvers")
    async def list_approvers(self, input: ListApproversInput) -> ListApproversResult:
        """User ids allowed to decide approvals."""
        users = await guarded(self._crm.list_users(input.role))
        return ListApproversResult(user_ids=sorted(u.user_id for u in users if u.active))

    @activity.defn(name="crm_update_order_status")
    async def update_order_status(self, input: UpdateOrderStatusInput) -> UpdateOrderStatusResult:
        """Set the CRM order's status (once per update key)."""
        await guarded(self._crm.update_order_status(input.update))
        return UpdateOrderStatusResult()

    @activity.defn(name="crm_add_note")
    async def add_note(self, input: AddNoteInput) -> AddNoteResult:
        """Add a note to the order's timeline (once per key)."""
        return AddNoteResult(note_id=await guarded(self._crm.add_note(input.note)))

    @activity.defn(name="crm_create_task")
    async def create_task(self, input: CreateTaskInput) -> CreateTaskResult:
        """Create a task for a user or group (once per key)."""
        return CreateTaskResult(task_id=await guarded(self._crm.create_task(input.task)))
