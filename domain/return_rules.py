"""Pure business rules of return-to-restock: policy, eligibility, inspection and credit value."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, Field

from domain.models import Record, SalesOrderStatus
from domain.money import HUNDRED, ZERO, round_money
from domain.returns import (
    CreditAmounts,
    CreditNoteLine,
    CreditQuantity,
    CrmCase,
    RestockLine,
    ReturnableLine,
    ReturnableOrder,
    ReturnAuthorization,
    ScrapLine,
)


class ReturnStep(StrEnum):
    """The ERP writes of one return, each made once under its own reference."""

    RMA = "rma"
    RECEIPT = "receipt"
    RESTOCK = "restock"
    WRITE_OFF = "write-off"
    CREDIT_NOTE = "credit-note"
    REFUND = "refund"


def return_id(case_id: str) -> str:
    """The business key of a return, and its workflow id: ``return-<crm case id>``."""
    return f"return-{case_id}"


def return_reference(case_id: str, step: ReturnStep | str) -> str:
    """The external reference of one ERP write of a return: ``return-<case id>/<step>``.

    The prefix is the return's workflow id (its business key), so every document of one return
    can be found by it, and a retried step finds the document its first try created.
    """
    return f"{return_id(case_id)}/{step}"


class ReturnPolicy(BaseModel):
    """What the company allows for returns.

    Attributes:
        window_days: Days from delivery within which a return may be requested.
        window_days_by_category: A different window for some product categories.
        auto_approve_up_to: Returns whose credit value (gross) is at most this need no approver.
        receipt_deadline_days: Days from authorization for the goods to arrive.
        credit_scrapped: Whether goods scrapped at inspection are credited too (they arrived,
            and most scrap is a defect of the goods, not of the customer).
    """

    window_days: int = Field(default=30, ge=0)
    window_days_by_category: dict[str, int] = Field(default_factory=dict)
    auto_approve_up_to: Decimal = Decimal("1000")
    receipt_deadline_days: int = Field(default=14, ge=0)
    credit_scrapped: bool = True

    def window_for(self, category: str | None) -> int:
        """The return window, in days from delivery, of a product category."""
        if category is None:
            return self.window_days
        return self.window_days_by_category.get(category, self.window_days)

    def needs_approval(self, credit: CreditAmounts) -> bool:
        """Whether a return of this value waits for an approver."""
        return credit.total > self.auto_approve_up_to

    @property
    def receipt_deadline(self) -> timedelta:
        """How long to wait for the goods after the RMA was issued."""
        return timedelta(days=self.receipt_deadline_days)


# --- eligibility -----------------------------------------------------------------------------


def eligibility_problems(case: CrmCase, order: ReturnableOrder, policy: ReturnPolicy) -> list[str]:
    """Every reason why the case's return cannot be accepted; empty when it can.

    Args:
        case: The return request as read from the CRM.
        order: The ERP's view of the order the case is about.
        policy: The return policy (windows per category).

    Returns:
        Readable reasons, each naming the line or the order it is about.
    """
    problems: list[str] = []
    if order.status not in (SalesOrderStatus.SHIPPED, SalesOrderStatus.INVOICED):
        problems.append(
            f"order: sales order {order.sales_order_number} is {order.status.value}, not shipped"
        )
    if order.invoice_number is None:
        problems.append(f"order: sales order {order.sales_order_number} is not invoiced yet")
    if not case.lines:
        problems.append("lines: the case names nothing to return")
    by_line = {line.line_no: line for line in order.lines}
    requested: dict[int, Decimal] = {}
    for item in case.lines:
        where = f"lines[{item.line_no}]"
        line = by_line.get(item.line_no)
        if item.line_no in requested:
            problems.append(f"{where}: the order line is named twice")
            continue
        requested[item.line_no] = item.quantity
        if line is None:
            problems.append(f"{where}: the order has no line {item.line_no}")
            continue
        if line.sku != item.sku:
            problems.append(f"{where}.sku: the order line is {line.sku}, not {item.sku}")
        if item.quantity <= ZERO:
            problems.append(f"{where}.quantity: must be positive, got {item.quantity}")
        elif item.quantity > line.returnable:
            problems.append(
                f"{where}.quantity: {item.quantity} {line.sku} asked back, but only "
                f"{max(line.returnable, ZERO)} can be: {line.quantity} shipped, "
                f"{line.returned} returned, {line.authorized} authorized on other returns"
            )
        window = policy.window_for(line.category)
        if order.delivered_on is not None:
            ends = order.delivered_on + timedelta(days=window)
            if case.requested_on > ends:
                category = f"category {line.category!r}" if line.category else "no category"
                problems.append(
                    f"{where}: the return window of {window} days ({category}) after delivery "
                    f"on {order.delivered_on} ended on {ends}; requested on {case.requested_on}"
                )
    return problems


def return_window_end(order: ReturnableOrder, policy: ReturnPolicy) -> date | None:
    """The last day any line of the order may still be returned (None before delivery)."""
    if order.delivered_on is None or not order.lines:
        return None
    longest = max(policy.window_for(line.category) for line in order.lines)
    return order.delivered_on + timedelta(days=longest)


# --- inspection ------------------------------------------------------------------------------


class InspectionLine(Record):
    """The inspector's verdict on one received RMA line: what goes back on hand, what is scrap."""

    line_no: int
    restock_quantity: Decimal = ZERO
    warehouse: str | None = None  # where the restocked goods go; needed when restocking
    scrap_quantity: Decimal = ZERO
    scrap_reason: str | None = None  # needed when scrapping


