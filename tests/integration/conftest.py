"""A real Temporal dev server (the `temporal` CLI from PyPI) for the integration tests, and the
sandbox systems on fresh databases."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from adapters.sandbox import SandboxCRM, SandboxERP, seed_demo
from infra.settings import Settings
from tests.cli import run_python
from tests.conftest import DbFactory
from tests.temporal_envs import dev_server
from worker import build_workers


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """One dev server for the whole session, with peyvand's search attributes registered."""
    env = await dev_server()
    try:
        yield env
    finally:
        await env.shutdown()


def dev_address(env: WorkflowEnvironment) -> str:
    return env.client.service_client.config.target_host


@dataclass
class Stack:
    """Workers on fresh task queues, talking to seeded sandbox systems on fresh databases."""

    client: Client
    settings: Settings
    crm: SandboxCRM
    erp: SandboxERP


def stack_settings(env: WorkflowEnvironment, crm_url: str, erp_url: str) -> Settings:
    queue = f"test-{uuid.uuid4().hex[:8]}"
    return Settings(
        temporal_address=dev_address(env),
        workflow_task_queue=queue,
        crm_task_queue=f"{queue}-crm",
        # The ERP on the workflows' queue, as by default (the ingress tests keep it apart), and
        # its old queue drained, as by default, under a name of this test's own.
        erp_drain_task_queues=[f"{queue}-erp"],
        crm_database_url=crm_url,
        erp_database_url=erp_url,
    )


@pytest.fixture
async def sandbox(make_db_url: DbFactory) -> AsyncIterator[tuple[SandboxCRM, SandboxERP]]:
    crm = SandboxCRM(await make_db_url("sqlite"))
    erp = SandboxERP(await make_db_url("sqlite"))
    await crm.create_schema()
    await erp.create_schema()
    await seed_demo(crm, erp)
    try:
        yield crm, erp
    finally:
        await crm.close()
        await erp.close()


@pytest.fixture
async def stack(
    dev_env: WorkflowEnvironment, sandbox: tuple[SandboxCRM, SandboxERP]
) -> AsyncIterator[Stack]:
    """In-process workers, built by the real composition root, on the seeded sandbox."""
    crm, erp = sandbox
    settings = stack_settings(dev_env, "sqlite+aiosqlite://", "sqlite+aiosqlite://")
    workers = build_workers(dev_env.client, settings, crm, erp)
    for w in workers:
        await w.__aenter__()
    try:
        yield Stack(client=dev_env.client, settings=settings, crm=crm, erp=erp)
    finally:
        for w in reversed(workers):
            await w.__aexit__(None, None, None)


async def run_cli(stack: Stack, *args: str) -> tuple[int, str]:
    """``python starter.py ARGS`` against the stack's server and queues: (exit code, output)."""
    env = {
        **os.environ,
        "PEYVAND_TEMPORAL_ADDRESS": stack.settings.temporal_address,
        "PEYVAND_WORKFLOW_TASK_QUEUE": stack.settings.workflow_task_queue,
        "PEYVAND_CRM_TASK_QUEUE": stack.settings.crm_task_queue,
        "PEYVAND_ERP_TASK_QUEUE": stack.settings.erp_task_queue,
    }
    return await run_python("starter.py", *args, env=env)
