"""The returns part of the sandbox ERP's port, and the admin calls of its returns desk.

``SandboxERP`` inherits these methods; they live here to keep each module small. The work of
each call is a function of ``erp_returns``, ``erp_rma``, ``erp_restock`` or ``erp_credits``, run
as one unit of work.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sandbox import erp_credits as credits
from adapters.sandbox import erp_restock as restocks
from adapters.sandbox import erp_returns as returns
from adapters.sandbox import erp_rma as rmas
from adapters.sandbox.db import SandboxSystem
from adapters.sandbox.erp_records import count_by_prefix
from adapters.sandbox.erp_schema import (
    CreditNoteRow,
    RefundRow,
    RestockRow,
    ReturnAuthorizationRow,
    WriteOffRow,
)
from domain.returns import (
    CreditNote,
    CreditNoteRequest,
    ReceiptLine,
    Refund,
    RefundRequest,
    Restock,
    RestockRequest,
    ReturnableOrder,
    ReturnAuthorization,
    ReturnAuthorizationRequest,
    ReturnReceiptRequest,
    WriteOff,
    WriteOffRequest,
)

__all__ = ["SandboxReturns"]


class SandboxReturns(SandboxSystem):
    """Return authorizations, receipts, restocks, write-offs, credit notes and refunds."""

    # -- admin (not part of the port) -----------------------------------------------------------

    async def receive_return(
        self, rma_number: str, quantities: dict[int, Decimal], reference: str
    ) -> ReturnAuthorization:
        """The warehouse books the goods that arrived for an RMA; idempotent on ``reference``.

        Args:
            rma_number: The RMA the parcel came with.
            quantities: What arrived, per order line number (lines not named: nothing).
            reference: The warehouse's own receipt reference.
        """
        request = ReturnReceiptRequest(
            reference=reference,
            rma_number=rma_number,
            lines=[ReceiptLine(line_no=n, quantity=q) for n, q in sorted(quantities.items())],
        )
        return await self._db.run(lambda session: rmas.record_return_receipt(session, request))

    async def credit_notes(self, sales_order_number: str) -> list[CreditNote]:
        """Every credit note of a sales order, cancelled ones included, oldest first."""

        async def op(session: AsyncSession) -> list[CreditNote]:
            rows = await session.scalars(
                select(CreditNoteRow)
                .where(CreditNoteRow.sales_order_number == sales_order_number)
                .order_by(CreditNoteRow.number)
            )
            return [await credits.credit_note_record(session, row) for row in rows]

        return await self._db.run(op, write=False)

    async def count_return_documents(self, reference_prefix: str) -> dict[str, int]:
        """How many return documents of each kind carry a reference starting with the prefix.

        Returns:
            Counts under "return_authorizations", "restocks", "write_offs", "credit_notes" and
            "refunds".
        """
        tables = {
            "return_authorizations": ReturnAuthorizationRow.reference,
            "restocks": RestockRow.reference,
            "write_offs": WriteOffRow.reference,
            "credit_notes": CreditNoteRow.reference,
            "refunds": RefundRow.reference,
        }

        return await self._db.run(
            lambda session: count_by_prefix(session, tables, reference_prefix), write=False
        )

    # -- port: returns --------------------------------------------------------------------------

    async def get_returnable(self, sales_order_number: str) -> ReturnableOrder:
        """What shipped on a sales order, its invoice and what came back of each line.

        Raises:
            RecordNotFound: Unknown sales order.
        """
        await self._remote_call()
        return await self._db.run(
            lambda session: returns.get_returnable(session, sales_order_number), write=False
        )

    async def create_return_authorization(
        self, request: ReturnAuthorizationRequest
    ) -> ReturnAuthorization:
        """Authorize a return, numbered "RMA-000001" …; idempotent on ``request.reference``.

        The sales order is locked while its returnable quantities are checked, so concurrent
        returns of one order never authorize more than shipped.

        Raises:
            RecordNotFound: Unknown sales order.
            InvalidState: The order has not shipped.
            InvalidRecord: A line unknown, named twice, of another SKU, not positive, or beyond
                what is still returnable.
            IdempotencyConflict: The reference was used for another order or other lines.
        """
        await self._remote_call()
        return await self._db.run(
            lambda session: rmas.create_return_authorization(session, request)
        )

    async def get_return_authorization(self, reference: str) -> ReturnAuthorization | None:
        """The RMA created under ``reference``, or None."""
        await self._remote_call()
        return await self._db.run(
            lambda session: rmas.get_return_authorization(session, reference), write=False
        )

    async def cancel_return_authorization(self, reference: str) -> ReturnAuthorization | None:
        """Cancel an RMA whose goods have not arrived; idempotent, None when there is none.

        Raises:
            InvalidState: Goods were received on it.
        """
        await self._remote_call()
        return await self._db.run(
            lambda session: rmas.cancel_return_authorization(session, reference)
        )

    async def record_return_receipt(self, request: ReturnReceiptRequest) -> ReturnAuthorization:
        """Record what arrived for an RMA; see ``ERPPort.record_return_receipt``.

        Raises:
            RecordNotFound: Unknown RMA.
            InvalidRecord: An unknown line, a negative quantity, more than authorized, nothing.
            InvalidState: The RMA is cancelled, or received with other quantities.
            IdempotencyConflict: The reference was used with other quantities or another RMA.
        """
        await self._remote_call()
        return await self._db.run(lambda session: rmas.record_return_receipt(session, request))

    async def restock_return(self, request: RestockRequest) -> Restock:
        """Put received goods back on hand, numbered "RST-000001" …; idempotent.

        Raises:
            RecordNotFound: Unknown RMA or warehouse.
            InvalidRecord: A line unknown, not positive, or beyond what is received and not yet
                restocked or scrapped.
            InvalidState: The RMA has not received its goods.
            IdempotencyConflict: The reference was used with other content.
        """
        await self._remote_call()
        return await self._db.run(lambda session: restocks.restock_return(session, request))

    async def reverse_restock(self, reference: str) -> Restock | None:
        """Take a restock's goods off hand again; idempotent, None when there is none.

        Raises:
            InvalidState: Less than the restocked quantity is still available there.
        """
        await self._remote_call()
        return await self._db.run(lambda session: restocks.reverse_restock(session, reference))

    async def write_off_return(self, request: WriteOffRequest) -> WriteOff:
        """Write off received goods as scrap, numbered "WO-000001" …; idempotent.

        Raises:
            Like ``restock_return``; InvalidRecord also for a line without a reason.
        """
        await self._remote_call()
        return await self._db.run(lambda session: restocks.write_off_return(session, request))

    async def create_credit_note(self, request: CreditNoteRequest) -> CreditNote:
        """Credit received goods pro rata of the invoice, numbered "CN-000001" …; idempotent.

        Raises:
            RecordNotFound: Unknown RMA.
            InvalidRecord: A line unknown, not positive, or beyond what is received and not yet
                credited.
            InvalidState: The RMA has not received its goods, or the order is not invoiced.
            IdempotencyConflict: The reference was used with other content.
        """
        await self._remote_call()
        return await self._db.run(lambda session: credits.create_credit_note(session, request))

    async def cancel_credit_note(self, reference: str) -> CreditNote | None:
        """Cancel an open credit note; idempotent, None when there is none.

        Raises:
            InvalidState: It was refunded.
        """
        await self._remote_call()
        return await self._db.run(lambda session: credits.cancel_credit_note(session, reference))

    async def refund_credit_note(self, request: RefundRequest) -> Refund:
        """Pay an open credit note back, numbered "RF-000001" …; idempotent on the reference.

        Raises:
            RecordNotFound: Unknown credit note.
            InvalidState: The credit note is cancelled or refunded, or its invoice is not paid.
            IdempotencyConflict: The reference was used for another credit note.
        """
        await self._remote_call()
        return await self._db.run(lambda session: credits.refund_credit_note(session, request))
