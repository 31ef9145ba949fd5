"""Many concurrent reservations of one product never oversell, on SQLite and on PostgreSQL.

Every request is its own transaction on its own pooled connection, as concurrent activities on
one worker (one engine) or on several workers (several engines on one database) would be.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from adapters.sandbox import SandboxERP
from domain.errors import InsufficientStock
from domain.models import ErpProduct, Reservation, ReservationRequest, ReservationStatus
from tests.conftest import DbFactory

D = Decimal
SKU = "IND-PLC-100"
# 16 in all, spread unevenly: a request for 2 may have to split over two warehouses.
STOCK = {"THR": D(7), "IFN": D(6), "TBZ": D(3)}
REQUESTS = 40
EACH = D(2)


@pytest.fixture
async def erp_url(make_db_url: DbFactory, db_kind: str) -> str:
    """A database holding three warehouses with ``STOCK`` of ``SKU``."""
    url = await make_db_url(db_kind)
    erp = SandboxERP(url)
    try:
        await erp.create_schema()
        for index, code in enumerate(STOCK):
            await erp.upsert_warehouse(code, code, lead_days=index + 1)
        await erp.upsert_product(
            ErpProduct(sku=SKU, name="PLC controller", list_price=D("420.00"), currency="EUR")
        )
        for code, quantity in STOCK.items():
            await erp.set_stock(SKU, code, quantity)
    finally:
        await erp.close()
    return url


@pytest.fixture
async def engines(erp_url: str) -> AsyncIterator[list[SandboxERP]]:
    """Two ERP instances (two engines, two connection pools) on the same database."""
    instances = [SandboxERP(erp_url), SandboxERP(erp_url)]
    yield instances
    for instance in instances:
        await instance.close()


async def reserve_all(
    instances: list[SandboxERP], references: list[str], warehouses: list[list[str]]
) -> list[Reservation | BaseException]:
    """Fire every request at once, spread round-robin over the instances."""
    return await asyncio.gather(
        *(
            instances[i % len(instances)].reserve(
                ReservationRequest(reference=ref, sku=SKU, quantity=EACH, warehouses=preferred)
            )
            for i, (ref, preferred) in enumerate(zip(references, warehouses, strict=True))
        ),
        return_exceptions=True,
    )


async def assert_not_oversold(
    erp: SandboxERP, results: list[Reservation | BaseException], demand: Decimal
) -> None:
    total = sum(STOCK.values(), D(0))
    granted = [r for r in results if isinstance(r, Reservation)]
    refused = [r for r in results if isinstance(r, InsufficientStock)]
    unexpected = [r for r in results if not isinstance(r, Reservation | InsufficientStock)]
    assert unexpected == []  # no "database is locked", deadlock or raw driver error

    expected_granted = int(min(demand, total) / EACH)
    assert len(granted) == expected_granted
    assert len(refused) == len(results) - expected_granted
    for reservation in granted:
        assert reservation.status is ReservationStatus.ACTIVE
        assert sum((ln.quantity for ln in reservation.lines), D(0)) == EACH

    snapshot = await erp.stock_snapshot()
    for code, on_hand in STOCK.items():
        stored_on_hand, reserved = snapshot[(SKU, code)]
        assert stored_on_hand == on_hand
        assert D(0) <= reserved <= on_hand  # available never below zero in any warehouse
    reserved_total = sum((snapshot[(SKU, code)][1] for code in STOCK), D(0))
    assert reserved_total == min(demand, total)
    # What the reservations say they hold is exactly what the stock rows have reserved.
    per_warehouse: dict[str, Decimal] = {}
    for reservation in granted:
        for ln in reservation.lines:
            per_warehouse[ln.warehouse] = per_warehouse.get(ln.warehouse, D(0)) + ln.quantity
    assert per_warehouse == {code: snapshot[(SKU, code)][1] for code in per_warehouse}
    counts = await erp.count_documents("order-")
    assert counts["reservations"] == expected_granted


async def test_concurrent_reservations_on_one_engine_never_oversell(erp_url: str) -> None:
    erp = SandboxERP(erp_url)
    try:
        references = [f"order-{i}/line-1" for i in range(REQUESTS)]
        preferences = [[list(STOCK)[i % len(STOCK)]] for i in range(REQUESTS)]

        results = await reserve_all([erp], references, preferences)

        await assert_not_oversold(erp, results, REQUESTS * EACH)
    finally:
        await erp.close()


async def test_concurrent_reservations_on_two_engines_never_oversell(
    engines: list[SandboxERP],
) -> None:
    references = [f"order-{i}/line-1" for i in range(REQUESTS)]
    preferences = [["TBZ", "IFN"] if i % 2 else [] for i in range(REQUESTS)]

    results = await reserve_all(engines, references, preferences)

    await assert_not_oversold(engines[0], results, REQUESTS * EACH)


async def test_demand_within_stock_is_granted_in_full(engines: list[SandboxERP]) -> None:
    references = [f"order-{i}/line-1" for i in range(6)]  # 12 of 16

    results = await reserve_all(engines, references, [[]] * len(references))

    await assert_not_oversold(engines[1], results, 6 * EACH)


async def test_concurrent_retries_of_one_reservation_reserve_once(
    engines: list[SandboxERP],
) -> None:
    """Retried activities racing each other with the same reference get the same reservation."""
    references = ["order-1/line-1"] * 20

    results = await reserve_all(engines, references, [["IFN"]] * len(references))

    assert all(isinstance(r, Reservation) for r in results), results
    assert len({r.model_dump_json() for r in results if isinstance(r, Reservation)}) == 1
    snapshot = await engines[0].stock_snapshot()
    assert sum((snapshot[(SKU, code)][1] for code in STOCK), D(0)) == EACH
    assert snapshot[(SKU, "IFN")] == (STOCK["IFN"], EACH)
    assert (await engines[1].count_documents("order-1/"))["reservations"] == 1


async def test_concurrent_releases_give_stock_back_once(engines: list[SandboxERP]) -> None:
    references = [f"order-{i}/line-1" for i in range(8)]  # exactly the 16 in stock
    await assert_not_oversold(
        engines[0], await reserve_all(engines, references, [[]] * 8), 8 * EACH
    )

    released = await asyncio.gather(
        *(engines[i % 2].release(ref) for i, ref in enumerate(references * 3))
    )

    assert all(r is not None and r.status is ReservationStatus.RELEASED for r in released)
    snapshot = await engines[1].stock_snapshot()
    assert {code: snapshot[(SKU, code)] for code in STOCK} == {
        code: (on_hand, D(0)) for code, on_hand in STOCK.items()
    }
