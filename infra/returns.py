"""Client-side operations on return workflows, shared by the CLI, the demo and tests.

``receive`` either books the goods in a sandbox ERP's warehouse and tells the workflow to look
(as a warehouse system's webhook would), or reports the quantities to the workflow, which
records the receipt in the ERP itself.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from temporalio.client import Client, WorkflowHandle
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.service import RPCError

from domain.return_rules import InspectionLine, InspectionResult, ReturnPolicy
from domain.returns import ReceiptLine, ReturnAuthorization
from infra.settings import Settings
from workflows import search_attributes as sa
from workflows.return_to_restock.models import (
    GoodsReceivedNotice,
    InspectInput,
    InspectResult,
    ReturnState,
    ReturnStatus,
    ReturnToRestockInput,
    ReturnToRestockResult,
    workflow_id,
)
from workflows.return_to_restock.workflow import ReturnToRestockWorkflow

ReturnHandle = WorkflowHandle[ReturnToRestockWorkflow, ReturnToRestockResult]


class ReturnOpError(Exception):
    """A problem the user can fix (no such return, a malformed line …)."""


class ReturnsDesk(Protocol):
    """The warehouse side of an ERP's returns, which the sandbox lets us play."""

    async def receive_return(
        self, rma_number: str, quantities: dict[int, Decimal], reference: str
    ) -> ReturnAuthorization: ...


def return_input(
    settings: Settings,
    case_id: str,
    *,
    requested_by: str | None = None,
    policy: ReturnPolicy | None = None,
) -> ReturnToRestockInput:
    """The workflow input for a CRM case, with the task queues of these settings."""
    return ReturnToRestockInput(
        case_id=case_id,
        requested_by=requested_by,
        policy=policy or ReturnPolicy(),
        crm_task_queue=settings.crm_task_queue,
        erp_task_queue=settings.erp_task_queue,
    )


async def start_return(
    client: Client,
    settings: Settings,
    input: ReturnToRestockInput,
    *,
    signal: str | None = None,
    signal_args: Sequence[Any] = (),
) -> ReturnHandle:
    """Start return-to-restock for a CRM case; a running one with the same id is returned.

    Args:
        signal: Signal-with-start: this signal (by name, with ``signal_args``) goes to the
            running workflow, or to the one started for it, so an early event is not lost.
    """
    return await client.start_workflow(
        ReturnToRestockWorkflow.run,
        input,
        id=workflow_id(input.case_id),
        task_queue=settings.workflow_task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(sa.RETURN_ID, input.case_id),
                SearchAttributePair(sa.RETURN_STATUS, ReturnStatus.CHECKING.value),
            ]
        ),
        static_summary=f"Return-to-restock for CRM case {input.case_id}",
        static_details=f"Started by {input.requested_by or 'the case owner'}",
        start_signal=signal,
        start_signal_args=signal_args,
        request_eager_start=signal is None,  # as infra.orders.start_order
    )


def return_handle(client: Client, case_id: str) -> ReturnHandle:
    return client.get_workflow_handle_for(ReturnToRestockWorkflow.run, workflow_id(case_id))


async def return_state(client: Client, case_id: str) -> ReturnState:
    """The return's full state from the workflow's query."""
    try:
        return await return_handle(client, case_id).query(ReturnToRestockWorkflow.status)
    except RPCError as err:
        raise ReturnOpError(f"return {case_id}: {err.message}") from err


async def receive(
    client: Client,
    desk: ReturnsDesk | None,
    case_id: str,
    lines: list[ReceiptLine],
) -> str:
    """Goods arrived for the return: book them at the sandbox warehouse (if given) and tell the
    workflow, or report them to the workflow, which records them in the ERP."""
    if desk is not None:
        state = await return_state(client, case_id)
        if state.rma_number is None:
            raise ReturnOpError(f"return {case_id} has no RMA yet (it is {state.status})")
        quantities = {line.line_no: line.quantity for line in lines}
        await desk.receive_return(state.rma_number, quantities, f"{workflow_id(case_id)}/dock")
        notice = GoodsReceivedNotice(source="warehouse")
    else:
        notice = GoodsReceivedNotice(lines=lines, source="cli")
    await return_handle(client, case_id).signal(ReturnToRestockWorkflow.goods_received, notice)
    return "booked in the ERP" if desk is not None else "reported"


