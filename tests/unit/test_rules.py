"""Table-driven tests of the pure business rules in ``domain.rules`` and ``domain.money``."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from adapters.sandbox.directory import load_yaml
from domain.approvals import ApprovalFacts, parse_policy, plan_levels
from domain.models import CreditStatus, CrmOrder, CrmOrderLine, ErpProduct, ReservationLine
from domain.money import is_currency_code, round_money
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

D = Decimal


def make_line(**overrides: Any) -> CrmOrderLine:
    fields: dict[str, Any] = {
        "line_no": 1,
        "sku": "SKU-1",
        "quantity": D("2"),
        "unit_price": D("10.00"),
        "currency": "EUR",
    }
    fields.update(overrides)
    return CrmOrderLine(**fields)


def make_order(lines: list[CrmOrderLine] | None = None, **overrides: Any) -> CrmOrder:
    fields: dict[str, Any] = {
        "order_id": "O-1",
        "account_id": "A-1",
        "owner": "u-rep",
        "currency": "EUR",
        "lines": [make_line()] if lines is None else lines,
    }
    fields.update(overrides)
    return CrmOrder(**fields)


def product(sku: str, *, active: bool = True) -> ErpProduct:
    return ErpProduct(sku=sku, name=sku, list_price=D("10"), currency="EUR", active=active)


CATALOGUE = {sku: product(sku) for sku in ("SKU-1", "SKU-2")}


# --- validate_order --------------------------------------------------------------------------


def test_valid_order_has_no_problems() -> None:
    order = make_order(
        [make_line(), make_line(line_no=2, sku="SKU-2", discount_pct=D("100"))],
        tax_pct=D("100"),
        payment_terms_days=0,
    )
    assert validate_order(order, CATALOGUE) == []


def test_zero_price_zero_discount_zero_tax_are_valid() -> None:
    order = make_order([make_line(unit_price=D("0"), discount_pct=D("0"))], tax_pct=D("0"))
    assert validate_order(order, CATALOGUE) == []


@pytest.mark.parametrize(
    ("order", "products", "expected"),
    [
        pytest.param(
            make_order(account_id=None),
            CATALOGUE,
            "account_id: the order has no customer account",
            id="missing-account",
        ),
        pytest.param(
            make_order(account_id=""),
            CATALOGUE,
            "account_id: the order has no customer account",
            id="empty-account",
        ),
        pytest.param(
            make_order([make_line(currency="eur")], currency="eur"),
            CATALOGUE,
            "currency: 'eur' is not a three-letter currency code",
            id="lower-case-currency",
        ),
        pytest.param(
            make_order([make_line(currency="EURO")], currency="EURO"),
            CATALOGUE,
            "currency: 'EURO' is not a three-letter currency code",
            id="four-letter-currency",
        ),
        pytest.param(
            make_order([make_line(currency="E1R")], currency="E1R"),
            CATALOGUE,
            "currency: 'E1R' is not a three-letter currency code",
            id="digit-in-currency",
        ),
        pytest.param(make_order([]), CATALOGUE, "lines: the order has no lines", id="no-lines"),
        pytest.param(
            make_order([make_line(quantity=D("0"))]),
            CATALOGUE,
            "lines[1].quantity: must be positive, got 0",
            id="zero-quantity",
        ),
        pytest.param(
            make_order([make_line(quantity=D("-3"))]),
            CATALOGUE,
            "lines[1].quantity: must be positive, got -3",
            id="negative-quantity",
        ),
        pytest.param(
            make_order([make_line(unit_price=D("-0.01"))]),
            CATALOGUE,
            "lines[1].unit_price: must not be negative, got -0.01",
            id="negative-price",
        ),
        pytest.param(
            make_order([make_line(discount_pct=D("-1"))]),
            CATALOGUE,
            "lines[1].discount_pct: -1 is outside 0..100",
            id="negative-discount",
        ),
        pytest.param(
            make_order([make_line(discount_pct=D("100.01"))]),
            CATALOGUE,
            "lines[1].discount_pct: 100.01 is outside 0..100",
            id="discount-over-100",
        ),
        pytest.param(
            make_order([make_line(), make_line(line_no=2, sku="SKU-2", currency="USD")]),
            CATALOGUE,
            "lines[2].currency: USD differs from the order's EUR (mixed currencies)",
            id="mixed-currencies",
        ),
        pytest.param(
            make_order([make_line(sku="NOPE")]),
            CATALOGUE,
            "lines[1].sku: unknown product 'NOPE'",
            id="unknown-product",
        ),
        pytest.param(
            make_order([make_line()]),
            {"SKU-1": product("SKU-1", active=False)},
            "lines[1].sku: product 'SKU-1' is no longer sold",
            id="inactive-product",
        ),
        pytest.param(
            make_order([make_line(line_no=7), make_line(line_no=7, sku="SKU-2")]),
            CATALOGUE,
            "lines[7].line_no: duplicate line number",
            id="duplicate-line-number",
        ),
        pytest.param(
            make_order(tax_pct=D("-1")),
            CATALOGUE,
            "tax_pct: -1 is outside 0..100",
            id="negative-tax",
        ),
        pytest.param(
            make_order(tax_pct=D("101")),
            CATALOGUE,
            "tax_pct: 101 is outside 0..100",
            id="tax-over-100",
        ),
        pytest.param(
            make_order(payment_terms_days=-1),
            CATALOGUE,
            "payment_terms_days: -1 is negative",
            id="negative-payment-terms",
        ),
    ],
)
def test_each_problem_is_reported_alone(
    order: CrmOrder, products: dict[str, ErpProduct], expected: str
) -> None:
    assert validate_order(order, products) == [expected]


def test_every_problem_is_reported_not_only_the_first() -> None:
    order = make_order(
        [
            make_line(quantity=D("0"), unit_price=D("-1"), sku="NOPE"),
            make_line(line_no=1, currency="USD"),
        ],
        account_id=None,
    )
    problems = validate_order(order, CATALOGUE)
    assert problems == [
        "account_id: the order has no customer account",
        "lines[1].quantity: must be positive, got 0",
        "lines[1].unit_price: must not be negative, got -1",
        "lines[1].sku: unknown product 'NOPE'",
        "lines[1].line_no: duplicate line number",
        "lines[1].currency: USD differs from the order's EUR (mixed currencies)",
    ]


def test_validate_order_does_not_mutate_inputs() -> None:
    order = make_order()
    before = order.model_dump()
    products = dict(CATALOGUE)
    validate_order(order, products)
    assert order.model_dump() == before
    assert products == CATALOGUE


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        ("EUR", True),
        ("USD", True),
        ("eur", False),
        ("Eur", False),
        ("EU", False),
        ("EURO", False),
        ("", False),
        ("E R", False),
        ("12A", False),
    ],
)
def test_is_currency_code(code: str, valid: bool) -> None:
    assert is_currency_code(code) is valid


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


def test_allocate_draws_from_a_warehouse_named_twice_only_once() -> None:
    lines = allocate(Decimal(10), [("A", Decimal(6)), ("B", Decimal(10))], ["A", "A"])
    assert lines is not None
    assert [(ln.warehouse, ln.quantity) for ln in lines] == [("A", Decimal(6)), ("B", Decimal(4))]


@pytest.mark.parametrize("code", ["ÄÖÜ", "ΑΒΓ", "eur", "EU", "EURO"])
def test_non_iso_currency_codes_are_refused(code: str) -> None:
    assert not is_currency_code(code)
