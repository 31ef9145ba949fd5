"""Pure business rules of order-to-cash: validation, totals, credit, allocation, approval."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

from pydantic import BaseModel

from domain.models import (
    CreditStatus,
    CrmOrder,
    CrmOrderLine,
    ErpProduct,
    ReservationLine,
    SalesOrderLine,
)
from domain.money import HUNDRED, ZERO, is_currency_code, round_money


class OrderTotals(BaseModel):
    """Net, tax and gross of an order, rounded per line then summed as invoices do."""

    currency: str
    net: Decimal
    tax: Decimal
    total: Decimal
    max_discount_pct: Decimal


def line_net(line: CrmOrderLine) -> Decimal:
    """Net value of a line after its discount, rounded to cents."""
    gross = line.quantity * line.unit_price
    return round_money(gross * (HUNDRED - line.discount_pct) / HUNDRED)


def order_totals(order: CrmOrder) -> OrderTotals:
    """Totals of a (valid) order."""
    net = sum((line_net(line) for line in order.lines), ZERO)
    tax = round_money(net * order.tax_pct / HUNDRED)
    max_discount = max((line.discount_pct for line in order.lines), default=ZERO)
    return OrderTotals(
        currency=order.currency, net=net, tax=tax, total=net + tax, max_discount_pct=max_discount
    )


def line_problems(
    where: str, quantity: Decimal, unit_price: Decimal, discount_pct: Decimal
) -> list[str]:
    """What is wrong with one order line's numbers, each problem naming its field."""
    problems: list[str] = []
    if quantity <= ZERO:
        problems.append(f"{where}.quantity: must be positive, got {quantity}")
    if unit_price < ZERO:
        problems.append(f"{where}.unit_price: must not be negative, got {unit_price}")
    if not ZERO <= discount_pct <= HUNDRED:
        problems.append(f"{where}.discount_pct: {discount_pct} is outside 0..100")
    return problems


def sales_order_problems(lines: Sequence[SalesOrderLine]) -> list[str]:
    """What keeps these lines from making an ERP sales order."""
    problems = [] if lines else ["lines: a sales order needs at least one line"]
    for line in lines:
        where = f"lines[{line.line_no}]"
        problems += line_problems(where, line.quantity, line.unit_price, line.discount_pct)
    return problems


def validate_order(order: CrmOrder, products: Mapping[str, ErpProduct]) -> list[str]:
    """Every reason why ``order`` cannot be processed; empty when it can.

    Args:
        order: The order as read from the CRM.
        products: The ERP products named by the order's lines, by SKU; an SKU missing here is
            unknown to the ERP.
    """
    problems: list[str] = []
    if not (order.account_id or "").strip():
        problems.append("account_id: the order has no customer account")
    if not is_currency_code(order.currency):
        problems.append(f"currency: {order.currency!r} is not a three-letter currency code")
    if not order.lines:
        problems.append("lines: the order has no lines")
    if not ZERO <= order.tax_pct <= HUNDRED:
        problems.append(f"tax_pct: {order.tax_pct} is outside 0..100")
    if order.payment_terms_days < 0:
        problems.append(f"payment_terms_days: {order.payment_terms_days} is negative")
    seen: set[int] = set()
    for line in order.lines:
        where = f"lines[{line.line_no}]"
        if line.line_no in seen:
            problems.append(f"{where}.line_no: duplicate line number")
        seen.add(line.line_no)
        problems += line_problems(where, line.quantity, line.unit_price, line.discount_pct)
        if line.currency != order.currency:
            problems.append(
                f"{where}.currency: {line.currency} differs from the order's {order.currency} "
                "(mixed currencies)"
            )
        product = products.get(line.sku)
        if product is None:
            problems.append(f"{where}.sku: unknown product {line.sku!r}")
        elif not product.active:
            problems.append(f"{where}.sku: product {line.sku!r} is no longer sold")
    return problems


class CreditCheck(BaseModel):
    """Outcome of checking an order against the customer's credit limit."""

    within_limit: bool
    blocked: bool
    exposure: Decimal
    credit_limit: Decimal
    exceeded_by: Decimal


def check_credit(order_total: Decimal, credit: CreditStatus) -> CreditCheck:
    """Order total plus open receivables against the credit limit."""
    exposure = credit.open_receivables + order_total
    exceeded_by = max(exposure - credit.credit_limit, ZERO)
    return CreditCheck(
        within_limit=exceeded_by == ZERO and not credit.blocked,
        blocked=credit.blocked,
        exposure=exposure,
        credit_limit=credit.credit_limit,
        exceeded_by=exceeded_by,
    )


def allocate(
    quantity: Decimal,
    available: Sequence[tuple[str, Decimal]],
    preferred: Iterable[str] = (),
) -> list[ReservationLine] | None:
    """Split ``quantity`` over warehouses: preferred ones first, then the rest in given order.

    Args:
        quantity: What to reserve (positive).
        available: ``(warehouse, available quantity)`` in the ERP's own order.
        preferred: Warehouses to draw from first, in order.

    Returns:
        The reservation lines, or None when all warehouses together hold too little.
    """
    by_name = dict(available)
    order: list[str] = []
    for w in preferred:  # a warehouse named twice must not be drawn from twice
        if w in by_name and w not in order:
            order.append(w)
    order += [w for w, _ in available if w not in order]
    lines: list[ReservationLine] = []
    remaining = quantity
    for warehouse in order:
        if remaining <= ZERO:
            break
        take = min(by_name[warehouse], remaining)
        if take > ZERO:
            lines.append(ReservationLine(warehouse=warehouse, quantity=take))
            remaining -= take
    return lines if remaining <= ZERO else None


class ApprovalRules(BaseModel):
    """What order-to-cash decides itself about approval; the levels come from the approval policy
    (``domain.approvals``). The two thresholds are no longer read: they stay so that recorded
    workflow inputs still decode."""

    total_threshold: Decimal = Decimal("10000")
    discount_limit_pct: Decimal = Decimal("15")
    approve_credit_excess: bool = True
