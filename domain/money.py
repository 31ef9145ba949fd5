"""Money arithmetic: Decimal only, rounded the way invoices are."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0")
HUNDRED = Decimal("100")


def round_money(amount: Decimal) -> Decimal:
    """Round to cents, half up, as an invoice prints it."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def is_currency_code(code: str) -> bool:
    """True for a three-letter upper-case ISO 4217 style code."""
    return len(code) == 3 and code.isascii() and code.isalpha() and code.isupper()
