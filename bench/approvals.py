"""Approval chains at rest and decided: worker memory while N chains wait, then decisions/s.

One run starts its own embedded dev server (free ports, a temporary history file) and, in this
process, the real workers built by ``worker.build_workers``. It starts N approval chains directly
(not through orders), each with one level of two approvers and a one-day SLA, waits until every
chain has asked its approvers (one CRM task each), and samples the process's RSS while they all
wait. Then it decides every chain through Update ``decide`` and reports decisions per second.

``--bare`` runs the same with ``bench.bare_approval`` instead: a workflow that only waits for its
Update or a timer, with the SDK's defaults. Run both, each in a process of its own, to see what
the chain adds to what any waiting Temporal workflow costs.

    .venv/bin/python -m bench.approvals --chains 1000
    .venv/bin/python -m bench.approvals --chains 1000 --bare
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import psutil
import yaml
from temporalio.client import Client
from temporalio.worker import Worker

from adapters.policy_file import StaticPolicySource
from adapters.sandbox import SandboxCRM
from adapters.sandbox.directory import StaticDirectory
from bench.bare_approval import BareApprovalWorkflow
from domain.approval_chain import Directory, DirectoryGroup, DirectoryUser
from domain.approvals import ApprovalPolicy, LevelSpec
from domain.models import CrmAccount, CrmOrder, CrmOrderLine
from infra.devserver import DevServer, free_port
from infra.settings import ROOT, Settings
from infra.temporal import connect
from tests.fakes import InMemoryCRM, InMemoryERP
from worker import build_workers
from workflows import search_attributes
from workflows.approval_chain.models import ApprovalChainInput, ChainStatus, DecideInput
from workflows.approval_chain.workflow import ApprovalChainWorkflow

RECORD = "BENCH-APPROVALS"
GROUP = "bench_managers"
DIRECTORY = Directory(
    users=[DirectoryUser(user_id=u) for u in ("requester", "approver-1", "approver-2")],
    groups=[DirectoryGroup(name=GROUP, members=["approver-1", "approver-2"])],
)
MB = 2**20


class RssSampler:
    """The process's peak RSS, sampled every 50 ms while running."""

    def __init__(self) -> None:
        self._proc = psutil.Process()
        self.peak = self.now()
        self._task: asyncio.Task[None] | None = None

    def now(self) -> int:
        return int(self._proc.memory_info().rss)

    def __enter__(self) -> RssSampler:
        self.peak = self.now()
        self._task = asyncio.ensure_future(self._sample())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        self.peak = max(self.peak, self.now())

    async def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, self.now())
            await asyncio.sleep(0.05)


async def _gather(n: int, concurrency: int, one: Callable[[int], Awaitable[None]]) -> None:
    sem = asyncio.Semaphore(concurrency)

    async def run(i: int) -> None:
        async with sem:
            await one(i)

    await asyncio.gather(*(run(i) for i in range(n)))


def _chain_input(settings: Settings) -> ApprovalChainInput:
    return ApprovalChainInput(
        request_kind="order",
        record_id=RECORD,
        business_key=f"bench-{RECORD}",
        requester="requester",
        amount=Decimal("12000"),
        currency="EUR",
        reasons=["benchmark"],
        policy_version="bench",
        levels=[LevelSpec(group=GROUP, sla=timedelta(days=1), deadline=timedelta(days=3))],
        crm_task_queue=settings.crm_task_queue,
    )


async def _activity_process(settings: Settings, work: Path) -> asyncio.subprocess.Process:
    """``worker.py --roles crm,erp`` on the same sandbox files, as a deployment would run it."""
    directory_file = work / "directory.yaml"
    directory_file.write_text(yaml.safe_dump(DIRECTORY.model_dump(mode="json")))
    env = {
        **os.environ,
        "PEYVAND_TEMPORAL_ADDRESS": settings.temporal_address,
        "PEYVAND_WORKFLOW_TASK_QUEUE": settings.workflow_task_queue,
        "PEYVAND_CRM_TASK_QUEUE": settings.crm_task_queue,
        "PEYVAND_ERP_TASK_QUEUE": settings.erp_task_queue,
        "PEYVAND_CRM_DATABASE_URL": settings.crm_url,
        "PEYVAND_ERP_DATABASE_URL": settings.erp_url,
        "PEYVAND_DATA_DIR": str(work),
        "PEYVAND_DIRECTORY_FILE": str(directory_file),
    }
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "worker.py"),
        "--roles",
        "crm,erp",
        env=env,
        stderr=asyncio.subprocess.PIPE,
    )
    assert child.stderr is not None
    while True:
        line = await asyncio.wait_for(child.stderr.readline(), timeout=60)
        if not line:
            raise RuntimeError(f"the activity process exited ({await child.wait()})")
        if settings.erp_task_queue.encode() in line and b"polling" in line:
            break
    # Keep reading its output, so a full pipe never blocks it.
    asyncio.ensure_future(child.stderr.read())
    return child


