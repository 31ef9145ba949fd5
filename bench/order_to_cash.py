"""Order-to-cash throughput and latency, as a ratio against a bare Temporal workflow.

One run starts its own embedded dev server (free ports, a temporary history file) and, in this
process, the real workers on a fresh sandbox CRM/ERP. For each concurrency level it drives N
orders through the automated path (no approval; the "warehouse" ships and the "customer" pays as
soon as the ERP documents exist, each followed by the signal a webhook would send), then runs N
bare workflows made of as many trivial activities on the same server (on average: orders of ours
read back after each round tell how many they made). It prints orders/s, p50/p99 end-to-end
latency, the process's peak RSS, and ours/bare.

    .venv/bin/python -m bench.order_to_cash --orders 200 --concurrency 10 50
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

import psutil
from temporalio.worker import Worker

from adapters.sandbox import SandboxCRM, SandboxERP
from bench.bare import BareWorkflow, noop
from bench.explain import activities_per_run, tasks_per_run
from bench.explain import explain as explain_run
from bench.instant_warehouse import InstantWarehouse
from bench.measure import HEADER, Matched, Meter, Phase, ratio_line, target_lines
from domain.models import CrmAccount, CrmOrder, CrmOrderLine, ErpCustomer, ErpProduct
from infra.devserver import DevServer, free_port
from infra.orders import order_input, start_order
from infra.settings import Settings
from infra.temporal import connect
from tests.fakes import InMemoryCRM, InMemoryERP
from worker import build_workers
from workflows import search_attributes

# Orders of ours read back after each round, to fit the bare workflow's activities to them.
SAMPLED_PER_ROUND = 10


async def _seed(crm: SandboxCRM | InMemoryCRM, erp: SandboxERP | InMemoryERP, orders: int) -> None:
    await erp.upsert_warehouse("THR", "Tehran central", 1)
    await erp.upsert_warehouse("IFN", "Isfahan", 2)
    for sku in ("BENCH-A", "BENCH-B"):
        await erp.upsert_product(
            ErpProduct(sku=sku, name=sku, list_price=Decimal("10.00"), currency="EUR")
        )
        await erp.set_stock(sku, "THR", Decimal(orders * 3))
        await erp.set_stock(sku, "IFN", Decimal(orders * 3))
    await erp.upsert_customer(
        ErpCustomer(
            customer_id="C-BENCH",
            external_ref="ACC-BENCH",
            name="Bench Co.",
            currency="EUR",
            credit_limit=Decimal("1000000000"),
        )
    )
    await crm.upsert_account(
        CrmAccount(account_id="ACC-BENCH", name="Bench Co.", erp_customer_id="C-BENCH")
    )


def _order(order_id: str) -> CrmOrder:
    return CrmOrder(
        order_id=order_id,
        account_id="ACC-BENCH",
        owner="bench",
        currency="EUR",
        lines=[
            CrmOrderLine(
                line_no=i, sku=sku, quantity=Decimal(2), unit_price=Decimal("10"), currency="EUR"
            )
            for i, sku in enumerate(("BENCH-A", "BENCH-B"), start=1)
        ],
    )


async def _start_activity_process(settings: Settings, work: Path) -> asyncio.subprocess.Process:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.activity_process",
        settings.model_dump_json(),
        str(work / "ordered_at.json"),
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdout is not None
    line = await asyncio.wait_for(child.stdout.readline(), timeout=60)
    if line.strip() != b"ready":
        raise RuntimeError(f"the activity process did not start (exit {child.returncode})")
    return child


async def bench(
    orders: int,
    levels: list[int],
    db_url: str | None,
    explain: bool = False,
    crm_db_url: str | None = None,
    systems: str = "sandbox",
    history: str = "file",
    activity_process: bool = False,
    rounds: int = 4,
) -> list[tuple[int, Phase, Phase]]:
    if activity_process and systems != "sandbox":
        raise SystemExit("--activity-process needs --systems sandbox: memory cannot be shared")
    work = Path(tempfile.mkdtemp(prefix="peyvand-bench-"))
    port = free_port()
    server = DevServer(
        db_file=work / "temporal.sqlite" if history == "file" else None,
        port=port,
        ui_port=free_port(),
        search_attributes=search_attributes.ALL,
        log_file=work / "temporal.log",
    )
    results: list[tuple[int, Phase, Phase]] = []
    async with server:
        q = f"bench-{uuid.uuid4().hex[:6]}"
        settings = Settings(
            temporal_address=server.address,
            workflow_task_queue=q,
            crm_task_queue=f"{q}-crm",
            data_dir=work,
            crm_database_url=crm_db_url or f"sqlite+aiosqlite:///{work / 'crm.sqlite'}",
            erp_database_url=db_url or f"sqlite+aiosqlite:///{work / 'erp.sqlite'}",
        )
        client = await connect(settings)
        crm: SandboxCRM | InMemoryCRM
        inner: SandboxERP | InMemoryERP
        if systems == "memory":
            crm, inner = InMemoryCRM(), InMemoryERP()
        else:
            crm, inner = SandboxCRM(settings.crm_url), SandboxERP(settings.erp_url)
        await crm.create_schema()
        await inner.create_schema()
        await _seed(crm, inner, orders * (len(levels) + 1))
        run_id = uuid.uuid4().hex[:4]
        # Every CRM order exists before its workflow starts, as when a webhook announces it:
        # the figures time peyvand's process, not the writing of the demo data.
        for tag, n in [("warm", 1)] + [(f"c{c}", orders) for c in levels]:
            for i in range(n):
                await crm.create_order(_order(f"B{run_id}-{tag}-{i}"))
        erp = InstantWarehouse(inner, inner, client)
        child: asyncio.subprocess.Process | None = None
        others: list[psutil.Process] = []
        if activity_process:
            child = await _start_activity_process(settings, work)
            others = [psutil.Process(child.pid)]
            workers = build_workers(client, settings, crm, erp, roles=("workflows",))
        else:
            workers = build_workers(client, settings, crm, erp)
        workers += [
            Worker(client, task_queue=f"{q}-bare", workflows=[BareWorkflow], activities=[noop])
        ]
        for w in workers:
            await w.__aenter__()
        started: dict[str, float] = {}
        try:

            async def one_order(tag: str, i: int) -> None:
                order_id = f"B{run_id}-{tag}-{i}"
                started[f"order-{order_id}"] = time.time()
                handle = await start_order(client, settings, order_input(settings, order_id))
                result = await handle.result()
                if result.status != "COMPLETED":
                    raise RuntimeError(f"{order_id} ended {result.status}: {result.reason}")

            await one_order("warm", 0)
            meter = Meter(others, psutil.Process(server.pid))
            for c in levels:
                matched = Matched()

                async def ours_one(i: int, c: int = c) -> None:
                    await one_order(f"c{c}", i)

                async def one_bare(i: int, c: int = c, matched: Matched = matched) -> None:
                    await client.execute_workflow(
                        BareWorkflow.run,
                        matched.steps(i),
                        id=f"bare-{run_id}-{c}-{i}",
                        task_queue=f"{q}-bare",
                    )

                async def read_back(items: range, c: int = c, matched: Matched = matched) -> None:
                    picked = items[:: max(1, len(items) // SAMPLED_PER_ROUND)]
                    matched.add(
                        [
                            await activities_per_run(client, f"order-B{run_id}-c{c}-{i}")
                            for i in picked
                        ]
                    )

                names = (f"order-to-cash c={c}", f"bare workflow c={c}")
                ours, bare = await meter.compare(
                    names, orders, c, ours_one, one_bare, rounds, after_ours=read_back
                )
                results.append((c, ours, bare))
                print(
                    f"  c={c}: activities per run, ours (sampled) and so the bare workflow's: "
                    f"{matched.mean:.2f}"
                )
                if explain:
                    await explain_run(client, f"order-B{run_id}-c{c}-{orders // 2}")
                    sample = range(0, orders, max(1, orders // 20))
                    ours_tasks = await tasks_per_run(
                        client, [f"order-B{run_id}-c{c}-{i}" for i in sample]
                    )
                    bare_tasks = await tasks_per_run(
                        client, [f"bare-{run_id}-{c}-{i}" for i in sample]
                    )
                    print(
                        f"  c={c}: workflow tasks per run ({len(sample)} sampled): "
                        f"ours {ours_tasks:.1f}, bare {bare_tasks:.1f}"
                    )
        finally:
            for w in reversed(workers):
                await w.__aexit__(None, None, None)
            ordered_at = erp.ordered_at
            if child is not None:
                child.terminate()
                await child.wait()
                ordered_at = json.loads((work / "ordered_at.json").read_text())
            await erp.drain()
            await crm.close()
            await inner.close()
    for c, ours, _ in results:
        ours.to_erp = [
            ordered_at[wid] - t0
            for wid, t0 in started.items()
            if f"-c{c}-" in wid and wid in ordered_at
        ]
    print(f"(server log and databases in {work})")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=200, help="orders per concurrency level")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--erp-db-url", help="ERP database URL (default: a fresh SQLite file)")
    parser.add_argument("--crm-db-url", help="CRM database URL (default: a fresh SQLite file)")
    parser.add_argument(
        "--systems",
        choices=["sandbox", "memory"],
        default="sandbox",
        help="CRM/ERP behind the workers: the SQL sandbox, or the contract-tested in-memory "
        "systems of tests/fakes.py (measures the orchestration alone)",
    )
    parser.add_argument(
        "--history",
        choices=["file", "memory"],
        default="file",
        help="dev server history in a SQLite file (as the run command keeps it) or in memory",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=4,
        help="ours and the bare workflow take turns in this many rounds per level, so the "
        "machine's drift falls on both (default 4)",
    )
    parser.add_argument(
        "--explain", action="store_true", help="print where one order's time went, per level"
    )
    parser.add_argument(
        "--activity-process",
        action="store_true",
        help="run the CRM and ERP activity workers, with the sandbox systems behind them, in a "
        "second process (as deployed: workers per queue), the workflow worker in this one",
    )
    args = parser.parse_args()
    if not 1 <= args.rounds <= args.orders:
        parser.error("--rounds must be between 1 and --orders")
    results = asyncio.run(
        bench(
            args.orders,
            args.concurrency,
            args.erp_db_url,
            args.explain,
            args.crm_db_url,
            args.systems,
            args.history,
            args.activity_process,
            args.rounds,
        )
    )
    print(HEADER)
    for c, ours, bare in results:
        print(ours.row())
        print(bare.row())
        print(ratio_line(c, ours, bare))
    for line in target_lines(results):
        print(line)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
