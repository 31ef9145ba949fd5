"""Pure quantity rules of the ERP's return documents, shared by every ERP adapter (and the fake):
what a receipt may record, and what restocks, write-offs and credits may take of it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from domain.money import ZERO
from domain.returns import ReceiptLine


def summed(lines: Sequence[tuple[int, Decimal]]) -> dict[int, Decimal]:
    """Quantities added up per line number."""
    total: dict[int, Decimal] = {}
    for line_no, quantity in lines:
        total[line_no] = total.get(line_no, ZERO) + quantity
    return total


def receipt_quantities(
    rma_number: str, authorized: Mapping[int, Decimal], lines: Sequence[ReceiptLine]
) -> tuple[dict[int, Decimal], list[str]]:
    """What a receipt records per RMA line (zero for lines not named), and why it cannot be
    recorded (a line the RMA lacks or named twice, a negative or unauthorized quantity, nothing
    at all); the receipt stands only when the problems are empty."""
    received = dict.fromkeys(authorized, ZERO)
    problems: list[str] = []
    seen: set[int] = set()
    for item in lines:
        where = f"lines[{item.line_no}]"
        if item.line_no not in authorized:
            problems.append(f"{where}: RMA {rma_number} has no such line")
        elif item.line_no in seen:
            problems.append(f"{where}: named twice")
        elif item.quantity < ZERO:
            problems.append(f"{where}.quantity: must not be negative, got {item.quantity}")
        elif item.quantity > authorized[item.line_no]:
            problems.append(
                f"{where}.quantity: {item.quantity} received, only "
                f"{authorized[item.line_no]} authorized"
            )
        else:
            received[item.line_no] = item.quantity
        seen.add(item.line_no)
    if not problems and sum(received.values(), ZERO) <= ZERO:
        problems.append("lines: a receipt needs goods")
    return received, problems


def received_use_problems(
    rma_number: str,
    received: Mapping[int, Decimal],
    asked: Sequence[tuple[int, Decimal]],
    used: Mapping[int, Decimal],
    use: str,
) -> list[str]:
    """Why ``asked`` (line, quantity) pairs cannot be taken of what the RMA received, given what
    earlier documents already ``used`` for ``use`` ("restocked or scrapped", "credited" …)."""
    problems = [] if asked else ["lines: at least one line is needed"]
    for line_no, quantity in asked:
        if line_no not in received:
            problems.append(f"lines[{line_no}]: RMA {rma_number} has no such line")
        elif quantity <= ZERO:
            problems.append(f"lines[{line_no}].quantity: must be positive, got {quantity}")
    if not problems:
        for line_no, quantity in summed(asked).items():
            free = received[line_no] - used.get(line_no, ZERO)
            if quantity > free:
                problems.append(
                    f"lines[{line_no}].quantity: {quantity} exceeds the {free} received and "
                    f"not yet {use}"
                )
    return problems
