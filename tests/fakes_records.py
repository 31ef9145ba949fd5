"""The in-memory ERP's own records, shared by ``tests/fakes.py`` and its mixins."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from domain.models import SalesOrder, SalesOrderRequest

DEFAULT_LEAD_DAYS = 1
"""Days from order to promised delivery when a sales order draws on no reservation."""


@dataclass
class _Warehouse:
    name: str
    lead_days: int


@dataclass
class _Stock:
    on_hand: Decimal
    reserved: Decimal


@dataclass
class _SalesOrderRow:
    order: SalesOrder
    request: SalesOrderRequest
    reservation_refs: list[str]


@dataclass
class _Payment:
    invoice_number: str
    amount: Decimal


@dataclass
class _Counters:
    customer: int = 0
    sales_order: int = 0
    invoice: int = 0