async def inspect(client: Client, case_id: str, inspection: InspectionResult) -> InspectResult:
    """Send the inspection; the workflow's validator refuses one that does not add up."""
    return await return_handle(client, case_id).execute_update(
        ReturnToRestockWorkflow.inspect, InspectInput(inspection=inspection)
    )


# --- parsing the CLI's line syntax ------------------------------------------------------------

_RECEIPT = re.compile(r"^(\d+)=([0-9.]+)$")
_RESTOCK = re.compile(r"^(\d+)=([0-9.]+)@(\w+)$")
_SCRAP = re.compile(r"^(\d+)=([0-9.]+):(.+)$")


def _quantity(text: str, where: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation as err:
        raise ReturnOpError(f"{where}: {text!r} is not a quantity") from err
    if not value.is_finite() or value < 0:
        raise ReturnOpError(f"{where}: {text!r} is not a quantity")
    return value


def parse_receipt(items: list[str]) -> list[ReceiptLine]:
    """``LINE=QTY`` items, e.g. ``1=2``."""
    lines: list[ReceiptLine] = []
    for item in items:
        match = _RECEIPT.match(item.strip())
        if match is None:
            raise ReturnOpError(f"--line {item!r}: expected LINE=QTY, e.g. 1=2")
        lines.append(
            ReceiptLine(line_no=int(match[1]), quantity=_quantity(match[2], f"--line {item}"))
        )
    return lines


def parse_inspection(
    restock: list[str], scrap: list[str], inspector: str | None
) -> InspectionResult:
    """``--restock LINE=QTY@WAREHOUSE`` and ``--scrap LINE=QTY:REASON`` items, merged per line."""
    by_line: dict[int, InspectionLine] = {}
    for item in restock:
        match = _RESTOCK.match(item.strip())
        if match is None:
            raise ReturnOpError(f"--restock {item!r}: expected LINE=QTY@WAREHOUSE, e.g. 1=2@THR")
        line = by_line.setdefault(int(match[1]), InspectionLine(line_no=int(match[1])))
        line.restock_quantity = _quantity(match[2], f"--restock {item}")
        line.warehouse = match[3]
    for item in scrap:
        match = _SCRAP.match(item.strip())
        if match is None:
            raise ReturnOpError(f"--scrap {item!r}: expected LINE=QTY:REASON, e.g. 1=1:broken")
        line = by_line.setdefault(int(match[1]), InspectionLine(line_no=int(match[1])))
        line.scrap_quantity = _quantity(match[2], f"--scrap {item}")
        line.scrap_reason = match[3].strip()
    if not by_line:
        raise ReturnOpError("an inspection needs at least one --restock or --scrap")
    return InspectionResult(lines=[by_line[n] for n in sorted(by_line)], inspector=inspector)


def describe_return(state: ReturnState) -> str:
    """A readable summary of a return's state."""
    rows = [
        f"return     {state.case_id}  [{state.status.value}]  {state.detail}",
        f"order      CRM {state.order_id or '-'}  ERP {state.sales_order_number or '-'}"
        f"  invoice {state.invoice_number or '-'}{' (paid)' if state.invoice_paid else ''}",
    ]
    if state.requested_value is not None:
        rows.append(f"value      {state.requested_value} {state.currency or ''} asked back")
    if state.approval_chain_id:
        rows.append(f"approval   chain {state.approval_chain_id}")
    if state.rma_number:
        rows.append(f"RMA        {state.rma_number}, goods due {state.receipt_deadline}")
    if state.received:
        rows.append(
            "received   " + ", ".join(f"line {r.line_no}: {r.quantity}" for r in state.received)
        )
    if state.inspection:
        for line in state.inspection.lines:
            rows.append(
                f"inspected  line {line.line_no}: restock {line.restock_quantity}"
                f" to {line.warehouse or '-'}, scrap {line.scrap_quantity}"
                + (f" ({line.scrap_reason})" if line.scrap_reason else "")
            )
    if state.credit_note_number:
        rows.append(
            f"credit     {state.credit_note_number}: {state.credited_total} {state.currency}"
        )
    if state.refund_number:
        rows.append(f"refund     {state.refund_number}")
    if state.reason:
        rows.append(f"reason     {state.reason}")
    for item in state.needs_attention:
        rows.append(f"ATTENTION  {item}")
    rows.append("events:")
    for e in state.events:
        who = f" ({e.actor})" if e.actor else ""
        rows.append(f"  {e.at:%Y-%m-%d %H:%M:%S}  {e.kind:18} {e.detail}{who}")
    return "\n".join(rows)
