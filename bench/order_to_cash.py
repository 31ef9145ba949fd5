"""Order-to-cash throughput and latency, as a ratio against a bare Temporal workflow.

One run starts its own embedded dev server (free ports, a temporary history file) and, in this
process, the real workers on a fresh sandbox CRM/ERP. For each concurrency level it drives N
orders through the automated path (no approval; the "warehouse" ships and the "customer" pays as
soon as the ERP documents exist, each followed by the signal a webhook would send), then runs N
bare workflows made of the same number of trivial activities on the same server. It prints
orders/s, p50/p99 end-to-end latency, the process's peak RSS, and ours/bare.

    .venv/bin/python -m bench.order_to_cash --orders 200 --concurrency 10 50
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import psutil
from temporalio.client import Client
from temporalio.worker import Worker

from adapters.sandbox import SandboxCRM, SandboxERP
from bench.bare import BareWorkflow, noop
from bench.instant_warehouse import InstantWarehouse
from domain.models import CrmAccount, CrmOrder, CrmOrderLine, ErpCustomer, ErpProduct
from infra.devserver import DevServer, free_port
from infra.orders import order_input, start_order
from infra.settings import Settings
from infra.temporal import connect
from tests.fakes import InMemoryCRM, InMemoryERP
from worker import build_workers
from workflows import search_attributes


@dataclass
class Phase:
    name: str
    latencies: list[float]
    seconds: float
    peak_rss_mb: float
    to_erp: list[float] | None = None  # start → ERP sales order exists (the buyers' KPI)
    cpu_seconds: float = 0.0  # CPU this process used during the phase (all threads)
    server_cpu_seconds: float = 0.0  # CPU the Temporal dev server used during the phase

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def row(self) -> str:
        to_erp = "-"
        if self.to_erp:
            ordered = sorted(self.to_erp)
            p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
            to_erp = f"{statistics.median(ordered) * 1000:.0f}/{p99 * 1000:.0f}"
        return (
            f"{self.name:28} {len(self.latencies):5d} {self.per_second:9.1f} "
            f"{statistics.median(self.latencies) * 1000:9.0f} {self.pct(0.99) * 1000:9.0f} "
            f"{self.peak_rss_mb:9.0f} {to_erp:>14} {self.cpu_seconds / self.seconds:8.0%} "
            f"{self.cpu_seconds / len(self.latencies) * 1000:9.0f} "
            f"{self.server_cpu_seconds / len(self.latencies) * 1000:9.0f}"
        )


async def _measure(
    name: str,
    n: int,
    concurrency: int,
    one: Callable[[int], Awaitable[None]],
    others: Sequence[psutil.Process] = (),
    server: psutil.Process | None = None,
) -> Phase:
    """Run ``one`` n times, ``concurrency`` at once; memory and CPU are those of this process
    plus ``others`` (the activity process, when there is one); the server's CPU apart."""
    procs = [psutil.Process(), *others]

    def server_cpu() -> float:
        return sum(server.cpu_times()[:2]) if server is not None else 0.0

    def rss() -> int:
        return sum(p.memory_info().rss for p in procs)

    def cpu() -> float:
        return sum(sum(p.cpu_times()[:2]) for p in procs)

    peak = rss()
    sem = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def run(i: int) -> None:
        async with sem:
            t0 = time.perf_counter()
            await one(i)
            latencies.append(time.perf_counter() - t0)

    async def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, rss())
            await asyncio.sleep(0.05)

    sampler = asyncio.create_task(sample())
    cpu0, server0 = cpu(), server_cpu()
    start = time.perf_counter()
    await asyncio.gather(*(run(i) for i in range(n)))
    elapsed = time.perf_counter() - start
    used = cpu() - cpu0
    sampler.cancel()
    return Phase(
        name,
        latencies,
        elapsed,
        peak / 2**20,
        cpu_seconds=used,
        server_cpu_seconds=server_cpu() - server0,
    )


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


async def _activities_per_order(client: Client, order_id: str) -> int:
    handle = client.get_workflow_handle(f"order-{order_id}")
    history = await handle.fetch_history()
    return sum(1 for e in history.events if e.HasField("activity_task_scheduled_event_attributes"))


