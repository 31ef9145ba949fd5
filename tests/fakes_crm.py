"""The in-memory CRM (see ``tests/fakes.py`` for what the fakes promise)."""

from __future__ import annotations

from adapters.ports import CRMPort
from domain.errors import (
    InvalidRecord,
    RecordNotFound,
)
from domain.models import (
    CrmAccount,
    CrmNote,
    CrmOrder,
    CrmStatusUpdate,
    CrmTask,
    CrmUser,
)
from tests.fakes_cases import InMemoryCases
from tests.fault_injection import FaultInjection, _copy, _port

__all__ = ["InMemoryCRM"]


class InMemoryCRM(InMemoryCases, FaultInjection, CRMPort):
    """A CRM held in memory."""

    system = "crm"

    def __init__(self) -> None:
        super().__init__()
        self._accounts: dict[str, CrmAccount] = {}
        self._users: dict[str, CrmUser] = {}
        self._orders: dict[str, CrmOrder] = {}
        self._applied_updates: set[str] = set()
        self._history: dict[str, list[CrmStatusUpdate]] = {}
        self._notes: dict[str, tuple[str, CrmNote]] = {}
        self._tasks: dict[str, tuple[str, CrmTask]] = {}
        self._task_status: dict[str, str] = {}

    # -- admin ------------------------------------------------------------------------------

    async def create_schema(self) -> None:
        """Nothing to create in memory."""

    async def close(self) -> None:
        """Nothing to close in memory."""

    async def upsert_account(self, account: CrmAccount) -> None:
        self._accounts[account.account_id] = _copy(account)

    async def upsert_user(self, user: CrmUser) -> None:
        self._users[user.user_id] = _copy(user)

    async def create_order(self, order: CrmOrder) -> bool:
        """Store a new order; False (and no change) when ``order.order_id`` already exists."""
        if order.order_id in self._orders:
            return False
        self._orders[order.order_id] = _copy(order)
        return True

    async def status_history(self, order_id: str) -> list[CrmStatusUpdate]:
        return [_copy(u) for u in self._history.get(order_id, [])]

    async def notes(self, order_id: str) -> list[CrmNote]:
        return [_copy(n) for _, n in self._notes.values() if n.order_id == order_id]

    async def tasks(self, order_id: str) -> list[CrmTask]:
        return [_copy(t) for _, t in self._tasks.values() if t.order_id == order_id]

    # -- port -------------------------------------------------------------------------------

    def _order(self, order_id: str) -> CrmOrder:
        order = self._orders.get(order_id)
        if order is None:
            raise RecordNotFound(
                f"CRM order {order_id!r} not found", kind="order", key=order_id, system="crm"
            )
        return order

    def _account(self, account_id: str) -> CrmAccount:
        account = self._accounts.get(account_id)
        if account is None:
            raise RecordNotFound(
                f"CRM account {account_id!r} not found",
                kind="account",
                key=account_id,
                system="crm",
            )
        return account

    @_port
    async def get_order(self, order_id: str) -> CrmOrder:
        return _copy(self._order(order_id))

    @_port
    async def get_account(self, account_id: str) -> CrmAccount:
        return _copy(self._account(account_id))

    @_port
    async def link_account(self, account_id: str, erp_customer_id: str) -> None:
        self._account(account_id).erp_customer_id = erp_customer_id

    @_port
    async def list_users(self, role: str) -> list[CrmUser]:
        # By user id, each with its roles de-duplicated and sorted, as the sandbox returns them.
        return [
            user.model_copy(update={"roles": sorted(set(user.roles))}, deep=True)
            for _, user in sorted(self._users.items())
            if user.active and role in user.roles
        ]

    @_port
    async def update_order_status(self, update: CrmStatusUpdate) -> None:
        if update.key in self._applied_updates:
            return
        order = self._order(update.order_id)
        order.status = update.status
        if update.erp_order_number is not None:
            order.erp_order_number = update.erp_order_number
        if update.invoice_number is not None:
            order.invoice_number = update.invoice_number
        if update.promised_date is not None:
            order.promised_date = update.promised_date
        self._applied_updates.add(update.key)
        self._history.setdefault(update.order_id, []).append(_copy(update))

    @_port
    async def add_note(self, note: CrmNote) -> str:
        existing = self._notes.get(note.key)
        if existing is not None:
            return existing[0]
        self._order(note.order_id)
        self._case_of_order(note.case_id, note.order_id)
        note_id = f"N-{len(self._notes) + 1:06d}"
        self._notes[note.key] = (note_id, _copy(note))
        return note_id

    @_port
    async def create_task(self, task: CrmTask) -> str:
        existing = self._tasks.get(task.key)
        if existing is not None:
            return existing[0]
        self._order(task.order_id)
        self._case_of_order(task.case_id, task.order_id)
        task_id = f"T-{len(self._tasks) + 1:06d}"
        self._tasks[task.key] = (task_id, _copy(task))
        return task_id

    @_port
    async def complete_task(self, key: str, outcome: str) -> bool:
        if not outcome or outcome == "open" or len(outcome) > 32:
            raise InvalidRecord(
                f"task outcome {outcome!r} is not a closing outcome",
                problems=[f"outcome: {outcome!r} must be 1..32 characters and not 'open'"],
                system="crm",
            )
        if key not in self._tasks:
            raise RecordNotFound(f"CRM task {key!r} not found", kind="task", key=key, system="crm")
        if self._task_status.get(key, "open") != "open":
            return False
        self._task_status[key] = outcome
        return True

    async def task_statuses(self, order_id: str) -> dict[str, str]:
        """Each of the order's tasks by key: "open", or the outcome it was closed with."""
        return {
            key: self._task_status.get(key, "open")
            for key, (_, task) in self._tasks.items()
            if task.order_id == order_id
        }
