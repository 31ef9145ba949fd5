"""Return cases of the in-memory CRM fake (``InMemoryCRM`` inherits ``InMemoryCases``).

It behaves as ``SandboxCRM``'s cases do (same idempotency, errors), which the contract suite
checks. Each method runs without awaiting, so every operation is atomic.
"""

from __future__ import annotations

from domain.errors import InvalidState, RecordNotFound
from domain.models import CrmOrder
from domain.returns import (
    TERMINAL_CASE_STATUSES,
    CrmCase,
    CrmCaseClosure,
    CrmCaseUpdate,
)
from tests.fault_injection import FaultInjection, _copy, _port

__all__ = ["InMemoryCases"]


def state_error(kind: str, key: str, state: str, message: str, system: str = "crm") -> InvalidState:
    return InvalidState(message, kind=kind, key=key, state=state, system=system)


class InMemoryCases(FaultInjection):
    """Return cases held in memory."""

    _orders: dict[str, CrmOrder]  # InMemoryCRM's

    def __init__(self) -> None:
        super().__init__()
        self._cases: dict[str, CrmCase] = {}
        self._case_keys: set[str] = set()
        self._case_history: dict[str, list[CrmCaseUpdate | CrmCaseClosure]] = {}

    def _case_of_order(self, case_id: str | None, order_id: str) -> None:
        """RecordNotFound unless ``case_id`` is None or a case of the order ``order_id``."""
        if case_id is None:
            return
        case = self._cases.get(case_id)
        if case is None or case.order_id != order_id:
            raise RecordNotFound(
                f"CRM order {order_id!r} has no case {case_id!r}",
                kind="case",
                key=case_id,
                system="crm",
            )

    async def create_case(self, case: CrmCase) -> bool:
        """Store a new case; False (and no change) when ``case.case_id`` already exists."""
        if case.case_id in self._cases:
            return False
        if case.order_id not in self._orders:
            raise RecordNotFound(
                f"CRM order {case.order_id!r} not found",
                kind="order",
                key=case.order_id,
                system="crm",
            )
        self._cases[case.case_id] = _copy(case)
        return True

    async def case_history(self, case_id: str) -> list[CrmCaseUpdate | CrmCaseClosure]:
        return [_copy(item) for item in self._case_history.get(case_id, [])]

    def _open_case(self, case_id: str) -> CrmCase:
        case = self._cases.get(case_id)
        if case is None:
            raise RecordNotFound(
                f"CRM case {case_id!r} not found", kind="case", key=case_id, system="crm"
            )
        if case.status in TERMINAL_CASE_STATUSES:
            raise state_error(
                "case",
                case_id,
                case.status.value,
                f"CRM case {case_id!r} is {case.status.value} and no longer changes",
                system="crm",
            )
        return case

    @_port
    async def get_case(self, case_id: str) -> CrmCase:
        case = self._cases.get(case_id)
        if case is None:
            raise RecordNotFound(
                f"CRM case {case_id!r} not found", kind="case", key=case_id, system="crm"
            )
        return _copy(case)

    @_port
    async def update_case(self, update: CrmCaseUpdate) -> None:
        if update.key in self._case_keys:
            return
        case = self._open_case(update.case_id)
        case.status = update.status
        for field in ("answer", "rma_number", "instructions"):
            value = getattr(update, field)
            if value is not None:
                setattr(case, field, value)
        self._case_keys.add(update.key)
        self._case_history.setdefault(update.case_id, []).append(_copy(update))

    @_port
    async def close_case(self, closure: CrmCaseClosure) -> None:
        if closure.key in self._case_keys:
            return
        case = self._open_case(closure.case_id)
        case.status = closure.status
        case.outcome = closure.outcome
        case.answer = closure.answer
        if closure.credit_note_number is not None:
            case.credit_note_number = closure.credit_note_number
        self._case_keys.add(closure.key)
        self._case_history.setdefault(closure.case_id, []).append(_copy(closure))
