"""CRM activities. Each is idempotent: retrying one after its write committed changes nothing."""

from __future__ import annotations

from pydantic import BaseModel, Field
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.base import Activities
from activities.errors import guarded
from adapters.ports import CRMPort
from domain.errors import RecordNotFound
from domain.models import CrmAccount, CrmNote, CrmOrder, CrmStatusUpdate, CrmTask


class FetchOrderInput(BaseModel):
    order_id: str


class FetchOrderResult(BaseModel):
    order: CrmOrder
    account: CrmAccount | None = None  # the order's account, read in the same call
    account_problem: str | None = None  # why the account could not be read, if it could not


class FetchAccountInput(BaseModel):
    account_id: str


class FetchAccountResult(BaseModel):
    account: CrmAccount


class LinkAccountInput(BaseModel):
    account_id: str
    erp_customer_id: str


class LinkAccountResult(BaseModel):
    linked: bool = True


class UpdateOrderStatusInput(BaseModel):
    update: CrmStatusUpdate
    # Changes queued behind ``update``, applied after it in this order: one round trip for
    # several steps' worth of CRM status.
    more: list[CrmStatusUpdate] = []


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


class TaskClosure(BaseModel):
    key: str
    outcome: str


class WriteBatchInput(BaseModel):
    """CRM writes made together: tasks first, then closures (of those or older tasks), notes."""

    tasks: list[CrmTask] = Field(default_factory=list)
    closures: list[TaskClosure] = Field(default_factory=list)
    notes: list[CrmNote] = Field(default_factory=list)


class WriteBatchResult(BaseModel):
    closed_now: int


class CrmActivities(Activities):
    """Activities on the CRM task queue.

    Args:
        crm: The CRM to talk to (sandbox, Salesforce …), chosen by the composition root.
    """

    def __init__(self, crm: CRMPort) -> None:
        self._crm = crm

    @activity.defn(name="crm_fetch_order")
    async def fetch_order(self, input: FetchOrderInput) -> FetchOrderResult:
        """Read an order with its lines and its customer account, in one round trip.

        An account the CRM does not know is not a failure of this call: it is reported in
        ``account_problem``, so the workflow rejects the order with every problem named.
        """
        order = await guarded(self._crm.get_order(input.order_id))
        account_id = (order.account_id or "").strip()
        if not account_id:
            return FetchOrderResult(order=order)
        try:
            account = await guarded(self._crm.get_account(account_id))
        except ApplicationError as err:
            if err.type != RecordNotFound.__name__:
                raise
            return FetchOrderResult(
                order=order, account_problem=f"account_id: RecordNotFound: {err.message}"
            )
        return FetchOrderResult(order=order, account=account)

    @activity.defn(name="crm_fetch_account")
    async def fetch_account(self, input: FetchAccountInput) -> FetchAccountResult:
        """Read a customer account."""
        return FetchAccountResult(account=await guarded(self._crm.get_account(input.account_id)))

    @activity.defn(name="crm_link_account")
    async def link_account(self, input: LinkAccountInput) -> LinkAccountResult:
        """Store the ERP customer id on the CRM account (the cross-reference)."""
        await guarded(self._crm.link_account(input.account_id, input.erp_customer_id))
        return LinkAccountResult()

    @activity.defn(name="crm_update_order_status")
    async def update_order_status(self, input: UpdateOrderStatusInput) -> UpdateOrderStatusResult:
        """Set the CRM order's status, then each of ``more`` in order (each once per key)."""
        await guarded(self._crm.update_order_statuses([input.update, *input.more]))
        return UpdateOrderStatusResult()

    @activity.defn(name="crm_add_note")
    async def add_note(self, input: AddNoteInput) -> AddNoteResult:
        """Add a note to the order's timeline (once per key)."""
        return AddNoteResult(note_id=await guarded(self._crm.add_note(input.note)))

    @activity.defn(name="crm_create_task")
    async def create_task(self, input: CreateTaskInput) -> CreateTaskResult:
        """Create a task for a user or group (once per key)."""
        return CreateTaskResult(task_id=await guarded(self._crm.create_task(input.task)))

    @activity.defn(name="crm_write_batch")
    async def write_batch(self, input: WriteBatchInput) -> WriteBatchResult:
        """Create tasks, close tasks and add notes in one activity (one round trip).

        Every write is idempotent on its key, so a retry after a partial batch writes nothing
        twice; a closed task keeps its first outcome.
        """
        for task in input.tasks:
            await guarded(self._crm.create_task(task))
        closed = 0
        for closure in input.closures:
            closed += await guarded(self._crm.complete_task(closure.key, closure.outcome))
        for note in input.notes:
            await guarded(self._crm.add_note(note))
        return WriteBatchResult(closed_now=closed)
