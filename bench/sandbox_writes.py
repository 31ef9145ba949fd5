"""The sandbox CRM and ERP under concurrent orders, without Temporal.

Seeds a fresh sandbox ERP and CRM (temporary SQLite files, or with ``--db postgres`` fresh
PostgreSQL databases that are dropped afterwards), then runs N orders' worth of the port calls an
order-to-cash run makes, in the workflow's sequence (order and account read; products and credit
side by side; customer found or created and linked; the lines reserved; sales order; the
warehouse ships; invoice; the customer pays; invoice read; the CRM statuses in one batch, as
process version 3 sends them for an order that never rests), C orders at a time. It prints each
call's p50/p99 latency and the writes per second, so the sandbox's own cost under concurrency can
be measured apart from the orchestration's.

    .venv/bin/python -m bench.sandbox_writes --orders 200 --concurrency 1 10 50
    .venv/bin/python -m bench.sandbox_writes --db postgres --concurrency 10 50
    .venv/bin/python -m bench.sandbox_writes --loop-load-ms 1 --count-statements
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import statistics
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.sandbox import SandboxCRM, SandboxERP
from domain.models import (
    CrmAccount,
    CrmOrder,
    CrmOrderLine,
    CrmOrderStatus,
    CrmStatusUpdate,
    CustomerData,
    ErpCustomer,
    ErpProduct,
    InvoiceRequest,
    ReservationRequest,
    SalesOrderLine,
    SalesOrderRequest,
)

T = TypeVar("T")
D = Decimal
SKUS = ("BENCH-A", "BENCH-B", "BENCH-C")
WRITES = frozenset(
    {
        "erp.create_customer",
        "crm.link_account",
        "erp.reserve",
        "erp.create_sales_order",
        "erp.ship",
        "erp.create_invoice",
        "erp.record_payment",
        "crm.update_order_statuses",
    }
)
_CALL: contextvars.ContextVar[str] = contextvars.ContextVar("call", default="-")


@dataclass
class Stats:
    """Latencies per call name, and SQL statements per call name (when counted)."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statements: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    async def timed(self, name: str, call: Awaitable[T]) -> T:
        token = _CALL.set(name)
        t0 = time.perf_counter()
        try:
            return await call
        finally:
            self.latencies[name].append(time.perf_counter() - t0)
            _CALL.reset(token)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@asynccontextmanager
