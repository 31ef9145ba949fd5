"""The implementations every contract test runs against.

* the sandbox CRM / ERP on SQLite,
* the sandbox CRM / ERP on PostgreSQL,
* the in-memory fakes of ``tests/fakes.py`` (``InMemoryCRM`` / ``InMemoryERP``), skipped while
  that module does not exist or does not define them.

Besides the port, the tests use the sandbox admin methods (``upsert_*``, ``set_stock``, ``ship``,
``record_payment``, ``count_documents`` …) to arrange and inspect, which the fakes offer too.
``sandbox_crm`` / ``sandbox_erp`` give the sandbox alone, for what only a database can show.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from adapters.sandbox import SandboxCRM, SandboxERP
from domain.models import ErpCustomer, ErpProduct
from tests.conftest import DbFactory

FAKES = Path(__file__).resolve().parents[1] / "fakes.py"

IMPLEMENTATIONS = [
    pytest.param("sqlite", id="sandbox-sqlite"),
    pytest.param("postgres", id="sandbox-postgres", marks=pytest.mark.postgres),
    pytest.param("memory", id="in-memory-fake"),
]
SANDBOXES = IMPLEMENTATIONS[:2]


def _fake(class_name: str) -> Any:
    """A fresh instance of a fake from tests/fakes.py, or skip when it does not exist (yet)."""
    if not FAKES.exists():
        pytest.skip("tests/fakes.py does not exist")
    # Imported only now: an import error in an existing fakes module must fail, not skip.
    module = importlib.import_module("tests.fakes")
    cls = getattr(module, class_name, None)
    if cls is None:
        pytest.skip(f"tests/fakes.py defines no {class_name}")
    return cls()


async def _open(kind: str, make_db_url: DbFactory, system: str) -> Any:
    if kind == "memory":
        impl = _fake("InMemoryCRM" if system == "crm" else "InMemoryERP")
    else:
        url = await make_db_url(kind)
        impl = SandboxCRM(url) if system == "crm" else SandboxERP(url)
    await impl.create_schema()
    return impl


@pytest.fixture(params=IMPLEMENTATIONS)
async def crm(request: pytest.FixtureRequest, make_db_url: DbFactory) -> AsyncIterator[Any]:
    """A fresh, empty CRM of each implementation."""
    impl = await _open(request.param, make_db_url, "crm")
    yield impl
    await impl.close()


@pytest.fixture(params=IMPLEMENTATIONS)
async def erp(request: pytest.FixtureRequest, make_db_url: DbFactory) -> AsyncIterator[Any]:
    """A fresh, empty ERP of each implementation."""
    impl = await _open(request.param, make_db_url, "erp")
    yield impl
    await impl.close()


@pytest.fixture(params=SANDBOXES)
async def sandbox_crm(
    request: pytest.FixtureRequest, make_db_url: DbFactory
) -> AsyncIterator[SandboxCRM]:
    """A fresh sandbox CRM, on SQLite and on PostgreSQL."""
    impl: SandboxCRM = await _open(request.param, make_db_url, "crm")
    yield impl
    await impl.close()


@pytest.fixture(params=SANDBOXES)
async def sandbox_erp(
    request: pytest.FixtureRequest, make_db_url: DbFactory
) -> AsyncIterator[SandboxERP]:
    """A fresh sandbox ERP, on SQLite and on PostgreSQL."""
    impl: SandboxERP = await _open(request.param, make_db_url, "erp")
    yield impl
    await impl.close()


# --- a small catalogue for ERP tests ---------------------------------------------------------

SKU_A = "SKU-A"
SKU_B = "SKU-B"
CUSTOMER = "C-900001"
OPENING = Decimal("100.00")
CREDIT_LIMIT = Decimal("5000.00")

# Warehouses in ERP order, with their lead days, and the stock of SKU-A in each.
WAREHOUSES = (("W1", 1), ("W2", 4), ("W3", 2))
STOCK_A = {"W1": Decimal("5"), "W2": Decimal("10"), "W3": Decimal("3")}
STOCK_B = {"W1": Decimal("100")}


async def stock_up(erp: Any) -> None:
    """Three warehouses, two products with stock, one customer owing ``OPENING``."""
    for code, lead_days in WAREHOUSES:
        await erp.upsert_warehouse(code, f"Warehouse {code}", lead_days)
    await erp.upsert_product(
        ErpProduct(sku=SKU_A, name="Widget A", list_price=Decimal("19.99"), currency="EUR")
    )
    await erp.upsert_product(
        ErpProduct(sku=SKU_B, name="Widget B", list_price=Decimal("5.00"), currency="EUR")
    )
    for warehouse, quantity in STOCK_A.items():
        await erp.set_stock(SKU_A, warehouse, quantity)
    for warehouse, quantity in STOCK_B.items():
        await erp.set_stock(SKU_B, warehouse, quantity)
    await erp.upsert_customer(
        ErpCustomer(
            customer_id=CUSTOMER,
            external_ref="ACC-9",
            name="Test Customer",
            tax_id="TAX-9",
            email="buyer@test.example",
            currency="EUR",
            credit_limit=CREDIT_LIMIT,
        ),
        OPENING,
    )


@pytest.fixture
async def stocked_erp(erp: Any) -> Any:
    """``erp`` with the catalogue of ``stock_up``."""
    await stock_up(erp)
    return erp


@pytest.fixture
async def stocked_sandbox_erp(sandbox_erp: SandboxERP) -> SandboxERP:
    """``sandbox_erp`` with the catalogue of ``stock_up``."""
    await stock_up(sandbox_erp)
    return sandbox_erp


@pytest.fixture
async def sold(stocked_erp: Any) -> tuple[Any, str]:
    """The ERP and the number of an invoiced sales order (the returns' and credits' tests)."""
    from tests.contract.erp_orders import invoiced_order  # it imports this module's constants

    invoice = await invoiced_order(stocked_erp)
    return stocked_erp, invoice.sales_order_number
