"""Table-driven tests of the pure return rules in ``domain.return_rules``."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain.models import CrmOrder, CrmOrderLine, SalesOrderStatus
from domain.return_rules import (
    InspectionLine,
    InspectionResult,
    ReturnPolicy,
    accepted_quantities,
    credit_amounts,
    eligibility_problems,
    inspection_problems,
    invoiced_line_net,
    requested_credit,
    restock_lines,
    return_reference,
    return_window_end,
    scrap_lines,
)
from domain.returns import (
    CreditAmounts,
    CrmCase,
    CrmCaseLine,
    RestockLine,
    ReturnableLine,
    ReturnableOrder,
    ReturnAuthorization,
    ReturnAuthorizationLine,
    ReturnAuthorizationStatus,
    ScrapLine,
)
from domain.rules import line_net, order_totals

D = Decimal
DELIVERED = date(2025, 3, 10)
LINE_2: dict[str, Any] = {"unit_price": D("5.00"), "discount_pct": D(0), "quantity": D(2)}


def returnable_line(line_no: int = 1, **overrides: Any) -> ReturnableLine:
    fields: dict[str, Any] = {
        "line_no": line_no,
        "sku": f"SKU-{line_no}",
        "category": "automation",
        "quantity": D("3"),
        "unit_price": D("19.99"),
        "discount_pct": D("10"),
    }
    fields.update(overrides)
    return ReturnableLine(**fields)


def returnable(*lines: ReturnableLine, **overrides: Any) -> ReturnableOrder:
    fields: dict[str, Any] = {
        "sales_order_number": "SO-000001",
        "customer_id": "C-000001",
        "currency": "EUR",
        "status": SalesOrderStatus.INVOICED,
        "tax_pct": D("9"),
        "delivered_on": DELIVERED,
        "invoice_number": "INV-000001",
        "lines": list(lines) or [returnable_line(1), returnable_line(2, **LINE_2)],
    }
    fields.update(overrides)
    return ReturnableOrder(**fields)


def case(*lines: tuple[int, str, str], requested_on: date = DELIVERED) -> CrmCase:
    return CrmCase(
        case_id="CASE-1",
        order_id="ORD-1",
        owner="ali.rezaei",
        requested_on=requested_on,
        lines=[CrmCaseLine(line_no=n, sku=sku, quantity=D(q)) for n, sku, q in lines],
    )


# --- policy and references -------------------------------------------------------------------


def test_policy_defaults_and_windows_per_category() -> None:
    policy = ReturnPolicy(window_days_by_category={"computing": 14, "cabling": 60})

    assert (policy.window_days, policy.receipt_deadline_days) == (30, 14)
    assert policy.receipt_deadline == timedelta(days=14)
    assert [policy.window_for(c) for c in ("computing", "cabling", "drives", None)] == [
        14,
        60,
        30,
        30,
    ]
    order = returnable(
        returnable_line(1, category="computing"), returnable_line(2, category="cabling")
    )
    assert return_window_end(order, policy) == DELIVERED + timedelta(days=60)
    assert return_window_end(returnable(delivered_on=None), policy) is None


@pytest.mark.parametrize(
    ("total", "needs"), [("999.99", False), ("1000", False), ("1000.01", True)]
)
def test_auto_approval_up_to_the_threshold(total: str, needs: bool) -> None:
    credit = CreditAmounts(currency="EUR", total=D(total))
    assert ReturnPolicy().needs_approval(credit) is needs


def test_return_reference_is_the_business_key_and_the_step() -> None:
    assert return_reference("CASE-7", "rma") == "return-CASE-7/rma"
    assert return_reference("CASE-7", "restock").startswith("return-CASE-7/")


# --- eligibility -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("the_case", "order", "expected"),
    [
        pytest.param(case((1, "SKU-1", "3"), (2, "SKU-2", "1")), returnable(), [], id="eligible"),
        pytest.param(
            case((1, "SKU-1", "1"), requested_on=DELIVERED + timedelta(days=30)),
            returnable(),
            [],
            id="last-day-of-window",
        ),
        pytest.param(
            case((1, "SKU-1", "1"), requested_on=DELIVERED + timedelta(days=31)),
            returnable(),
            ["lines[1]: the return window of 30 days (category 'automation') after delivery"],
            id="window-ended",
        ),
        pytest.param(
            case((1, "SKU-1", "1"), requested_on=DELIVERED + timedelta(days=31)),
            returnable(returnable_line(1, category="cabling")),
            [],
            id="category-window-longer",
        ),
        pytest.param(
            case((1, "SKU-1", "2")),
            returnable(returnable_line(1, returned=D(1), authorized=D(1))),
            ["lines[1].quantity: 2 SKU-1 asked back, but only 1 can be"],
            id="earlier-returns-count",
        ),
        pytest.param(
            case((1, "SKU-1", "4")),
            returnable(),
            ["lines[1].quantity: 4 SKU-1 asked back, but only 3 can be"],
            id="more-than-shipped",
        ),
        pytest.param(
            case((1, "SKU-1", "1")),
            returnable(status=SalesOrderStatus.OPEN, delivered_on=None, invoice_number=None),
            [
                "order: sales order SO-000001 is open",
                "order: sales order SO-000001 is not invoiced",
            ],
            id="not-shipped",
        ),
        pytest.param(
            case((1, "SKU-1", "1")),
            returnable(status=SalesOrderStatus.SHIPPED, invoice_number=None),
            ["order: sales order SO-000001 is not invoiced"],
            id="not-invoiced",
        ),
        pytest.param(
            case((9, "SKU-9", "1"), (1, "SKU-2", "1"), (2, "SKU-2", "0"), (2, "SKU-2", "1")),
            returnable(),
            [
                "lines[9]: the order has no line 9",
                "lines[1].sku: the order line is SKU-1, not SKU-2",
                "lines[2].quantity: must be positive",
                "lines[2]: the order line is named twice",
            ],
            id="bad-lines",
        ),
        pytest.param(case(), returnable(), ["lines: the case names nothing"], id="empty"),
    ],
)
def test_eligibility(the_case: CrmCase, order: ReturnableOrder, expected: list[str]) -> None:
    problems = eligibility_problems(
        the_case, order, ReturnPolicy(window_days_by_category={"cabling": 60})
    )

    assert len(problems) == len(expected), problems
    for problem, start in zip(problems, expected, strict=True):
        assert problem.startswith(start), (problem, start)


# --- inspection ------------------------------------------------------------------------------


def rma(*received: tuple[int, str]) -> ReturnAuthorization:
    return ReturnAuthorization(
        number="RMA-000001",
        reference="return-CASE-1/rma",
        sales_order_number="SO-000001",
        customer_id="C-000001",
        currency="EUR",
        status=ReturnAuthorizationStatus.RECEIVED,
        lines=[
            ReturnAuthorizationLine(line_no=n, sku=f"SKU-{n}", quantity=D(3), received=D(q))
            for n, q in received
        ],
        authorized_on=DELIVERED,
    )


def inspected(line_no: int, restock: str = "0", scrap: str = "0", **extra: Any) -> InspectionLine:
    fields: dict[str, Any] = {
        "line_no": line_no,
        "restock_quantity": D(restock),
        "scrap_quantity": D(scrap),
    }
    if D(restock) > 0:
        fields["warehouse"] = "THR"
    if D(scrap) > 0:
        fields["scrap_reason"] = "housing cracked"
    fields.update(extra)
    return InspectionLine(**fields)


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        pytest.param([inspected(1, "2", "1"), inspected(2, "1")], [], id="adds-up"),
        pytest.param([inspected(1, "3"), inspected(2, scrap="1")], [], id="all-or-nothing"),
        pytest.param(
            [inspected(1, "1", "1"), inspected(2, "1")],
            ["lines[1]: restock 1 + scrap 1 = 2, but 3 were received"],
            id="too-few",
        ),
        pytest.param(
            [inspected(1, "3", "1"), inspected(2, "1")],
            ["lines[1]: restock 3 + scrap 1 = 4, but 3 were received"],
            id="too-many",
        ),
        pytest.param(
            [inspected(1, "3")],
            ["lines[2]: 1 received but not inspected"],
            id="line-missing",
        ),
        pytest.param(
            [inspected(1, "3"), inspected(2, "1"), inspected(7, "1")],
            ["lines[7]: RMA RMA-000001 has no line 7"],
            id="unknown-line",
        ),
        pytest.param(
            [inspected(1, "3"), inspected(2, "1"), inspected(2, "1")],
            ["lines[2]: inspected twice"],
            id="twice",
        ),
        pytest.param(
            [inspected(1, "2", "1", scrap_reason=" "), inspected(2, "1", warehouse=None)],
            ["lines[1].scrap_reason: scrapped goods need a reason", "lines[2].warehouse"],
            id="reason-and-warehouse",
        ),
        pytest.param(
            [inspected(1, "4", "-1"), inspected(2, "1")],
            ["lines[1].scrap_quantity: must not be negative"],
            id="negative",
        ),
    ],
)
def test_inspection(lines: list[InspectionLine], expected: list[str]) -> None:
    problems = inspection_problems(InspectionResult(lines=lines), rma((1, "3"), (2, "1"), (3, "0")))

    assert len(problems) == len(expected), problems
    for problem, start in zip(problems, expected, strict=True):
        assert problem.startswith(start), (problem, start)


def test_a_valid_inspection_becomes_restock_scrap_and_credit_lines() -> None:
    inspection = InspectionResult(
        lines=[inspected(1, "2", "1"), inspected(2, scrap="1"), inspected(3)]
    )

    assert restock_lines(inspection) == [RestockLine(line_no=1, warehouse="THR", quantity=D(2))]
    assert scrap_lines(inspection) == [
        ScrapLine(line_no=1, quantity=D(1), reason="housing cracked"),
        ScrapLine(line_no=2, quantity=D(1), reason="housing cracked"),
    ]
    credited = accepted_quantities(inspection, ReturnPolicy())
    assert [(q.line_no, q.quantity) for q in credited] == [(1, D(3)), (2, D(1))]
    restocked_only = accepted_quantities(inspection, ReturnPolicy(credit_scrapped=False))
    assert [(q.line_no, q.quantity) for q in restocked_only] == [(1, D(2))]


# --- credit value ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "price", "discount"),
    [("3", "19.99", "10"), ("7", "0.33", "12.5"), ("2.5", "1000.00", "0"), ("1", "0.01", "50")],
)
def test_invoiced_line_net_is_the_order_line_net(quantity: str, price: str, discount: str) -> None:
    line = returnable_line(quantity=D(quantity), unit_price=D(price), discount_pct=D(discount))
    crm_line = CrmOrderLine(
        line_no=1,
        sku="SKU-1",
        quantity=D(quantity),
        unit_price=D(price),
        currency="EUR",
        discount_pct=D(discount),
    )
    assert invoiced_line_net(line) == line_net(crm_line)


@pytest.mark.parametrize(
    ("credited_before", "now", "net", "tax"),
    [
        pytest.param({}, {1: "1", 2: "2"}, "27.99", "2.52", id="first-return"),
        pytest.param({1: "1", 2: "2"}, {1: "2"}, "35.98", "3.24", id="rest-of-line-1"),
        pytest.param({}, {1: "3", 2: "2"}, "63.97", "5.76", id="everything-at-once"),
        pytest.param({}, {1: "0.5"}, "9.00", "0.81", id="fraction"),
    ],
)
def test_credit_amounts_are_pro_rata_and_cumulative(
    credited_before: dict[int, str], now: dict[int, str], net: str, tax: str
) -> None:
    order = returnable(
        returnable_line(1, credited=D(credited_before.get(1, "0"))),
        returnable_line(2, **LINE_2, credited=D(credited_before.get(2, "0"))),
    )

    amounts = credit_amounts(order, {k: D(v) for k, v in now.items()})

    assert (amounts.net, amounts.tax, amounts.total) == (D(net), D(tax), D(net) + D(tax))
    assert sum((line.net for line in amounts.lines), D(0)) == amounts.net
    assert [line.line_no for line in amounts.lines] == sorted(now)


def test_returning_everything_in_parts_credits_exactly_the_invoice() -> None:
    """Rounding of the parts never leaves a cent over or under the invoice."""
    crm_lines = [
        CrmOrderLine(
            line_no=1,
            sku="A",
            quantity=D(7),
            unit_price=D("0.33"),
            currency="EUR",
            discount_pct=D("12.5"),
        ),
        CrmOrderLine(line_no=2, sku="B", quantity=D(3), unit_price=D("10.01"), currency="EUR"),
    ]
    invoice = order_totals(
        CrmOrder(
            order_id="O",
            account_id="A",
            owner="o",
            currency="EUR",
            lines=crm_lines,
            tax_pct=D("19"),
        )
    )
    lines = [
        returnable_line(
            x.line_no,
            sku=x.sku,
            quantity=x.quantity,
            unit_price=x.unit_price,
            discount_pct=x.discount_pct,
        )
        for x in crm_lines
    ]
    parts = [{1: D(1), 2: D(1)}, {1: D(2)}, {1: D(1), 2: D(1)}, {1: D(3), 2: D(1)}]
    credited = {1: D(0), 2: D(0)}
    totals = []
    for part in parts:
        order = returnable(
            *(line.model_copy(update={"credited": credited[line.line_no]}) for line in lines),
            tax_pct=D("19"),
        )
        amounts = credit_amounts(order, part)
        totals.append(amounts)
        for line_no, quantity in part.items():
            credited[line_no] += quantity

    assert sum((a.net for a in totals), D(0)) == invoice.net
    assert sum((a.tax for a in totals), D(0)) == invoice.tax
    assert sum((a.total for a in totals), D(0)) == invoice.total


def test_credit_of_an_unknown_line_is_refused() -> None:
    with pytest.raises(KeyError):
        credit_amounts(returnable(), {9: D(1)})


def test_requested_credit_values_what_the_case_asks_for() -> None:
    amounts = requested_credit(
        case((1, "SKU-1", "1"), (2, "SKU-2", "2"), (9, "X", "1")), returnable()
    )
    assert (amounts.net, amounts.tax, amounts.total) == (
        D("17.99") + D("10.00"),
        D("2.52"),
        D("30.51"),
    )
