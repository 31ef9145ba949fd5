"""Return cases of the sandbox CRM: the case part of its port and the admin calls for cases.

``SandboxCRM`` inherits these methods; they live here to keep each module small. A case belongs
to an order; notes and tasks name it through their ``case_id``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sandbox.crm_schema import CaseHistoryRow, CaseLineRow, CaseRow, OrderRow
from adapters.sandbox.db import SandboxSystem
from domain.errors import InvalidRecord, InvalidState, RecordNotFound
from domain.returns import (
    TERMINAL_CASE_STATUSES,
    CrmCase,
    CrmCaseClosure,
    CrmCaseOutcome,
    CrmCaseStatus,
    CrmCaseUpdate,
)

__all__ = ["SandboxCases", "case_of_order"]

SYSTEM = "crm"


def _case_not_found(case_id: str) -> RecordNotFound:
    return RecordNotFound(
        f"CRM case {case_id!r} not found", kind="case", key=case_id, system=SYSTEM
    )


async def case_of_order(session: AsyncSession, case_id: str, order_id: str) -> CaseRow:
    """The case ``case_id`` of the order ``order_id``; RecordNotFound when the order has none."""
    row = await session.get(CaseRow, case_id)
    if row is None or row.order_id != order_id:
        raise RecordNotFound(
            f"CRM order {order_id!r} has no case {case_id!r}",
            kind="case",
            key=case_id,
            system=SYSTEM,
        )
    return row


def _payload(row: CaseRow, lines: list[CaseLineRow]) -> dict[str, Any]:
    """A case as plain data, to be validated into ``CrmCase`` (which may find it unreadable)."""
    return {
        "case_id": row.case_id,
        "order_id": row.order_id,
        "account_id": row.account_id,
        "owner": row.owner,
        "subject": row.subject,
        "description": row.description,
        "requested_on": row.requested_on,
        "status": row.status,
        "outcome": row.outcome,
        "answer": row.answer,
        "rma_number": row.rma_number,
        "instructions": row.instructions,
        "credit_note_number": row.credit_note_number,
        "lines": [
            {"line_no": x.line_no, "sku": x.sku, "quantity": x.quantity, "reason": x.reason}
            for x in lines
        ],
    }


async def _open_case_locked(session: AsyncSession, case_id: str) -> CaseRow:
    """The case, locked for update; InvalidState once it is resolved or closed."""
    row = await session.get(CaseRow, case_id, with_for_update=True, populate_existing=True)
    if row is None:
        raise _case_not_found(case_id)
    if row.status in {s.value for s in TERMINAL_CASE_STATUSES}:
        raise InvalidState(
            f"CRM case {case_id!r} is {row.status} and no longer changes",
            kind="case",
            key=case_id,
            state=row.status,
            system=SYSTEM,
        )
    return row


async def _applied(session: AsyncSession, key: str) -> bool:
    found = await session.scalar(select(CaseHistoryRow.id).where(CaseHistoryRow.key == key))
    return found is not None


# Columns added to tables that databases made by earlier versions already have: ``create_all``
# only creates missing tables, so ``create_schema`` adds these (nullable) columns itself.
_ADDED_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("notes", "case_id", "VARCHAR(64)"),
    ("tasks", "case_id", "VARCHAR(64)"),
)


def _missing_columns(connection: Connection) -> list[tuple[str, str, str]]:
    inspector = inspect(connection)
    missing = []
    for table, column, ddl in _ADDED_COLUMNS:
        if column not in {c["name"] for c in inspector.get_columns(table)}:
            missing.append((table, column, ddl))
    return missing


class SandboxCases(SandboxSystem):
    """Return cases: read, update, resolve or close, with a history row per applied key."""

    async def create_schema(self) -> None:
        """Create the missing tables, and the case columns a CRM database of before cases lacks.

        Safe to call concurrently: SQLite takes its write lock for the whole check, and
        PostgreSQL's ``ADD COLUMN IF NOT EXISTS`` lets a second caller pass.
        """
        await super().create_schema()
        async with self._db.unit_of_work(write=True) as uow:
            conn = await uow.session.connection()
            for table, column, ddl in await conn.run_sync(_missing_columns):
                exists = " IF NOT EXISTS" if self._db.is_postgres else ""
                await conn.execute(text(f"ALTER TABLE {table} ADD COLUMN{exists} {column} {ddl}"))
            await uow.commit()

    # -- admin (not part of the port) -----------------------------------------------------------

    async def create_case(self, case: CrmCase) -> bool:
        """Store a new case with its lines, as a service agent would enter it.

        Returns:
            True when created; False, changing nothing, when ``case.case_id`` already exists.

        Raises:
            RecordNotFound: The case's order does not exist.
        """

        async def op(session: AsyncSession) -> bool:
            if await session.get(CaseRow, case.case_id) is not None:
                return False
            if await session.get(OrderRow, case.order_id) is None:
                raise RecordNotFound(
                    f"CRM order {case.order_id!r} not found",
                    kind="order",
                    key=case.order_id,
                    system=SYSTEM,
                )
            now = datetime.now(UTC)
            fields = case.model_dump(exclude={"lines", "status", "outcome"})
            session.add(
                CaseRow(
                    **fields,
                    status=case.status.value,
                    outcome=case.outcome.value if case.outcome is not None else None,
                    created_at=now,
                    updated_at=now,
                )
            )
            await session.flush()  # the lines refer to the case row
            session.add_all(
                CaseLineRow(case_id=case.case_id, position=position, **line.model_dump())
                for position, line in enumerate(case.lines)
            )
            return True

        return await self._db.run(op)

    async def case_history(self, case_id: str) -> list[CrmCaseUpdate | CrmCaseClosure]:
        """Every update and closure applied to the case, oldest first."""

        async def op(session: AsyncSession) -> list[CrmCaseUpdate | CrmCaseClosure]:
            rows = await session.scalars(
                select(CaseHistoryRow)
                .where(CaseHistoryRow.case_id == case_id)
                .order_by(CaseHistoryRow.id)
            )
            history: list[CrmCaseUpdate | CrmCaseClosure] = []
            for r in rows:
                if r.outcome is not None:
                    history.append(
                        CrmCaseClosure(
                            key=r.key,
                            case_id=r.case_id,
                            outcome=CrmCaseOutcome(r.outcome),
                            answer=r.answer or "",
                            credit_note_number=r.credit_note_number,
                        )
                    )
                else:
                    history.append(
                        CrmCaseUpdate(
                            key=r.key,
                            case_id=r.case_id,
                            status=CrmCaseStatus(r.status),
                            answer=r.answer,
                            rma_number=r.rma_number,
                            instructions=r.instructions,
                        )
                    )
            return history

        return await self._db.run(op, write=False)

    # -- port -----------------------------------------------------------------------------------

    async def get_case(self, case_id: str) -> CrmCase:
        """A return case with its lines, in the order entered.

        Raises:
            RecordNotFound: No case has this id.
            InvalidRecord: The stored case cannot be read (say, an unknown status).
        """
        await self._remote_call()

        async def op(session: AsyncSession) -> dict[str, Any]:
            row = await session.get(CaseRow, case_id)
            if row is None:
                raise _case_not_found(case_id)
            lines = await session.scalars(
                select(CaseLineRow)
                .where(CaseLineRow.case_id == case_id)
                .order_by(CaseLineRow.position)
            )
            return _payload(row, list(lines))

        raw = await self._db.run(op, write=False)
        try:
            return CrmCase.model_validate(raw)
        except ValidationError as error:
            problems = [
                f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
                for item in error.errors()
            ]
            raise InvalidRecord(
                f"CRM case {case_id!r} cannot be read", problems=problems, system=SYSTEM
            ) from error

    async def update_case(self, update: CrmCaseUpdate) -> None:
        """Apply an update to an open case once per ``update.key``.

        The status is set, and each of ``answer``, ``rma_number`` and ``instructions`` that is
        not None. A key already applied changes nothing, whatever the update says.

        Raises:
            RecordNotFound: No case has this id.
            InvalidState: The case is resolved or closed.
        """
        await self._remote_call()

        async def op(session: AsyncSession) -> None:
            if await _applied(session, update.key):
                return
            row = await _open_case_locked(session, update.case_id)
            now = datetime.now(UTC)
            row.status = update.status.value
            row.updated_at = now
            for field in ("answer", "rma_number", "instructions"):
                value = getattr(update, field)
                if value is not None:
                    setattr(row, field, value)
            session.add(
                CaseHistoryRow(
                    **update.model_dump(exclude={"status"}),
                    status=update.status.value,
                    outcome=None,
                    credit_note_number=None,
                    recorded_at=now,
                )
            )

        await self._db.run(op)

    async def close_case(self, closure: CrmCaseClosure) -> None:
        """Resolve or close an open case once per ``closure.key``.

        Raises:
            RecordNotFound: No case has this id.
            InvalidState: The case is resolved or closed already (under another key).
        """
        await self._remote_call()

        async def op(session: AsyncSession) -> None:
            if await _applied(session, closure.key):
                return
            row = await _open_case_locked(session, closure.case_id)
            now = datetime.now(UTC)
            row.status = closure.status.value
            row.outcome = closure.outcome.value
            row.answer = closure.answer
            if closure.credit_note_number is not None:
                row.credit_note_number = closure.credit_note_number
            row.updated_at = now
            session.add(
                CaseHistoryRow(
                    key=closure.key,
                    case_id=closure.case_id,
                    status=closure.status.value,
                    outcome=closure.outcome.value,
                    answer=closure.answer,
                    rma_number=None,
                    instructions=None,
                    credit_note_number=closure.credit_note_number,
                    recorded_at=now,
                )
            )

        await self._db.run(op)