class InspectionResult(Record):
    """The inspection of a whole receipt."""

    lines: list[InspectionLine]
    inspector: str | None = None


def inspection_problems(inspection: InspectionResult, rma: ReturnAuthorization) -> list[str]:
    """Every reason why the inspection cannot be applied to the received RMA; empty when it can.

    Per line, restock plus scrap must equal what was received; every line that received goods
    must be inspected once, lines the RMA does not have are refused, restocked goods need a
    warehouse and scrap a reason.
    """
    problems: list[str] = []
    received = {line.line_no: line.received for line in rma.lines}
    seen: set[int] = set()
    for line in inspection.lines:
        where = f"lines[{line.line_no}]"
        if line.line_no not in received:
            problems.append(f"{where}: RMA {rma.number} has no line {line.line_no}")
            continue
        if line.line_no in seen:
            problems.append(f"{where}: inspected twice")
            continue
        seen.add(line.line_no)
        if line.restock_quantity < ZERO:
            problems.append(f"{where}.restock_quantity: must not be negative")
        if line.scrap_quantity < ZERO:
            problems.append(f"{where}.scrap_quantity: must not be negative")
        if line.restock_quantity > ZERO and not (line.warehouse or "").strip():
            problems.append(f"{where}.warehouse: restocked goods need a warehouse")
        if line.scrap_quantity > ZERO and not (line.scrap_reason or "").strip():
            problems.append(f"{where}.scrap_reason: scrapped goods need a reason")
        total = line.restock_quantity + line.scrap_quantity
        if total != received[line.line_no]:
            problems.append(
                f"{where}: restock {line.restock_quantity} + scrap {line.scrap_quantity} = "
                f"{total}, but {received[line.line_no]} were received"
            )
    for line_no, quantity in received.items():
        if quantity > ZERO and line_no not in seen:
            problems.append(f"lines[{line_no}]: {quantity} received but not inspected")
    return problems


def restock_lines(inspection: InspectionResult) -> list[RestockLine]:
    """The restock lines of a (valid) inspection, without the empty ones."""
    return [
        RestockLine(line_no=line.line_no, warehouse=line.warehouse, quantity=line.restock_quantity)
        for line in inspection.lines
        if line.restock_quantity > ZERO and line.warehouse is not None
    ]