async def _databases(kind: str, pg_host: str, pg_user: str) -> AsyncIterator[tuple[str, str]]:
    """Fresh (ERP, CRM) database URLs, removed afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="peyvand-writes-") as work:
            yield (
                f"sqlite+aiosqlite:///{work}/erp.sqlite",
                f"sqlite+aiosqlite:///{work}/crm.sqlite",
            )
        return
    names = [f"peyvand_bench_{uuid.uuid4().hex[:10]}_{s}" for s in ("erp", "crm")]
    base = f"postgresql+asyncpg://{pg_user}@{pg_host}"
    # CREATE/DROP DATABASE cannot run inside a transaction.
    admin = create_async_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            for name in names:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield f"{base}/{names[0]}", f"{base}/{names[1]}"
    finally:
        async with admin.connect() as conn:
            for name in names:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def _seed_catalogue(erp: SandboxERP, crm: SandboxCRM, orders: int) -> None:
    for code, lead in (("THR", 1), ("IFN", 2), ("TBZ", 3)):
        await erp.upsert_warehouse(code, code, lead)
    for sku in SKUS:
        await erp.upsert_product(ErpProduct(sku=sku, name=sku, list_price=D(10), currency="EUR"))
        # Enough for every order, but spread so that some lines split over warehouses.
        for code in ("THR", "IFN", "TBZ"):
            await erp.set_stock(sku, code, D(orders))
    await erp.upsert_customer(
        ErpCustomer(
            customer_id="C-BENCH",
            external_ref="ACC-LINKED",
            name="Bench Co.",
            currency="EUR",
            credit_limit=D(10**9),
        )
    )
    await crm.upsert_account(
        CrmAccount(account_id="ACC-LINKED", name="Bench Co.", erp_customer_id="C-BENCH")
    )


async def _seed_orders(crm: SandboxCRM, tag: str, orders: int, linked: bool) -> None:
    """The CRM orders of one level (and their new accounts), before its timing starts."""
    for i in range(orders):
        account = "ACC-LINKED" if linked else f"ACC-{tag}-{i}"
        if not linked:
            await crm.upsert_account(
                CrmAccount(account_id=account, name=f"Buyer {i}", tax_id=f"TAX-{tag}-{i}")
            )
        await crm.create_order(
            CrmOrder(
                order_id=f"O-{tag}-{i}",
                account_id=account,
                owner="bench",
                currency="EUR",
                lines=[
                    CrmOrderLine(
                        line_no=n, sku=sku, quantity=D(2), unit_price=D(10), currency="EUR"
                    )
                    for n, sku in enumerate(SKUS[:2], start=1)
                ],
            )
        )


async def _order(erp: SandboxERP, crm: SandboxCRM, stats: Stats, i: int, tag: str) -> None:
    """One order's port calls, in the order (and side by side where) the workflow makes them."""
    t = stats.timed
    key = f"order-{tag}-{i}"
    order = await t("crm.get_order", crm.get_order(f"O-{tag}-{i}"))
    assert order.account_id is not None
    account = await t("crm.get_account", crm.get_account(order.account_id))
    skus = sorted({line.sku for line in order.lines})
    linked = account.erp_customer_id
    await asyncio.gather(
        t("erp.get_products", erp.get_products(skus)),
        *([t("erp.get_credit_status", erp.get_credit_status(linked))] if linked else []),
    )
    if linked is None:
        data = CustomerData(
            external_ref=account.account_id,
            name=account.name,
            tax_id=account.tax_id,
            currency="EUR",
        )
        found = await t(
            "erp.find_customer",
            erp.find_customer(external_ref=data.external_ref, tax_id=data.tax_id, email=None),
        )
        customer = (
            found
            if found is not None
            else await t("erp.create_customer", erp.create_customer(data))
        )
        await t("crm.link_account", crm.link_account(account.account_id, customer.customer_id))
        await t("erp.get_credit_status", erp.get_credit_status(customer.customer_id))
        linked = customer.customer_id

    refs = [f"{key}/reserve/{line.line_no}" for line in order.lines]
    await asyncio.gather(
        *(
            t(
                "erp.reserve",
                erp.reserve(ReservationRequest(reference=ref, sku=ln.sku, quantity=ln.quantity)),
            )
            for ref, ln in zip(refs, order.lines, strict=True)
        ),
    )
    so = await t(
        "erp.create_sales_order",
        erp.create_sales_order(
            SalesOrderRequest(
                reference=f"{key}/sales-order",
                customer_id=linked,
                currency=order.currency,
                lines=[
                    SalesOrderLine(
                        line_no=ln.line_no,
                        sku=ln.sku,
                        quantity=ln.quantity,
                        unit_price=ln.unit_price,
                    )
                    for ln in order.lines
                ],
                reservation_refs=refs,
                crm_order_id=order.order_id,
            )
        ),
    )
    await t("erp.ship", erp.ship(so.number))
    invoice = await t(
        "erp.create_invoice",
        erp.create_invoice(
            InvoiceRequest(reference=f"{key}/invoice", sales_order_number=so.number)
        ),
    )
    await t("erp.record_payment", erp.record_payment(invoice.number, invoice.total, f"{key}/pay"))
    await t("erp.get_invoice", erp.get_invoice(invoice.number))
    # Process version 3: an order whose shipment and payment are in before it waits for them
    # never rests, so its CRM statuses go in one batch as it completes.
    updates = [
        CrmStatusUpdate(key=f"{key}/{step}", order_id=order.order_id, status=state, **fields)
        for step, state, fields in (
            ("in-progress", CrmOrderStatus.IN_PROGRESS, {}),
            ("confirmed", CrmOrderStatus.CONFIRMED, {"erp_order_number": so.number}),
            ("shipped", CrmOrderStatus.SHIPPED, {}),
            ("invoiced", CrmOrderStatus.INVOICED, {"invoice_number": invoice.number}),
            ("closed", CrmOrderStatus.CLOSED, {}),
        )
    ]
    await t("crm.update_order_statuses", crm.update_order_statuses(updates))


def _count_statements(system: SandboxERP | SandboxCRM, stats: Stats) -> None:
    def count(*_: Any) -> None:
        stats.statements[_CALL.get()] += 1

    event.listen(system._db.engine.sync_engine, "before_cursor_execute", count)