async def bench(
    chains: int, concurrency: int, systems: str, hold: float, bare: bool, activities: str
) -> None:
    if activities == "process" and systems != "sandbox":
        raise SystemExit("--activities process needs --systems sandbox: memory cannot be shared")
    work = Path(tempfile.mkdtemp(prefix="peyvand-bench-approvals-"))
    server = DevServer(
        db_file=work / "temporal.sqlite",
        port=free_port(),
        ui_port=free_port(),
        search_attributes=search_attributes.ALL,
        log_file=work / "temporal.log",
    )
    async with server:
        q = f"bench-{uuid.uuid4().hex[:6]}"
        settings = Settings(
            temporal_address=server.address,
            workflow_task_queue=q,
            crm_task_queue=f"{q}-crm",
            # A queue of its own: chains call no ERP, and the activity process reports ready
            # when its ERP worker polls this queue.
            erp_task_queue=f"{q}-erp",
            data_dir=work,
            crm_database_url=f"sqlite+aiosqlite:///{work / 'crm.sqlite'}",
            erp_database_url=f"sqlite+aiosqlite:///{work / 'erp.sqlite'}",
        )
        client = await connect(settings)
        crm: SandboxCRM | InMemoryCRM = (
            InMemoryCRM() if systems == "memory" else SandboxCRM(settings.crm_url)
        )
        await crm.create_schema()
        await crm.upsert_account(CrmAccount(account_id="ACC-BENCH", name="Bench Co."))
        line = CrmOrderLine(
            line_no=1, sku="X", quantity=Decimal(1), unit_price=Decimal(1), currency="EUR"
        )
        await crm.create_order(
            CrmOrder(
                order_id=RECORD, account_id="ACC-BENCH", owner="bench", currency="EUR", lines=[line]
            )
        )
        child = None
        if bare:
            workers = [Worker(client, task_queue=f"{q}-bare", workflows=[BareApprovalWorkflow])]
        elif activities == "process":
            child = await _activity_process(settings, work)
            workers = build_workers(client, settings, crm, InMemoryERP(), roles=("workflows",))
        else:
            workers = build_workers(
                client,
                settings,
                crm,
                InMemoryERP(),
                directory=StaticDirectory(DIRECTORY),
                policies=StaticPolicySource(ApprovalPolicy(version="bench", base_currency="EUR")),
            )
        for w in workers:
            await w.__aenter__()
        try:
            if bare:
                await _run_bare(client, f"{q}-bare", chains, concurrency, hold)
            else:
                where = "in this process" if child is None else "in a process of their own"
                print(f"CRM activities {where}; the CRM is {systems}")
                await _run(client, settings, crm, chains, concurrency, hold)
        finally:
            for w in reversed(workers):
                await w.__aexit__(None, None, None)
            if child is not None:
                child.terminate()
                await child.wait()
            await crm.close()
    print(f"(server log and databases in {work})")


async def _requests(crm: SandboxCRM | InMemoryCRM) -> int:
    return sum(1 for t in await crm.tasks(RECORD) if "/request/" in t.key)


