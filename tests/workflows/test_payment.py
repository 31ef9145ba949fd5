"""Payment: due date, dunning, partial payments, and the polling fallbacks when no signal comes."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from domain.models import CrmOrderStatus, InvoiceStatus
from domain.orders import OrderPolicy, OrderStatus
from tests.workflows.conftest import O2C, Handle
from workflows.order_to_cash.models import OrderState, PaymentNotice
from workflows.order_to_cash.workflow import OrderToCashWorkflow

DUNNING = OrderPolicy(dunning_every=timedelta(days=5), dunning_max_reminders=2)


async def _awaiting_payment(
    o2c: O2C, policy: OrderPolicy | None = None
) -> tuple[str, Handle, OrderState]:
    order_id = await o2c.order([("P1", 3, 100)], payment_terms_days=14)  # 300 EUR
    handle = await o2c.start(order_id, policy=policy)
    await o2c.wait_for(handle, OrderStatus.AWAITING_SHIPMENT)
    await o2c.ship(handle)
    state = await o2c.wait_for(handle, OrderStatus.AWAITING_PAYMENT)
    assert state.invoice_number is not None and state.due_date is not None
    return order_id, handle, state


async def _sleep_until(o2c: O2C, moment: datetime) -> None:
    now = await o2c.env.get_current_time()
    assert moment > now
    await o2c.env.sleep(moment - now)


async def test_dunning_after_due_date_at_policy_interval_and_capped(o2c: O2C) -> None:
    order_id, handle, state = await _awaiting_payment(o2c, DUNNING)
    assert state.invoice_number is not None and state.due_date is not None
    invoice = await o2c.erp.get_invoice(state.invoice_number)
    assert state.due_date == invoice.issued_on + timedelta(days=14) == invoice.due_date
    overdue_from = datetime.combine(state.due_date + timedelta(days=1), time.min, tzinfo=UTC)
    key = f"order-{order_id}/dunning"

    # Payable through the whole due date: no reminder yet an hour before midnight.
    await _sleep_until(o2c, overdue_from - timedelta(hours=1))
    state = await o2c.state(handle)
    assert state.status is OrderStatus.AWAITING_PAYMENT and state.reminders_sent == 0
    assert await o2c.crm.notes(order_id) == []

    await o2c.env.sleep(timedelta(hours=2))
    state = await o2c.settle(handle, lambda s: s.reminders_sent == 1)
    assert state.status is OrderStatus.OVERDUE
    assert [n.key for n in await o2c.crm.notes(order_id)] == [f"{key}/1"]
    tasks = await o2c.crm.tasks(order_id)
    assert [(t.key, t.assignee) for t in tasks] == [(f"{key}/1", "rep")]
    assert (await o2c.crm_statuses(order_id))[-1] is CrmOrderStatus.OVERDUE

    await o2c.env.sleep(timedelta(days=4, hours=20))  # just before the policy's 5 days
    assert (await o2c.state(handle)).reminders_sent == 1
    await o2c.env.sleep(timedelta(hours=4))
    state = await o2c.settle(handle, lambda s: s.reminders_sent == 2)
    await o2c.env.sleep(timedelta(days=30))  # capped at dunning_max_reminders
    state = await o2c.state(handle)
    assert state.reminders_sent == 2 and state.status is OrderStatus.OVERDUE

    notes = await o2c.crm.notes(order_id)
    assert [n.key for n in notes] == [f"{key}/1", f"{key}/2"]
    assert notes[1].subject.startswith(f"Payment reminder 2: invoice {invoice.number} overdue")
    assert "300.00 EUR open" in notes[1].subject
    assert [t.key for t in await o2c.crm.tasks(order_id)] == [f"{key}/1", f"{key}/2"]
    sent = [e.at for e in state.events if e.kind == "status" and "Payment reminder" in e.detail]
    assert len(sent) == 2
    assert abs(sent[0] - overdue_from) < timedelta(seconds=5)
    assert abs(sent[1] - sent[0] - timedelta(days=5)) < timedelta(seconds=5)

    # Paying late still closes the order.
    await o2c.erp.record_payment(invoice.number, invoice.total, f"order-{order_id}/pay/1")
    await handle.signal(OrderToCashWorkflow.payment_notified, PaymentNotice())
    result = await handle.result()
    assert result.status is OrderStatus.COMPLETED
    statuses = await o2c.crm_statuses(order_id)
    assert statuses.count(CrmOrderStatus.OVERDUE) == 1
    assert statuses[-2:] == [CrmOrderStatus.OVERDUE, CrmOrderStatus.CLOSED]


async def test_partial_payments_add_up_before_completion(o2c: O2C) -> None:
    order_id, handle, state = await _awaiting_payment(o2c)
    assert state.invoice_number is not None
    number = state.invoice_number

    await o2c.erp.record_payment(number, Decimal("120"), f"order-{order_id}/pay/1")
    await handle.signal(
        OrderToCashWorkflow.payment_notified, PaymentNotice(amount=Decimal("120"), reference="b1")
    )
    state = await o2c.settle(handle, lambda s: s.amount_paid == Decimal("120"))
    assert state.status is OrderStatus.AWAITING_PAYMENT
    assert [e.detail for e in state.events if e.kind == "payment"] == ["paid 120, open 180.00"]
    await o2c.env.sleep(timedelta(hours=3))
    assert (await o2c.state(handle)).status is OrderStatus.AWAITING_PAYMENT

    await o2c.erp.record_payment(number, Decimal("180"), f"order-{order_id}/pay/2")
    await handle.signal(OrderToCashWorkflow.payment_notified, PaymentNotice(amount=Decimal("180")))
    result = await handle.result()

    assert result.status is OrderStatus.COMPLETED
    assert result.amount_paid == Decimal("300") == result.total
    invoice = await o2c.erp.get_invoice(number)
    assert invoice.status is InvoiceStatus.PAID and invoice.amount_paid == Decimal("300")
    assert (await o2c.erp.count_documents(f"order-{order_id}/"))["payments"] == 2
    assert (await o2c.crm_statuses(order_id))[-1] is CrmOrderStatus.CLOSED
    assert await o2c.crm.notes(order_id) == []


async def test_payment_detected_by_polling_without_a_signal(o2c: O2C) -> None:
    order_id, handle, state = await _awaiting_payment(o2c)
    assert state.invoice_number is not None
    await o2c.erp.record_payment(state.invoice_number, Decimal("300"), f"order-{order_id}/p")

    await o2c.env.sleep(timedelta(hours=12))
    assert (await o2c.state(handle)).status is OrderStatus.AWAITING_PAYMENT  # not polled yet
    await o2c.env.sleep(timedelta(hours=12, minutes=5))  # past payment_poll_every (1 day)

    result = await handle.result()
    assert result.status is OrderStatus.COMPLETED and result.amount_paid == Decimal("300")
    assert not [e for e in result.events if e.kind == "payment-notice"]
    assert (await o2c.crm_statuses(order_id))[-1] is CrmOrderStatus.CLOSED


async def test_shipment_detected_by_polling_without_a_signal(o2c: O2C) -> None:
    order_id = await o2c.order([("P1", 3, 100)])
    handle = await o2c.start(order_id)
    await o2c.wait_for(handle, OrderStatus.AWAITING_SHIPMENT)
    await o2c.ship(handle, signal=False)

    await o2c.env.sleep(timedelta(hours=3))
    assert (await o2c.state(handle)).status is OrderStatus.AWAITING_SHIPMENT  # not polled yet
    await o2c.env.sleep(timedelta(hours=3, minutes=5))  # past shipment_poll_every (6 hours)

    state = await o2c.wait_for(handle, OrderStatus.AWAITING_PAYMENT, steps=10)
    assert state.invoice_number is not None and state.shipped_at is not None
    assert not [e for e in state.events if e.kind == "shipment-notice"]
    assert (await o2c.crm_statuses(order_id))[-2:] == [
        CrmOrderStatus.SHIPPED,
        CrmOrderStatus.INVOICED,
    ]
    assert (await o2c.erp.count_documents(f"order-{order_id}/"))["invoices"] == 1
