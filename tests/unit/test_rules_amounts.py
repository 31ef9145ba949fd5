"""Table-driven tests of the pure rules on amounts (``domain.money``, line nets, order totals),
credit and stock allocation, and of the rules together."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from adapters.sandbox.directory import load_yaml
from domain.approvals import ApprovalFacts, parse_policy, plan_levels
from domain.models import CreditStatus, CrmOrder, ReservationLine
from domain.money import round_money
from domain.rules import (
    CreditCheck,
    OrderTotals,
    allocate,
    check_credit,
    line_net,
    order_totals,
    validate_order,
)
from infra.settings import ROOT
from tests.unit.rules_world import CATALOGUE, D, make_line, make_order

# --- money, line_net, order_totals -----------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "rounded"),
    [
        ("0.005", "0.01"),  # half up, not banker's rounding (which gives 0.00)
        ("0.015", "0.02"),
        ("0.025", "0.03"),  # banker's would give 0.02
        ("0.0049999", "0.00"),
        ("2.675", "2.68"),
        ("-0.005", "-0.01"),  # half away from zero for negatives
        ("10", "10.00"),
        ("1234567.894", "1234567.89"),
    ],
)
def test_round_money_is_half_up_to_cents(amount: str, rounded: str) -> None:
    result = round_money(D(amount))
    assert result == D(rounded)
    assert result.as_tuple().exponent == -2


@pytest.mark.parametrize(
    ("quantity", "unit_price", "discount", "net"),
    [
        ("2", "10.00", "0", "20.00"),
        ("3", "0.335", "0", "1.01"),  # 1.005 -> 1.01 (half up)
        ("1", "10.00", "12.5", "8.75"),
        ("1", "0.99", "50", "0.50"),  # 0.495 -> 0.50
        ("3", "3.33", "10", "8.99"),  # 8.991 -> 8.99
        ("1", "19.99", "100", "0.00"),
        ("0.5", "7.01", "0", "3.51"),  # 3.505 -> 3.51
        ("1", "0.00", "0", "0.00"),
    ],
)
def test_line_net(quantity: str, unit_price: str, discount: str, net: str) -> None:
    line = make_line(quantity=D(quantity), unit_price=D(unit_price), discount_pct=D(discount))
    result = line_net(line)
    assert result == D(net)
    assert result.as_tuple().exponent == -2


def test_order_totals_round_each_line_then_sum() -> None:
    # Each line is 1 x 0.005 = 0.005 -> 0.01 once rounded; three lines give 0.03,
    # whereas summing first (0.015) and rounding once would give 0.02.
    lines = [make_line(line_no=n, quantity=D("1"), unit_price=D("0.005")) for n in (1, 2, 3)]
    totals = order_totals(make_order(lines))
    assert totals.net == D("0.03")
    assert totals.tax == D("0.00")
    assert totals.total == D("0.03")


@pytest.mark.parametrize(
    ("lines", "tax_pct", "net", "tax", "total", "max_discount"),
    [
        pytest.param([("2", "10.00", "0")], "0", "20.00", "0.00", "20.00", "0", id="no-tax"),
        pytest.param(
            [("2", "10.00", "0"), ("1", "5.55", "10")],
            "20",
            "25.00",  # 20.00 + 4.995 -> 5.00
            "5.00",
            "30.00",
            "10",
            id="two-lines-with-tax",
        ),
        pytest.param(
            [("1", "0.05", "0")],
            "10",
            "0.05",
            "0.01",  # 0.005 -> 0.01 (half up)
            "0.06",
            "0",
            id="tax-rounds-half-up",
        ),
        pytest.param(
            [("1", "33.33", "0"), ("1", "33.33", "25")],
            "19",
            "58.33",  # 33.33 + 24.9975 -> 25.00
            "11.08",  # 11.0827 -> 11.08
            "69.41",
            "25",
            id="tax-rounds-down",
        ),
        pytest.param([], "20", "0", "0.00", "0.00", "0", id="no-lines"),
    ],
)
def test_order_totals(
    lines: list[tuple[str, str, str]],
    tax_pct: str,
    net: str,
    tax: str,
    total: str,
    max_discount: str,
) -> None:
    order = make_order(
        [
            make_line(line_no=n, quantity=D(q), unit_price=D(p), discount_pct=D(d))
            for n, (q, p, d) in enumerate(lines, start=1)
        ],
        tax_pct=D(tax_pct),
        currency="USD",
    )
    totals = order_totals(order)
    assert totals == OrderTotals(
        currency="USD",
        net=D(net),
        tax=D(tax),
        total=D(total),
        max_discount_pct=D(max_discount),
    )
    assert totals.total == totals.net + totals.tax


# --- check_credit ----------------------------------------------------------------------------


def credit(limit: str, receivables: str, *, blocked: bool = False) -> CreditStatus:
    return CreditStatus(
        customer_id="C-000001",
        currency="EUR",
        credit_limit=D(limit),
        open_receivables=D(receivables),
        blocked=blocked,
    )


@pytest.mark.parametrize(
    ("order_total", "status", "within", "blocked", "exposure", "exceeded_by"),
    [
        pytest.param("100", credit("1000", "200"), True, False, "300", "0", id="within"),
        pytest.param("800", credit("1000", "200"), True, False, "1000", "0", id="exactly-at"),
        pytest.param(
            "800.01", credit("1000", "200"), False, False, "1000.01", "0.01", id="one-cent-over"
        ),
        pytest.param("900", credit("1000", "200"), False, False, "1100", "100", id="over"),
        pytest.param("1", credit("0", "0"), False, False, "1", "1", id="zero-limit-new-customer"),
        pytest.param(
            "100", credit("1000", "0", blocked=True), False, True, "100", "0", id="blocked"
        ),
        pytest.param(
            "2000",
            credit("1000", "0", blocked=True),
            False,
            True,
            "2000",
            "1000",
            id="blocked-and-over",
        ),
        pytest.param("100", credit("1000", "-500"), True, False, "-400", "0", id="credit-balance"),
    ],
)
def test_check_credit(
    order_total: str,
    status: CreditStatus,
    within: bool,
    blocked: bool,
    exposure: str,
    exceeded_by: str,
) -> None:
    result = check_credit(D(order_total), status)
    assert result == CreditCheck(
        within_limit=within,
        blocked=blocked,
        exposure=D(exposure),
        credit_limit=status.credit_limit,
        exceeded_by=D(exceeded_by),
    )


# --- allocate --------------------------------------------------------------------------------

STOCK = [("WH-A", D("5")), ("WH-B", D("10")), ("WH-C", D("3"))]


def lines_of(result: list[ReservationLine] | None) -> list[tuple[str, Decimal]] | None:
    return None if result is None else [(line.warehouse, line.quantity) for line in result]


@pytest.mark.parametrize(
    ("quantity", "available", "preferred", "expected"),
    [
        pytest.param("4", STOCK, [], [("WH-A", D("4"))], id="erp-order-when-no-preference"),
        pytest.param("4", STOCK, ["WH-B"], [("WH-B", D("4"))], id="preferred-first"),
        pytest.param(
            "12",
            STOCK,
            ["WH-B"],
            [("WH-B", D("10")), ("WH-A", D("2"))],
            id="spill-from-preferred-to-others-in-erp-order",
        ),
        pytest.param(
            "14",
            STOCK,
            ["WH-C", "WH-B"],
            [("WH-C", D("3")), ("WH-B", D("10")), ("WH-A", D("1"))],
            id="several-preferred-in-their-order",
        ),
        pytest.param(
            "18",
            STOCK,
            [],
            [("WH-A", D("5")), ("WH-B", D("10")), ("WH-C", D("3"))],
            id="exact-fit-of-everything",
        ),
        pytest.param("5", STOCK, [], [("WH-A", D("5"))], id="exact-fit-of-one-warehouse"),
        pytest.param("18.001", STOCK, [], None, id="short-by-a-fraction"),
        pytest.param("100", STOCK, ["WH-A"], None, id="short"),
        pytest.param("1", [], [], None, id="no-warehouses"),
        pytest.param(
            "6",
            STOCK,
            ["WH-X", "WH-C"],
            [("WH-C", D("3")), ("WH-A", D("3"))],
            id="unknown-preferred-ignored",
        ),
        pytest.param(
            "6",
            [("WH-A", D("0")), ("WH-B", D("2")), ("WH-C", D("0")), ("WH-D", D("9"))],
            ["WH-C"],
            [("WH-B", D("2")), ("WH-D", D("4"))],
            id="zero-available-skipped",
        ),
        pytest.param(
            "3",
            [("WH-A", D("-2")), ("WH-B", D("5"))],
            [],
            [("WH-B", D("3"))],
            id="negative-available-skipped",
        ),
        pytest.param(
            "2.5",
            [("WH-A", D("1.25")), ("WH-B", D("1.25"))],
            [],
            [("WH-A", D("1.25")), ("WH-B", D("1.25"))],
            id="fractional-quantities",
        ),
    ],
)
def test_allocate(
    quantity: str,
    available: list[tuple[str, Decimal]],
    preferred: list[str],
    expected: list[tuple[str, Decimal]] | None,
) -> None:
    result = allocate(D(quantity), available, preferred)
    assert lines_of(result) == expected
    if result is not None:
        assert sum((line.quantity for line in result), D(0)) == D(quantity)
        by_name = dict(available)
        for line in result:
            assert D(0) < line.quantity <= by_name[line.warehouse]


def test_allocate_accepts_any_iterable_of_preferred() -> None:
    result = allocate(D("2"), STOCK, iter(["WH-C"]))
    assert lines_of(result) == [("WH-C", D("2"))]


# The shipped policy (config/approval-policy.yaml): an order over 10,000 EUR needs a manager.
POLICY = parse_policy(load_yaml(ROOT / "config" / "approval-policy.yaml"))


def test_allocate_draws_from_a_warehouse_named_twice_only_once() -> None:
    lines = allocate(Decimal(10), [("A", Decimal(6)), ("B", Decimal(10))], ["A", "A"])
    assert lines is not None
    assert [(ln.warehouse, ln.quantity) for ln in lines] == [("A", Decimal(6)), ("B", Decimal(4))]


# --- end to end over the pure rules -----------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "needs_approval"),
    [
        (lambda: make_order([make_line(quantity=D("1"), unit_price=D("99"))]), False),
        (lambda: make_order([make_line(quantity=D("1000"), unit_price=D("20"))]), True),
    ],
)
def test_rules_compose(build: Callable[[], CrmOrder], needs_approval: bool) -> None:
    order = build()
    assert validate_order(order, CATALOGUE) == []
    order_sum = order_totals(order)
    check = check_credit(order_sum.total, credit("1000000", "0"))
    facts = ApprovalFacts(
        kind="order",
        amount=order_sum.total,
        currency=order_sum.currency,
        max_discount_pct=order_sum.max_discount_pct,
        credit_exceeded=not check.within_limit,
    )
    assert bool(plan_levels(POLICY, facts).levels) is needs_approval
