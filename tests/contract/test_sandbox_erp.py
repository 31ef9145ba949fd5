"""What only the sandbox ERP, a real database, can show: references refused across document
kinds, line validation, exact decimals across a restart, latency, and the translation of
database failures."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.sandbox import SandboxERP
from domain.errors import (
    IdempotencyConflict,
    InvalidRecord,
    RecordNotFound,
    SystemUnavailable,
)
from domain.models import (
    ErpProduct,
    InvoiceRequest,
    ReservationRequest,
)
from tests.conftest import DbFactory
from tests.contract.conftest import (
    SKU_A,
    SKU_B,
    stock_up,
)
from tests.contract.erp_orders import (
    D,
    invoiced_order,
    line,
    order_request,
    shipped_order,
)

# --- sandbox only ----------------------------------------------------------------------------


async def test_sandbox_refuses_a_reused_reference_for_other_documents(
    stocked_sandbox_erp: SandboxERP,
) -> None:
    erp = stocked_sandbox_erp
    invoice = await invoiced_order(erp)
    await erp.record_payment(invoice.number, D("10"), "pay-1")
    other = await shipped_order(erp, "o2")

    with pytest.raises(IdempotencyConflict):
        await erp.create_sales_order(order_request("o1-so", tax_pct=D("19")))
    with pytest.raises(IdempotencyConflict):
        await erp.create_invoice(
            InvoiceRequest(reference="o1-inv", sales_order_number=other.number)
        )
    with pytest.raises(IdempotencyConflict):
        await erp.record_payment(invoice.number, D("11"), "pay-1")
    assert (await erp.get_invoice(invoice.number)).amount_paid == D("10")


async def test_sandbox_validates_sales_order_lines(stocked_sandbox_erp: SandboxERP) -> None:
    with pytest.raises(RecordNotFound) as unknown:
        await stocked_sandbox_erp.create_sales_order(
            order_request("so-1", lines=[line(1, "NOPE", "1", "1")])
        )
    with pytest.raises(InvalidRecord) as invalid:
        await stocked_sandbox_erp.create_sales_order(
            order_request("so-1", lines=[line(1, SKU_A, "-1", "1"), line(2, SKU_B, "1", "-2")])
        )

    assert (unknown.value.kind, unknown.value.key) == ("product", "NOPE")
    assert [p.split(":")[0] for p in invalid.value.problems] == [
        "lines[1].quantity",
        "lines[2].unit_price",
    ]
    assert await stocked_sandbox_erp.get_sales_order("so-1") is None


async def test_sandbox_keeps_decimals_exactly_and_survives_a_restart(
    sandbox_erp: SandboxERP,
) -> None:
    url = sandbox_erp._db.engine.url.render_as_string(hide_password=False)
    huge = D("123456789012345678.123456789")
    await stock_up(sandbox_erp)
    await sandbox_erp.set_stock(SKU_B, "W2", huge)
    await sandbox_erp.reserve(
        ReservationRequest(reference="r1", sku=SKU_A, quantity=D("0.125"), warehouses=["W3"])
    )
    await sandbox_erp.close()

    reopened = SandboxERP(url)
    try:
        await reopened.create_schema()  # idempotent on an existing database
        snapshot = await reopened.stock_snapshot()
        assert snapshot[(SKU_B, "W2")] == (huge, D(0))
        assert str(snapshot[(SKU_B, "W2")][0]) == str(huge)
        assert snapshot[(SKU_A, "W3")] == (D(3), D("0.125"))
        released = await reopened.release("r1")
        assert released is not None and released.lines[0].quantity == D("0.125")
    finally:
        await reopened.close()


async def test_sandbox_waits_its_latency_on_port_calls(make_db_url: DbFactory) -> None:
    erp = SandboxERP(await make_db_url("sqlite"), latency=0.2)
    try:
        await erp.create_schema()
        started = time.perf_counter()
        await erp.get_products(["X"])
        assert time.perf_counter() - started >= 0.2
    finally:
        await erp.close()


def test_sandbox_refuses_an_unusable_url_at_construction() -> None:
    with pytest.raises(ValueError, match="unusable database URL"):
        SandboxERP("not a url")
    with pytest.raises(ValueError, match="unusable database URL"):
        SandboxERP("postgresql+psycopg2://postgres@127.0.0.1/x")  # not an asyncio driver


async def test_sandbox_translates_an_unreachable_database_to_system_unavailable(
    tmp_path: Any,
) -> None:
    unreachable = [
        "postgresql+asyncpg://postgres@127.0.0.1:1/nowhere",
        f"sqlite+aiosqlite:///{tmp_path}/missing-dir/erp.db",
    ]
    for url in unreachable:
        erp = SandboxERP(url)
        try:
            with pytest.raises(SystemUnavailable) as caught:
                await erp.get_products([SKU_A])
            assert caught.value.transient is True
            assert caught.value.system == "erp"
        finally:
            await erp.close()


async def test_sandbox_without_its_schema_is_unavailable_not_a_crash(
    make_db_url: DbFactory, db_kind: str
) -> None:
    erp = SandboxERP(await make_db_url(db_kind))
    try:
        with pytest.raises(SystemUnavailable):
            await erp.reserve(ReservationRequest(reference="r1", sku=SKU_A, quantity=D(1)))
    finally:
        await erp.close()


async def test_sandbox_stores_decimals_as_text_on_sqlite(make_db_url: DbFactory) -> None:
    """SQLite's NUMERIC affinity would round through binary floats; text keeps every digit."""
    url = await make_db_url("sqlite")
    erp = SandboxERP(url)
    try:
        await erp.create_schema()
        await erp.upsert_warehouse("W1", "W1")
        await erp.upsert_product(ErpProduct(sku="P", name="P", list_price=D("0.1"), currency="EUR"))
        await erp.set_stock("P", "W1", D("0.30000000000000000001"))
    finally:
        await erp.close()
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            stored = (await conn.execute(text("SELECT on_hand, typeof(on_hand) FROM stock"))).one()
    finally:
        await engine.dispose()
    assert tuple(stored) == ("0.30000000000000000001", "text")
