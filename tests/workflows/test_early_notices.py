"""Notices that arrive before the workflow reaches the matching wait are not lost."""

from __future__ import annotations

from decimal import Decimal

from domain.orders import OrderPolicy, OrderStatus
from tests.workflows.conftest import O2C


async def test_ship_and_pay_notices_sent_as_soon_as_documents_exist(o2c: O2C) -> None:
    """A fast warehouse and bank: events right after each ERP write, before the workflow waits.

    Without catching them, the order would sit until the next poll (hours or a day later).
    """
    order_id = await o2c.order()
    handle = await o2c.start(order_id)
    o2c.notify_at_once(handle)

    result = await handle.result()  # time does not skip past a poll: only the notices count
    assert result.status is OrderStatus.COMPLETED
    assert result.amount_paid == result.total and result.total > Decimal(0)
    state = await o2c.state(handle)
    assert state.events[-1].at - state.events[0].at < OrderPolicy().shipment_poll_every
