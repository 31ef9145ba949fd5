"""The worker process is SIGKILLed in the middle of an order and started again."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from adapters.sandbox import SandboxCRM, SandboxERP, seed
from domain.orders import OrderStatus
from infra.orders import order_handle, order_input, pay, reached, ship, start_order, wait_for
from infra.settings import ROOT, Settings
from tests.integration.conftest import stack_settings
from tests.integration.test_end_to_end import crm_order

pytestmark = pytest.mark.devserver


class WorkerProcess:
    """``python worker.py --seed`` as a child process with the given environment."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self._env, self._log = env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self._log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, str(ROOT / "worker.py"), "--seed"],
                env=self._env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def settings(dev_env: WorkflowEnvironment, tmp_path: Path) -> Settings:
    """The worker process's settings; the test talks to the same queues and databases."""
    return stack_settings(
        dev_env,
        f"sqlite+aiosqlite:///{tmp_path / 'crm.sqlite'}",
        f"sqlite+aiosqlite:///{tmp_path / 'erp.sqlite'}",
    )


def worker_env(settings: Settings, data_dir: Path) -> dict[str, str]:
    assert settings.crm_database_url and settings.erp_database_url
    return {
        **os.environ,
        "PEYVAND_TEMPORAL_ADDRESS": settings.temporal_address,
        "PEYVAND_WORKFLOW_TASK_QUEUE": settings.workflow_task_queue,
        "PEYVAND_CRM_TASK_QUEUE": settings.crm_task_queue,
        "PEYVAND_ERP_TASK_QUEUE": settings.erp_task_queue,
        "PEYVAND_CRM_DATABASE_URL": settings.crm_database_url,
        "PEYVAND_ERP_DATABASE_URL": settings.erp_database_url,
        # Slow systems, so that the kill lands while activities are in flight.
        "PEYVAND_SANDBOX_LATENCY_MS": "300",
        "PEYVAND_DATA_DIR": str(data_dir),
    }


async def test_order_survives_sigkill_of_the_worker(
    dev_env: WorkflowEnvironment, settings: Settings, tmp_path: Path
) -> None:
    worker = WorkerProcess(worker_env(settings, tmp_path), tmp_path / "worker.log")
    worker.start()
    crm, erp = SandboxCRM(settings.crm_url), SandboxERP(settings.erp_url)
    try:
        for _ in range(300):  # the worker creates and seeds the databases
            if (tmp_path / "erp.sqlite").exists() and await _seeded(erp):
                break
            await asyncio.sleep(0.1)
        before = await erp.stock_snapshot()
        order_id = f"KILL-{uuid.uuid4().hex[:6]}"
        order = crm_order(order_id, seed.ACCOUNT_NOVIN, (seed.SKU_PLC, "2"), (seed.SKU_HMI, "3"))
        await crm.create_order(order)
        client = dev_env.client
        await start_order(client, settings, order_input(settings, order_id))
        # Mid-way: reserving stock, with ERP calls in flight.
        await wait_for(client, order_id, reached(OrderStatus.RESERVING), every=0.02, timeout=60)
        worker.kill()

        worker.start()
        await wait_for(client, order_id, reached(OrderStatus.AWAITING_SHIPMENT), timeout=120)
        await ship(client, erp, order_id)
        state = await wait_for(client, order_id, reached(OrderStatus.AWAITING_PAYMENT), timeout=60)
        assert state.total is not None
        await pay(client, erp, order_id, state.total, f"pay-{order_id}")
        result = await order_handle(client, order_id).result()

        assert result.status is OrderStatus.COMPLETED
        assert await erp.count_documents(f"order-{order_id}/") == {
            "reservations": 2,
            "sales_orders": 1,
            "invoices": 1,
            "payments": 0,
        }
        after = await erp.stock_snapshot()
        moved = {k: before[k][0] - after[k][0] for k in before if before[k] != after[k]}
        assert sum(moved.values()) == 5
        assert all(reserved == 0 for _, reserved in after.values())
    finally:
        worker.stop()
        await crm.close()
        await erp.close()


async def _seeded(erp: SandboxERP) -> bool:
    try:
        return await erp.customers_count() >= len(seed.DEMO_ERP_CUSTOMERS)
    except Exception:
        return False