async def _explain(client: Client, workflow_id: str) -> None:
    """Print where one order's time went: queue wait and run time of each activity."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    first = history.events[0].event_time.ToDatetime()
    scheduled: dict[int, tuple[str, float]] = {}
    started: dict[int, float] = {}
    print(f"timeline of {workflow_id} (ms from start: activity, waited in queue, ran):")
    for e in history.events:
        t = (e.event_time.ToDatetime() - first).total_seconds() * 1000
        if e.HasField("activity_task_scheduled_event_attributes"):
            name = e.activity_task_scheduled_event_attributes.activity_type.name
            scheduled[e.event_id] = (name, t)
        elif e.HasField("activity_task_started_event_attributes"):
            started[e.activity_task_started_event_attributes.scheduled_event_id] = t
        elif e.HasField("activity_task_completed_event_attributes"):
            sid = e.activity_task_completed_event_attributes.scheduled_event_id
            name, t0 = scheduled[sid]
            t1 = started.get(sid, t0)
            print(f"  {t0:7.0f} {name:26} queue {t1 - t0:6.0f}  run {t - t1:6.0f}")
        elif e.HasField("workflow_execution_signaled_event_attributes"):
            print(f"  {t:7.0f} signal {e.workflow_execution_signaled_event_attributes.signal_name}")
    print(
        f"  {(history.events[-1].event_time.ToDatetime() - first).total_seconds() * 1000:7.0f} end"
    )
    # Each workflow task is a round trip and a history write on the server: the bare workflow of
    # n activities has n + 1.
    tasks = sum(1 for e in history.events if e.HasField("workflow_task_completed_event_attributes"))
    print(f"  {len(history.events)} history events, {tasks} workflow tasks")


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
            erp_task_queue=f"{q}-erp",
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
        server_proc = psutil.Process(server.pid)
        try:

            async def one_order(tag: str, i: int) -> None:
                order_id = f"B{run_id}-{tag}-{i}"
                started[f"order-{order_id}"] = time.time()
                handle = await start_order(client, settings, order_input(settings, order_id))
                result = await handle.result()
                if result.status != "COMPLETED":
                    raise RuntimeError(f"{order_id} ended {result.status}: {result.reason}")

            await one_order("warm", 0)
            steps = await _activities_per_order(client, f"B{run_id}-warm-0")
            for c in levels:

                async def ours_one(i: int, c: int = c) -> None:
                    await one_order(f"c{c}", i)

                ours = await _measure(
                    f"order-to-cash c={c}", orders, c, ours_one, others, server_proc
                )

                async def one_bare(i: int, c: int = c) -> None:
                    await client.execute_workflow(
                        BareWorkflow.run,
                        steps,
                        id=f"bare-{run_id}-{c}-{i}",
                        task_queue=f"{q}-bare",
                    )

                bare = await _measure(
                    f"bare {steps} activities c={c}", orders, c, one_bare, others, server_proc
                )
                results.append((c, ours, bare))
                if explain:
                    await _explain(client, f"order-B{run_id}-c{c}-{orders // 2}")
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
    print(f"(activities per order: {steps}; server log and databases in {work})")
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
        "--explain", action="store_true", help="print where one order's time went, per level"
    )
    parser.add_argument(
        "--activity-process",
        action="store_true",
        help="run the CRM and ERP activity workers, with the sandbox systems behind them, in a "
        "second process (as deployed: workers per queue), the workflow worker in this one",
    )
    args = parser.parse_args()
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
        )
    )
    print(
        f"{'phase':28} {'n':>5} {'per s':>9} {'p50 ms':>9} {'p99 ms':>9} {'RSS MB':>9} "
        f"{'to ERP p50/p99':>14} {'CPU':>8} {'CPU ms/wf':>9} {'srv ms/wf':>9}"
    )
    for c, ours, bare in results:
        print(ours.row())
        print(bare.row())
        print(
            f"  c={c}: ratio ours/bare (throughput) = {ours.per_second / bare.per_second:.2f}; "
            f"p50 {statistics.median(ours.latencies) * 1000:.0f} ms"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
