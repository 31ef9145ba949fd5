"""The CLI's line syntax for receipts and inspections: clear errors, nothing half-parsed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.return_rules import InspectionLine
from domain.returns import ReceiptLine
from infra.returns import ReturnOpError, parse_inspection, parse_receipt


def test_receipt_lines() -> None:
    assert parse_receipt(["1=2", " 3=0.5 "]) == [
        ReceiptLine(line_no=1, quantity=Decimal(2)),
        ReceiptLine(line_no=3, quantity=Decimal("0.5")),
    ]


@pytest.mark.parametrize("item", ["1", "x=2", "1=-2", "1=two", "1=2@THR"])
def test_receipt_line_errors_name_the_item(item: str) -> None:
    with pytest.raises(ReturnOpError, match="--line"):
        parse_receipt([item])


def test_inspection_merges_restock_and_scrap_per_line() -> None:
    result = parse_inspection(["2=3@THR", "1=1@IFN"], ["1=2:housing cracked"], "wh1")
    assert result.inspector == "wh1"
    assert result.lines == [
        InspectionLine(
            line_no=1,
            restock_quantity=Decimal(1),
            warehouse="IFN",
            scrap_quantity=Decimal(2),
            scrap_reason="housing cracked",
        ),
        InspectionLine(line_no=2, restock_quantity=Decimal(3), warehouse="THR"),
    ]


@pytest.mark.parametrize(
    ("restock", "scrap", "message"),
    [
        (["1=2"], [], "--restock '1=2': expected LINE=QTY@WAREHOUSE"),
        ([], ["1=2"], "--scrap '1=2': expected LINE=QTY:REASON"),
        ([], [], "at least one --restock or --scrap"),
        (["1=1.2.3@THR"], [], "not a quantity"),
    ],
)
def test_inspection_errors(restock: list[str], scrap: list[str], message: str) -> None:
    with pytest.raises(ReturnOpError, match=message.replace("(", r"\(")):
        parse_inspection(restock, scrap, None)