def scrap_lines(inspection: InspectionResult) -> list[ScrapLine]:
    """The write-off lines of a (valid) inspection, without the empty ones."""
    return [
        ScrapLine(line_no=line.line_no, quantity=line.scrap_quantity, reason=line.scrap_reason)
        for line in inspection.lines
        if line.scrap_quantity > ZERO and line.scrap_reason is not None
    ]


def accepted_quantities(inspection: InspectionResult, policy: ReturnPolicy) -> list[CreditQuantity]:
    """What of a (valid) inspection is credited: the restocked goods, and the scrap if the
    policy credits it."""
    accepted: list[CreditQuantity] = []
    for line in inspection.lines:
        quantity = line.restock_quantity + (line.scrap_quantity if policy.credit_scrapped else ZERO)
        if quantity > ZERO:
            accepted.append(CreditQuantity(line_no=line.line_no, quantity=quantity))
    return accepted


# --- credit value ----------------------------------------------------------------------------


def invoiced_line_net(line: ReturnableLine) -> Decimal:
    """The line's net as the invoice computed it (``domain.rules.line_net``)."""
    gross = line.quantity * line.unit_price
    return round_money(gross * (HUNDRED - line.discount_pct) / HUNDRED)


def _credited_net(line: ReturnableLine, quantity: Decimal) -> Decimal:
    """The net credited for the first ``quantity`` of the line, all its credits together.

    Pro rata of the invoiced line net, rounded to cents; crediting the whole line gives back
    exactly the invoiced net, whatever the rounding of the parts.
    """
    invoiced = invoiced_line_net(line)
    if quantity >= line.quantity:
        return invoiced
    return round_money(invoiced * quantity / line.quantity)


def credit_amounts(
    order: ReturnableOrder, quantities: Sequence[CreditQuantity] | Mapping[int, Decimal]
) -> CreditAmounts:
    """The value of crediting ``quantities`` on top of what the order's lines have credited.

    Each line's net is pro rata of its invoiced net (the unit price less the line's discount,
    rounded as the invoice rounded it), and the tax is the order's tax rate on the net, rounded
    as on the invoice. Both are computed cumulatively, as "everything credited on this invoice
    so far" less "everything before this credit", so that returns in several parts add up to
    exactly what returning all at once would credit, and returning everything credits exactly
    the invoice.

    Args:
        order: The sales order with its invoiced lines and what they already credited.
        quantities: What to credit now, per order line.

    Raises:
        KeyError: A line number the order does not have.
    """
    asked = (
        dict(quantities)
        if isinstance(quantities, Mapping)
        else {q.line_no: q.quantity for q in quantities}
    )
    by_line = {line.line_no: line for line in order.lines}
    before_total = ZERO
    after_total = ZERO
    lines: list[CreditNoteLine] = []
    for line in order.lines:
        before = _credited_net(line, line.credited)
        before_total += before
        quantity = asked.get(line.line_no, ZERO)
        after = _credited_net(line, line.credited + quantity) if quantity > ZERO else before
        after_total += after
        if quantity > ZERO:
            lines.append(
                CreditNoteLine(
                    line_no=line.line_no,
                    sku=line.sku,
                    quantity=quantity,
                    unit_price=line.unit_price,
                    discount_pct=line.discount_pct,
                    net=after - before,
                )
            )
    for line_no in asked:
        if line_no not in by_line:
            raise KeyError(f"sales order {order.sales_order_number} has no line {line_no}")
    net = after_total - before_total
    tax = round_money(after_total * order.tax_pct / HUNDRED) - round_money(
        before_total * order.tax_pct / HUNDRED
    )
    return CreditAmounts(currency=order.currency, lines=lines, net=net, tax=tax, total=net + tax)


def requested_credit(case: CrmCase, order: ReturnableOrder) -> CreditAmounts:
    """The value of the case's return if everything asked for comes back (for approval).

    Lines the order does not have are left out: eligibility reports them.
    """
    known = {line.line_no for line in order.lines}
    asked = {item.line_no: item.quantity for item in case.lines if item.line_no in known}
    return credit_amounts(order, {k: v for k, v in asked.items() if v > ZERO})
