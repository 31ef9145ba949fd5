"""The returns of the demo batch: customers send back part of two orders that went to cash.

CASE-1001 (DEMO-1001): one PLC and two sensors come back; the PLC and one sensor go back on the
shelf in Tehran, the other sensor is scrap. The invoice was paid, so the credit note is refunded.
CASE-1002 (DEMO-1002): one switch comes back and waits for the inspector, who is the user: the
demo prints the command. Both are keyed by their CRM case id, so a second run resumes them.
"""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal
from typing import Protocol

import structlog
from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError

from adapters.sandbox import seed
from domain.return_rules import InspectionLine, InspectionResult
from domain.returns import CrmCase, CrmCaseLine, ReceiptLine
from infra.orders import OrderOpError
from infra.returns import (
    ReturnOpError,
    ReturnsDesk,
    inspect,
    receive,
    return_input,
    return_state,
    start_return,
)
from infra.settings import Settings
from workflows.return_to_restock.models import ReturnState, ReturnStatus

log = structlog.stdlib.get_logger("peyvand.demo")

TIMEOUT = 120.0

FULL_RETURN = CrmCase(
    case_id="CASE-1001",
    order_id="DEMO-1001",
    owner=seed.SALES_REP,
    subject="Wrong sensor type and one PLC not needed",
    requested_on=date(2000, 1, 1),  # replaced by today when the case is opened
    lines=[
        CrmCaseLine(line_no=1, sku=seed.SKU_PLC, quantity=Decimal(1), reason="not needed"),
        CrmCaseLine(line_no=2, sku=seed.SKU_SENSOR, quantity=Decimal(2), reason="wrong type"),
    ],
)
TO_INSPECT = CrmCase(
    case_id="CASE-1002",
    order_id="DEMO-1002",
    owner=seed.SALES_REP,
    subject="Switch arrived with a dead port",
    requested_on=date(2000, 1, 1),
    lines=[CrmCaseLine(line_no=1, sku=seed.SKU_SWITCH, quantity=Decimal(1), reason="port 7")],
)


class CaseDesk(Protocol):
    """Where the demo's service agents open cases (the sandbox CRM)."""

    async def create_case(self, case: CrmCase) -> bool: ...


_ORDER = [
    ReturnStatus.CHECKING,
    ReturnStatus.AWAITING_APPROVAL,
    ReturnStatus.AWAITING_GOODS,
    ReturnStatus.AWAITING_INSPECTION,
    ReturnStatus.CREDITING,
]


async def _wait(client: Client, case_id: str, step: ReturnStatus | None = None) -> ReturnState:
    """Wait until the return is at ``step`` or past it (a second run finds it further on), or
    has ended; with no step, until it has ended."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    while loop.time() < deadline:
        try:
            state = await return_state(client, case_id)
            if state.status.is_final:
                return state
            if step is not None and state.status in _ORDER:
                if _ORDER.index(state.status) >= _ORDER.index(step):
                    return state
        except ReturnOpError:
            pass  # being started
        await asyncio.sleep(0.1)
    last = await return_state(client, case_id)
    raise TimeoutError(
        f"return {case_id} did not get to {step or 'its end'} in {TIMEOUT} s: it is "
        f"{last.status}, {last.detail}"
    )


async def _received(
    client: Client, settings: Settings, erp: ReturnsDesk, case: CrmCase
) -> ReturnState:
    """Start the return (once) and play the warehouse receiving everything asked back."""
    try:
        await start_return(client, settings, return_input(settings, case.case_id))
    except WorkflowAlreadyStartedError:
        log.info("processed by an earlier run", case_id=case.case_id)
    state = await _wait(client, case.case_id, ReturnStatus.AWAITING_GOODS)
    if state.status is ReturnStatus.AWAITING_GOODS:
        lines = [ReceiptLine(line_no=ln.line_no, quantity=ln.quantity) for ln in case.lines]
        await receive(client, erp, case.case_id, lines)
    return await _wait(client, case.case_id, ReturnStatus.AWAITING_INSPECTION)


async def _full_return(client: Client, settings: Settings, erp: ReturnsDesk) -> None:
    state = await _received(client, settings, erp, FULL_RETURN)
    if state.status is ReturnStatus.AWAITING_INSPECTION:
        await inspect(
            client,
            FULL_RETURN.case_id,
            InspectionResult(
                inspector="anbar.tehran",
                lines=[
                    InspectionLine(line_no=1, restock_quantity=Decimal(1), warehouse="THR"),
                    InspectionLine(
                        line_no=2,
                        restock_quantity=Decimal(1),
                        warehouse="THR",
                        scrap_quantity=Decimal(1),
                        scrap_reason="connector bent",
                    ),
                ],
            ),
        )
    await _wait(client, FULL_RETURN.case_id)


async def run_return_demo(
    client: Client, settings: Settings, crm: CaseDesk, erp: ReturnsDesk, today: date
) -> list[ReturnState]:
    """Open the demo cases (once), run them; the orders they return from must be paid."""
    for case in (FULL_RETURN, TO_INSPECT):
        await crm.create_case(case.model_copy(update={"requested_on": today}))
    try:
        await asyncio.gather(
            _full_return(client, settings, erp), _received(client, settings, erp, TO_INSPECT)
        )
    except OrderOpError as err:
        log.error("the return demo stopped: %s", err)
    return [await return_state(client, c.case_id) for c in (FULL_RETURN, TO_INSPECT)]


def return_next_steps(py: str) -> str:
    """The commands that finish the waiting return."""
    case = TO_INSPECT.case_id
    return f"""{case} (a switch back from DEMO-1002) waits for its inspection. Try it:
  {py} starter.py returns status {case}
  {py} starter.py returns inspect {case} --restock 1=2@THR          # refused: 1 arrived
  {py} starter.py returns inspect {case} --scrap 1=1:"dead port 7" --inspector you
  {py} starter.py returns status {case}      # credit note (refunded: the invoice was paid)
"""
