"""Orders, lines and a catalogue for the tests of the pure business rules."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from domain.models import CrmOrder, CrmOrderLine, ErpProduct

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
