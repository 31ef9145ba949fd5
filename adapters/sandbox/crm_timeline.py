"""The order timeline of the sandbox CRM: notes and tasks, written once per key.

``SandboxCRM`` inherits these methods (the note and task part of its port, and the reads the
demo, the CLI and the tests use); they live here to keep each module small.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sandbox.crm_cases import case_of_order
from adapters.sandbox.crm_schema import NoteRow, OrderRow, TaskRow
from adapters.sandbox.db import SandboxSystem
from domain.errors import InvalidRecord, RecordNotFound
from domain.models import CrmNote, CrmTask

__all__ = ["SandboxTimeline", "now_utc", "order_not_found"]

SYSTEM = "crm"


def now_utc() -> datetime:
    """The time rows are stamped with."""
    return datetime.now(UTC)


def order_not_found(order_id: str) -> RecordNotFound:
    """The error of a call naming an order the CRM does not have."""
    return RecordNotFound(
        f"CRM order {order_id!r} not found", kind="order", key=order_id, system=SYSTEM
    )


class SandboxTimeline(SandboxSystem):
    """Notes and tasks on an order's (or its case's) timeline."""

    async def notes(self, order_id: str) -> list[CrmNote]:
        """The notes on the order's timeline, oldest first."""

        async def op(session: AsyncSession) -> list[CrmNote]:
            rows = await session.scalars(
                select(NoteRow).where(NoteRow.order_id == order_id).order_by(NoteRow.id)
            )
            return [
                CrmNote(
                    key=r.key,
                    order_id=r.order_id,
                    subject=r.subject,
                    body=r.body,
                    case_id=r.case_id,
                )
                for r in rows
            ]

        return await self._db.run(op, write=False)

    async def tasks(self, order_id: str) -> list[CrmTask]:
        """The tasks created for the order, oldest first."""

        async def op(session: AsyncSession) -> list[CrmTask]:
            rows = await session.scalars(
                select(TaskRow).where(TaskRow.order_id == order_id).order_by(TaskRow.id)
            )
            return [
                CrmTask(
                    key=r.key,
                    order_id=r.order_id,
                    subject=r.subject,
                    body=r.body,
                    assignee=r.assignee,
                    due=r.due,
                    case_id=r.case_id,
                )
                for r in rows
            ]

        return await self._db.run(op, write=False)

    async def add_note(self, note: CrmNote) -> str:
        """Add a note to the order's timeline once per ``note.key``.

        Returns:
            The note's id ("N-000001"), the same for a repeated key.

        Raises:
            RecordNotFound: The order does not exist.
        """
        return await self._add_once(NoteRow, note, "N", {})

    async def create_task(self, task: CrmTask) -> str:
        """Create a task once per ``task.key``.

        Returns:
            The task's id ("T-000001"), the same for a repeated key.

        Raises:
            RecordNotFound: The order does not exist.
        """
        return await self._add_once(TaskRow, task, "T", {"status": "open"})

    async def complete_task(self, key: str, outcome: str) -> bool:
        """Close the task created under ``key``; its status becomes ``outcome``.

        Returns:
            True when this call closed it; False when it was already closed.

        Raises:
            RecordNotFound: No task has this key.
            InvalidRecord: ``outcome`` is empty, "open" or longer than 32 characters.
        """
        await self._remote_call()
        if not outcome or outcome == "open" or len(outcome) > 32:
            raise InvalidRecord(
                f"task outcome {outcome!r} is not a closing outcome",
                problems=[f"outcome: {outcome!r} must be 1..32 characters and not 'open'"],
                system=SYSTEM,
            )

        async def op(session: AsyncSession) -> bool:
            row = await session.scalar(select(TaskRow).where(TaskRow.key == key).with_for_update())
            if row is None:
                raise RecordNotFound(
                    f"CRM task {key!r} not found", kind="task", key=key, system=SYSTEM
                )
            if row.status != "open":
                return False
            row.status = outcome
            return True

        return await self._db.run(op)

    async def task_statuses(self, order_id: str) -> dict[str, str]:
        """Each of the order's tasks by key: "open", or the outcome it was closed with."""

        async def op(session: AsyncSession) -> dict[str, str]:
            rows = await session.execute(
                select(TaskRow.key, TaskRow.status)
                .where(TaskRow.order_id == order_id)
                .order_by(TaskRow.id)
            )
            return {key: status for key, status in rows}

        return await self._db.run(op, write=False)

    async def _add_once(
        self,
        table: type[NoteRow] | type[TaskRow],
        record: CrmNote | CrmTask,
        prefix: str,
        extra: dict[str, object],
    ) -> str:
        """Insert ``record`` unless a row with its key exists; the row's id either way."""
        await self._remote_call()

        async def op(session: AsyncSession) -> str:
            existing = await session.scalar(select(table.id).where(table.key == record.key))
            if existing is None:
                if await session.get(OrderRow, record.order_id) is None:
                    raise order_not_found(record.order_id)
                if record.case_id is not None:
                    await case_of_order(session, record.case_id, record.order_id)
                row = table(**record.model_dump(), **extra, created_at=now_utc())
                session.add(row)
                await session.flush()
                existing = row.id
            return f"{prefix}-{existing:06d}"

        return await self._db.run(op)
