"""Approval chains on a real dev server: "pending for a group / a person" is one visibility
query, and the CLI finds and decides them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TypeVar

import pytest

from adapters.sandbox import seed
from domain.models import CrmOrder, CrmOrderLine
from domain.orders import OrderStatus
from infra import approvals
from infra.approvals import PendingChain
from infra.orders import OrderOpError, order_input, reached, start_order, wait_for
from tests.integration.conftest import Stack, run_cli
from workflows.approval_chain.models import ChainStatus, DecideInput

pytestmark = pytest.mark.devserver

T = TypeVar("T")


def _order(order_id: str, account: str, sku: str, quantity: int, price: str) -> CrmOrder:
    return CrmOrder(
        order_id=order_id,
        account_id=account,
        owner=seed.SALES_REP,
        currency="EUR",
        lines=[
            CrmOrderLine(
                line_no=1,
                sku=sku,
                quantity=Decimal(quantity),
                unit_price=Decimal(price),
                currency="EUR",
            )
        ],
    )


async def _eventually(probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool]) -> T:
    """Visibility is eventually consistent: poll for up to 20 s."""
    for _ in range(200):
        value = await probe()
        if ok(value):
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"never held; last: {value}")


def _ids(rows: list[PendingChain]) -> set[str]:
    return {row.chain_id for row in rows}


async def test_pending_by_group_and_person_then_decided_from_the_cli(stack: Stack) -> None:
    tag = uuid.uuid4().hex[:6]
    big = _order(f"AP-{tag}-1", seed.ACCOUNT_SEPAHAN, seed.SKU_DRIVE, 40, "265.50")  # 10,620
    credit = _order(f"AP-{tag}-2", seed.ACCOUNT_PARS, seed.SKU_SENSOR, 5, "18.40")  # no credit
    for order in (big, credit):
        assert await stack.crm.create_order(order)
        await start_order(stack.client, stack.settings, order_input(stack.settings, order.order_id))
    for order in (big, credit):
        await wait_for(stack.client, order.order_id, reached(OrderStatus.AWAITING_APPROVAL))
    big_chain = approvals.chain_workflow_id(big.order_id)
    credit_chain = approvals.chain_workflow_id(credit.order_id)

    finance = await _eventually(
        lambda: approvals.pending(stack.client, group="finance"),
        lambda rows: credit_chain in _ids(rows),
    )
    assert big_chain not in _ids(finance)
    row = next(r for r in finance if r.chain_id == credit_chain)
    assert (row.kind, row.groups, row.pending) == ("order", ["finance"], [seed.FINANCE])
    reza = await _eventually(
        lambda: approvals.pending(stack.client, user="reza.karimi"),
        lambda rows: big_chain in _ids(rows),
    )
    assert credit_chain not in _ids(reza)
    assert next(r for r in reza if r.chain_id == big_chain).amount == pytest.approx(10620.0)

    code, out = await run_cli(stack, "approvals", "pending", "--user", "maryam.hosseini")
    assert code == 0 and big_chain in out and credit_chain not in out, out
    code, out = await run_cli(
        stack, "approvals", "decide", big.order_id, "--approver", seed.SALES_REP, "--approve"
    )
    assert code == 1 and "four-eyes" in out, out
    code, out = await run_cli(
        stack, "approvals", "decide", big.order_id, "--approver", "reza.karimi", "--approve"
    )
    assert code == 0 and "chain APPROVED" in out, out
    await wait_for(stack.client, big.order_id, reached(OrderStatus.AWAITING_SHIPMENT))
    await _eventually(
        lambda: approvals.pending(stack.client, user="reza.karimi"),
        lambda rows: big_chain not in _ids(rows),
    )

    with pytest.raises(OrderOpError, match="not an approver of level 1 \\(finance\\)"):
        await approvals.decide(
            stack.client, credit.order_id, DecideInput(approver="reza.karimi", approve=True)
        )
    await approvals.decide(
        stack.client, credit.order_id, DecideInput(approver=seed.FINANCE, approve=False)
    )
    state = await wait_for(stack.client, credit.order_id, reached())
    assert state.status is OrderStatus.REJECTED
    chain = await approvals.chain_state(stack.client, credit.order_id)
    assert chain.status is ChainStatus.REJECTED
    assert chain.policy_version == "2026-11-29.2"