async def _run(
    client: Client,
    settings: Settings,
    crm: SandboxCRM | InMemoryCRM,
    chains: int,
    concurrency: int,
    hold: float,
) -> None:
    run = uuid.uuid4().hex[:4]

    async def start(tag: str, i: int) -> None:
        await client.start_workflow(
            ApprovalChainWorkflow.run,
            _chain_input(settings),
            id=f"approval-bench-{run}-{tag}-{i}",
            task_queue=settings.workflow_task_queue,
        )

    async def decide(tag: str, i: int) -> None:
        handle = client.get_workflow_handle_for(
            ApprovalChainWorkflow.run, f"approval-bench-{run}-{tag}-{i}"
        )
        view = await handle.execute_update(
            ApprovalChainWorkflow.decide,
            DecideInput(approver=f"approver-{1 + i % 2}", approve=True),
        )
        if view.status is not ChainStatus.APPROVED:
            raise RuntimeError(f"chain {handle.id} is {view.status}")

    # Warm-up: one chain through, so imports and caches are in the baseline.
    await start("warm", 0)
    while await _requests(crm) < 2:
        await asyncio.sleep(0.1)
    await decide("warm", 0)
    await asyncio.sleep(1)
    gc.collect()
    sampler = RssSampler()
    baseline = sampler.now()

    with sampler:
        t0 = time.perf_counter()
        await _gather(chains, concurrency, lambda i: start("c", i))
        while await _requests(crm) < 2 * (chains + 1):
            await asyncio.sleep(0.2)
        all_pending = time.perf_counter() - t0
        await asyncio.sleep(hold)  # at rest: timers set, workflows cached, nothing to do
        gc.collect()
        at_rest = sampler.now()
    pending_peak = sampler.peak

    with sampler:
        t1 = time.perf_counter()
        await _gather(chains, concurrency, lambda i: decide("c", i))
        deciding = time.perf_counter() - t1
        for i in range(chains):
            handle = client.get_workflow_handle(f"approval-bench-{run}-c-{i}")
            await handle.result()
        closed = time.perf_counter() - t1
    decide_peak = sampler.peak

    print(f"approval chains: {chains}, {concurrency} concurrent starts/decisions")
    print(f"  all pending after       {all_pending:8.1f} s ({chains / all_pending:.0f} chains/s)")
    grew, rest = (pending_peak - baseline) / MB, (at_rest - baseline) / MB
    print(f"  worker RSS baseline     {baseline / MB:8.0f} MB")
    print(f"  peak while pending      {pending_peak / MB:8.0f} MB  (+{grew:.0f} MB)")
    print(f"  at rest after {hold:.0f} s      {at_rest / MB:8.0f} MB  (+{rest:.0f} MB)")
    print(f"  decisions               {chains / deciding:8.1f} /s  ({deciding:.1f} s for {chains})")
    print(f"  all chains closed after {closed:8.1f} s (notes and tasks written, tasks closed)")
    print(f"  peak while deciding     {decide_peak / MB:8.0f} MB")


async def _run_bare(client: Client, queue: str, n: int, concurrency: int, hold: float) -> None:
    run = uuid.uuid4().hex[:4]

    async def start(i: int) -> None:
        await client.start_workflow(
            BareApprovalWorkflow.run, i, id=f"bare-approval-{run}-{i}", task_queue=queue
        )

    async def decide(i: int) -> None:
        handle = client.get_workflow_handle_for(
            BareApprovalWorkflow.run, f"bare-approval-{run}-{i}"
        )
        await handle.execute_update(BareApprovalWorkflow.decide, True)

    await start(-1)
    await decide(-1)
    await asyncio.sleep(1)
    gc.collect()
    sampler = RssSampler()
    baseline = sampler.now()
    with sampler:
        await _gather(n, concurrency, start)
        # Each waits on its timer once its first workflow task ran: give them time to.
        await asyncio.sleep(hold)
        gc.collect()
        at_rest = sampler.now()
    with sampler:
        t1 = time.perf_counter()
        await _gather(n, concurrency, decide)
        deciding = time.perf_counter() - t1
    grew, rest = (sampler.peak - baseline) / MB, (at_rest - baseline) / MB
    print(f"bare waiting workflows: {n}, {concurrency} concurrent starts/decisions")
    print(f"  worker RSS baseline     {baseline / MB:8.0f} MB")
    print(f"  at rest after {hold:.0f} s      {at_rest / MB:8.0f} MB  (+{rest:.0f} MB)")
    print(f"  peak                    {sampler.peak / MB:8.0f} MB  (+{grew:.0f} MB)")
    print(f"  decisions               {n / deciding:8.1f} /s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chains", type=int, default=1000, help="chains pending at once")
    parser.add_argument("--concurrency", type=int, default=50, help="concurrent starts/decisions")
    parser.add_argument(
        "--systems",
        choices=["memory", "sandbox"],
        default="memory",
        help="the CRM behind the workers: the in-memory one of tests/fakes.py, or the SQL sandbox",
    )
    parser.add_argument("--hold", type=float, default=5.0, help="seconds to hold them pending")
    parser.add_argument(
        "--bare", action="store_true", help="the baseline: bare waiting workflows instead"
    )
    parser.add_argument(
        "--activities",
        choices=["inline", "process"],
        default="inline",
        help="run the CRM activities in this process, or in 'worker.py --roles crm,erp' (needs "
        "--systems sandbox): then the RSS figures are the workflow worker's alone",
    )
    args = parser.parse_args()
    asyncio.run(
        bench(args.chains, args.concurrency, args.systems, args.hold, args.bare, args.activities)
    )


if __name__ == "__main__":
    main()
