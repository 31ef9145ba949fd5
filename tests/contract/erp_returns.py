"""Return authorizations, receipts and credit requests for the ERP returns contract tests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from domain.errors import (
    PermanentError,
)
from domain.returns import (
    CreditNoteRequest,
    CreditQuantity,
    ReceiptLine,
    ReturnAuthorizationRequest,
    ReturnLineRequest,
    ReturnReceiptRequest,
)
from tests.contract.erp_orders import ORDER_DATE

D = Decimal


def rma_request(
    reference: str, so_number: str, *lines: tuple[int, str, str]
) -> ReturnAuthorizationRequest:
    return ReturnAuthorizationRequest(
        reference=reference,
        sales_order_number=so_number,
        lines=[ReturnLineRequest(line_no=n, sku=sku, quantity=D(q)) for n, sku, q in lines],
        reason="damaged in transit",
        crm_case_id="CASE-1",
        authorized_on=ORDER_DATE,
    )


def receipt(reference: str, rma: str, *lines: tuple[int, str]) -> ReturnReceiptRequest:
    return ReturnReceiptRequest(
        reference=reference,
        rma_number=rma,
        lines=[ReceiptLine(line_no=n, quantity=D(q)) for n, q in lines],
    )


def credit(reference: str, rma: str, *lines: tuple[int, str]) -> CreditNoteRequest:
    return CreditNoteRequest(
        reference=reference,
        rma_number=rma,
        lines=[CreditQuantity(line_no=n, quantity=D(q)) for n, q in lines],
        credit_date=ORDER_DATE,
    )


async def received_rma(erp: Any, so: str, ref: str, *lines: tuple[int, str, str]) -> str:
    """An RMA of ``lines``, all of which arrived; its number."""
    rma = await erp.create_return_authorization(rma_request(f"{ref}/rma", so, *lines))
    await erp.record_return_receipt(
        receipt(f"{ref}/receipt", rma.number, *((n, q) for n, _, q in lines))
    )
    return str(rma.number)


def assert_permanent(error: Exception) -> None:
    assert isinstance(error, PermanentError)
    assert getattr(error, "system", None) == "erp"
