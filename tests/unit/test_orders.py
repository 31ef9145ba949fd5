"""``OrderStatus`` properties and the defaults of ``OrderPolicy``."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.orders import OrderPolicy, OrderStatus, StockPolicy

S = OrderStatus

# (status, is_final, cancellable): every status appears exactly once.
STATUS_TABLE = [
    (S.RECEIVED, False, True),
    (S.VALIDATED, False, True),
    (S.CREDIT_CHECKED, False, True),
    (S.RESERVING, False, True),
    (S.AWAITING_STOCK, False, True),
    (S.AWAITING_APPROVAL, False, True),
    (S.AWAITING_SHIPMENT, False, True),
    (S.SHIPPED, False, False),
    (S.AWAITING_PAYMENT, False, False),
    (S.OVERDUE, False, False),
    (S.COMPENSATING, False, False),
    (S.COMPLETED, True, False),
    (S.REJECTED, True, False),
    (S.CANCELLED, True, False),
]


def test_the_table_covers_every_status() -> None:
    assert sorted(s for s, _, _ in STATUS_TABLE) == sorted(OrderStatus)


@pytest.mark.parametrize(("status", "final", "cancellable"), STATUS_TABLE)
def test_status_properties(status: OrderStatus, final: bool, cancellable: bool) -> None:
    assert status.is_final is final
    assert status.cancellable is cancellable


@pytest.mark.parametrize("status", list(OrderStatus))
def test_a_final_status_is_never_cancellable(status: OrderStatus) -> None:
    assert not (status.is_final and status.cancellable)


@pytest.mark.parametrize("status", list(OrderStatus))
def test_status_value_is_its_name(status: OrderStatus) -> None:
    # The value is the OrderStatus search attribute: it must stay stable.
    assert status.value == status.name
    assert OrderStatus(status.value) is status


def test_order_policy_defaults() -> None:
    policy = OrderPolicy()
    assert policy.stock_policy is StockPolicy.REFUSE
    assert policy.approval_timeout == timedelta(days=3)
    assert policy.dunning_max_reminders == 3
    # Round-trips through JSON, as it does in workflow history.
    assert OrderPolicy.model_validate_json(policy.model_dump_json()) == policy


def test_only_resting_statuses_reach_the_search_attribute() -> None:
    resting = {s for s in OrderStatus if s.is_resting}
    assert {OrderStatus.VALIDATED, OrderStatus.CREDIT_CHECKED, OrderStatus.RESERVING}.isdisjoint(
        resting
    )
    assert {OrderStatus.AWAITING_APPROVAL, OrderStatus.COMPLETED, OrderStatus.OVERDUE} <= resting


def test_the_statuses_an_order_awaits_something_in() -> None:
    awaiting = {s for s in OrderStatus if s.awaits_event}
    assert awaiting == {
        OrderStatus.AWAITING_STOCK,
        OrderStatus.AWAITING_APPROVAL,
        OrderStatus.AWAITING_SHIPMENT,
        OrderStatus.AWAITING_PAYMENT,
        OrderStatus.OVERDUE,
    }
    assert all(s.is_resting and not s.is_final for s in awaiting)
