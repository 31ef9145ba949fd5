"""Table-driven tests of ``domain.rules.validate_order`` and of currency codes; amounts, credit and
allocation are in ``test_rules_amounts.py``."""

from __future__ import annotations

import pytest

from domain.models import CrmOrder, ErpProduct
from domain.money import is_currency_code
from domain.rules import (
    validate_order,
)
from tests.unit.rules_world import CATALOGUE, D, make_line, make_order, product

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


@pytest.mark.parametrize("code", ["ÄÖÜ", "ΑΒΓ", "eur", "EU", "EURO"])
def test_non_iso_currency_codes_are_refused(code: str) -> None:
    assert not is_currency_code(code)
