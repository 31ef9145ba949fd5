"""The sandbox CRM: a small but real CRM on SQLAlchemy, implementing ``CRMPort``.

It holds accounts (with the ERP customer id as cross-reference), users with roles, orders with
their lines, the order status history, notes and tasks, and return cases (``crm_cases``). Besides
the port it offers a few admin methods for the demo, the CLI and the tests (``create_schema``,
``upsert_account``, ``create_order``, ``create_case`` …); the integration itself only ever uses
the port.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, select
from sqlalchemy import update as sql_update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from adapters.ports import CRMPort
from adapters.sandbox.crm_cases import SandboxCases
from adapters.sandbox.crm_schema import (
    ADD_HISTORY,
    ORDER_LINES,
    SET_ORDER,
    STATUSES_APPLIED,
    AccountRow,
    CrmBase,
    OrderLineRow,
    OrderRow,
    StatusHistoryRow,
    UserRoleRow,
    UserRow,
    order_payload,
)
from adapters.sandbox.crm_timeline import SandboxTimeline, now_utc, order_not_found
from adapters.sandbox.db import SandboxSystem
from adapters.sandbox.statements import changed, row_by, table_of
from domain.errors import InvalidRecord, RecordNotFound
from domain.models import (
    CrmAccount,
    CrmOrder,
    CrmOrderStatus,
    CrmStatusUpdate,
    CrmUser,
)

__all__ = ["SandboxCRM"]

SYSTEM = "crm"


def _problems(error: ValidationError) -> list[str]:
    """One readable line per invalid field, as ``InvalidRecord`` wants them."""
    return [
        f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}" for item in error.errors()
    ]


class SandboxCRM(SandboxCases, SandboxTimeline, SandboxSystem, CRMPort):
    """The embedded CRM.

    Args:
        url: SQLAlchemy URL of its own database, e.g. ``sqlite+aiosqlite:///crm.db``.
        latency: Seconds every port call waits first, to behave like a remote system.

    Raises:
        ValueError: ``url`` is malformed or names a missing or non-async driver.
    """

    system = SYSTEM
    metadata = CrmBase.metadata

    # -- admin (not part of the port) -----------------------------------------------------------

    async def upsert_account(self, account: CrmAccount) -> None:
        """Create the account, or overwrite every field of an existing one."""

        async def op(session: AsyncSession) -> None:
            row = await session.get(AccountRow, account.account_id, with_for_update=True)
            if row is None:
                session.add(AccountRow(**account.model_dump()))
            else:
                for field, value in account.model_dump().items():
                    setattr(row, field, value)

        await self._db.run(op)

    async def upsert_user(self, user: CrmUser) -> None:
        """Create the user, or overwrite its name, roles and active flag."""

        async def op(session: AsyncSession) -> None:
            row = await session.get(UserRow, user.user_id, with_for_update=True)
            if row is None:
                session.add(UserRow(user_id=user.user_id, name=user.name, active=user.active))
                await session.flush()  # the roles refer to the user row
            else:
                row.name = user.name
                row.active = user.active
                await session.execute(
                    delete(UserRoleRow).where(UserRoleRow.user_id == user.user_id)
                )
            session.add_all(
                UserRoleRow(user_id=user.user_id, role=role) for role in dict.fromkeys(user.roles)
            )

        await self._db.run(op)

    async def create_order(self, order: CrmOrder) -> bool:
        """Store a new order with its lines, as a sales rep would enter it.

        Returns:
            True when created; False, changing nothing, when ``order.order_id`` already exists.
        """

        async def op(session: AsyncSession) -> bool:
            if await session.get(OrderRow, order.order_id) is not None:
                return False
            now = now_utc()
            session.add(
                OrderRow(
                    **order.model_dump(exclude={"lines", "status"}),
                    status=order.status.value,
                    created_at=now,
                    updated_at=now,
                )
            )
            await session.flush()  # the lines refer to the order row
            session.add_all(
                OrderLineRow(order_id=order.order_id, position=position, **line.model_dump())
                for position, line in enumerate(order.lines)
            )
            return True

        return await self._db.run(op)

    async def status_history(self, order_id: str) -> list[CrmStatusUpdate]:
        """Every status update applied to the order, oldest first."""

        async def op(session: AsyncSession) -> list[CrmStatusUpdate]:
            rows = await session.scalars(
                select(StatusHistoryRow)
                .where(StatusHistoryRow.order_id == order_id)
                .order_by(StatusHistoryRow.id)
            )
            return [
                CrmStatusUpdate(
                    key=r.key,
                    order_id=r.order_id,
                    status=CrmOrderStatus(r.status),
                    reason=r.reason,
                    erp_order_number=r.erp_order_number,
                    invoice_number=r.invoice_number,
                    promised_date=r.promised_date,
                )
                for r in rows
            ]

        return await self._db.run(op, write=False)

    # -- port -------------------------------------------------------------------------------------

    async def get_order(self, order_id: str) -> CrmOrder:
        """The order with its lines.

        Raises:
            RecordNotFound: No order has this id.
            InvalidRecord: The stored order cannot be read (say, an unknown status).
        """
        await self._remote_call()

        async def op(conn: AsyncConnection) -> dict[str, Any]:
            row = (await conn.execute(row_by(OrderRow, "order_id"), {"v": order_id})).first()
            if row is None:
                raise order_not_found(order_id)
            lines = await conn.execute(ORDER_LINES, {"o": order_id})
            return order_payload(row, lines)

        raw = await self._db.run_core(op, write=False)
        try:
            return CrmOrder.model_validate(raw)
        except ValidationError as error:
            raise InvalidRecord(
                f"CRM order {order_id!r} cannot be read", problems=_problems(error), system=SYSTEM
            ) from error

    async def get_account(self, account_id: str) -> CrmAccount:
        """A customer account.

        Raises:
            RecordNotFound: No account has this id.
        """
        await self._remote_call()

        async def op(conn: AsyncConnection) -> CrmAccount:
            found = await conn.execute(row_by(AccountRow, "account_id"), {"v": account_id})
            row = found.first()
            if row is None:
                raise RecordNotFound(
                    f"CRM account {account_id!r} not found",
                    kind="account",
                    key=account_id,
                    system=SYSTEM,
                )
            return CrmAccount(
                account_id=row.account_id,
                name=row.name,
                tax_id=row.tax_id,
                email=row.email,
                phone=row.phone,
                address=row.address,
                segment=row.segment,
                erp_customer_id=row.erp_customer_id,
            )

        return await self._db.run_core(op, write=False)

    async def link_account(self, account_id: str, erp_customer_id: str) -> None:
        """Store the ERP customer id on the account; idempotent.

        Raises:
            RecordNotFound: No account has this id.
        """
        await self._remote_call()

        async def op(session: AsyncSession) -> None:
            accounts = table_of(AccountRow)
            statement = (
                sql_update(accounts)
                .where(accounts.c.account_id == account_id)
                .values(erp_customer_id=erp_customer_id)
            )
            if not await changed(session, statement):
                raise RecordNotFound(
                    f"CRM account {account_id!r} not found",
                    kind="account",
                    key=account_id,
                    system=SYSTEM,
                )

        await self._db.run(op)

    async def list_users(self, role: str) -> list[CrmUser]:
        """Active users holding ``role``, by user id."""
        await self._remote_call()

        async def op(session: AsyncSession) -> list[CrmUser]:
            users = list(
                await session.scalars(
                    select(UserRow)
                    .join(UserRoleRow, UserRoleRow.user_id == UserRow.user_id)
                    .where(UserRoleRow.role == role, UserRow.active.is_(True))
                    .order_by(UserRow.user_id)
                )
            )
            roles = await self._roles(session, [u.user_id for u in users])
            return [
                CrmUser(user_id=u.user_id, name=u.name, roles=roles.get(u.user_id, []), active=True)
                for u in users
            ]

        return await self._db.run(op, write=False)

    @staticmethod
    async def _roles(session: AsyncSession, user_ids: Sequence[str]) -> dict[str, list[str]]:
        rows = await session.execute(
            select(UserRoleRow.user_id, UserRoleRow.role)
            .where(UserRoleRow.user_id.in_(user_ids))
            .order_by(UserRoleRow.user_id, UserRoleRow.role)
        )
        roles: dict[str, list[str]] = {}
        for user_id, role_name in rows:
            roles.setdefault(user_id, []).append(role_name)
        return roles

    async def update_order_status(self, update: CrmStatusUpdate) -> None:
        """Apply a status update once per ``update.key``.

        The status is set, and so is each of ``erp_order_number``, ``invoice_number`` and
        ``promised_date`` that is not None; a history row records the update. A key already
        applied changes nothing, whatever the update says.

        Raises:
            RecordNotFound: The order does not exist.
        """
        await self.update_order_statuses([update])

    async def update_order_statuses(self, updates: Sequence[CrmStatusUpdate]) -> None:
        """Apply ``updates`` in order as ``update_order_status`` does, in one transaction.

        The keys applied already in one statement, one UPDATE per order with the fields the
        updates leave on it (orders in id order, so two batches never lock them in opposite
        orders), and the history rows in one statement. An unknown order applies none of them.

        Raises:
            RecordNotFound: An order does not exist.
        """
        if not updates:
            return
        await self._remote_call()

        async def op(conn: AsyncConnection) -> None:
            keys = [u.key for u in updates]
            seen = set((await conn.execute(STATUSES_APPLIED, {"keys": keys})).scalars())
            fresh: list[CrmStatusUpdate] = []
            for update in updates:
                if update.key not in seen:  # a key twice in one batch counts once too
                    seen.add(update.key)
                    fresh.append(update)
            if not fresh:
                return
            now = now_utc()
            # What the order shows after the updates in turn: the last status, and each field
            # as the last update that gave it left it.
            fields: dict[str, dict[str, object]] = {}
            for update in fresh:
                order = fields.setdefault(update.order_id, {})
                order.update(status=update.status.value, updated_at=now)
                for name in ("erp_order_number", "invoice_number", "promised_date"):
                    if (value := getattr(update, name)) is not None:
                        order[name] = value
            for order_id, values in sorted(fields.items()):
                if not await changed(conn, SET_ORDER, {"oid": order_id, **values}):
                    raise order_not_found(order_id)
            # A concurrent update with the same key fails here on the unique key, and
            # ``Database.run_core`` re-runs this, which then finds the key applied.
            history = [
                {**u.model_dump(), "status": u.status.value, "recorded_at": now} for u in fresh
            ]
            await conn.execute(ADD_HISTORY, history)

        await self._db.run_core(op)