async def _loop_load(busy_ms: float) -> None:
    """Keep the event loop as busy as a worker's is: block it for ``busy_ms``, yield, repeat."""
    while True:
        end = time.perf_counter() + busy_ms / 1000
        while time.perf_counter() < end:
            pass
        await asyncio.sleep(0)


async def run(args: argparse.Namespace) -> None:
    levels: list[int] = args.concurrency
    async with _databases(args.db, args.pg_host, args.pg_user) as (erp_url, crm_url):
        erp, crm = SandboxERP(erp_url), SandboxCRM(crm_url)
        try:
            await erp.create_schema()
            await crm.create_schema()
            linked = args.customers == "linked"
            await _seed_catalogue(erp, crm, args.orders)
            await _seed_orders(crm, "warm", 1, linked)
            if args.count_statements:
                counted = Stats()
                _count_statements(erp, counted)
                _count_statements(crm, counted)
                await _order(erp, crm, counted, 0, "warm")
                print("SQL statements per call (one order, alone):")
                calls = {name: len(v) for name, v in counted.latencies.items()}
                for name, n in calls.items():
                    print(f"  {name:26} {counted.statements[name] / n:5.1f}")
                print(f"  {'whole order':26} {sum(counted.statements.values()):5d}")
            else:
                await _order(erp, crm, Stats(), 0, "warm")
            load = asyncio.create_task(_loop_load(args.loop_load_ms)) if args.loop_load_ms else None
            print(
                f"{args.db}, {args.orders} orders per level, customers {args.customers}, "
                f"loop load {args.loop_load_ms} ms"
            )
            for level, c in enumerate(levels):
                tag = f"c{c}-{level}"
                await _seed_orders(crm, tag, args.orders, linked)
                stats = Stats()
                sem = asyncio.Semaphore(c)

                async def one(
                    i: int, stats: Stats = stats, sem: asyncio.Semaphore = sem, tag: str = tag
                ) -> None:
                    async with sem:
                        await stats.timed("order", _order(erp, crm, stats, i, tag))

                start = time.perf_counter()
                await asyncio.gather(*(one(i) for i in range(args.orders)))
                elapsed = time.perf_counter() - start
                writes = sum(len(v) for k, v in stats.latencies.items() if k in WRITES)
                print(
                    f"c={c}: {args.orders / elapsed:.1f} orders/s, {writes / elapsed:.0f} writes/s "
                    f"({elapsed:.2f} s)"
                )
                print(f"  {'call':26} {'n':>5} {'p50 ms':>8} {'p99 ms':>8}")
                for name, values in stats.latencies.items():
                    mark = "*" if name in WRITES else " "
                    p50, p99 = statistics.median(values) * 1000, _pct(values, 0.99) * 1000
                    print(f" {mark}{name:26} {len(values):5d} {p50:8.1f} {p99:8.1f}")
                # Each level reuses the stock; put back what it consumed.
                for sku in SKUS:
                    for code in ("THR", "IFN", "TBZ"):
                        await erp.set_stock(sku, code, D(args.orders))
            if load is not None:
                load.cancel()
        finally:
            await erp.close()
            await crm.close()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="Writes are marked * in the table. Each level has CRM orders, accounts and "
        "references of its own and fresh stock, so every level does the same work.",
    )
    parser.add_argument("--orders", type=int, default=200, help="orders per concurrency level")
    parser.add_argument(
        "--concurrency", type=int, nargs="+", default=[1, 10, 50], help="orders at once"
    )
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--pg-host", default="127.0.0.1", help="PostgreSQL host (trust auth)")
    parser.add_argument("--pg-user", default="postgres", help="PostgreSQL user")
    parser.add_argument(
        "--customers",
        choices=["new", "linked"],
        default="new",
        help="new: every order's account is unlinked, so the customer is looked up, created "
        "and linked (the first order of a customer); linked: one account already linked, "
        "as in bench.order_to_cash",
    )
    parser.add_argument(
        "--loop-load-ms",
        type=float,
        default=0.0,
        help="keep the event loop busy in slices of this many ms, as the Temporal worker "
        "sharing it would (0: an idle loop)",
    )
    parser.add_argument(
        "--count-statements",
        action="store_true",
        help="first run one order alone and print the SQL statements each call executes",
    )
    return parser


def main() -> None:
    asyncio.run(run(_parser().parse_args()))


if __name__ == "__main__":
    main()
