"""``worker.build_workers`` by role: a workflows-only process needs no external system."""

from __future__ import annotations

import pytest
from temporalio.testing import WorkflowEnvironment

from infra.settings import Settings
from tests.fakes import InMemoryCRM, InMemoryERP
from worker import build_workers


def _settings() -> Settings:
    return Settings(_env_file=None)  # type: ignore[call-arg]


async def test_workflows_role_alone_needs_no_adapters(env: WorkflowEnvironment) -> None:
    workers = build_workers(env.client, _settings(), None, None, ["workflows"])
    assert [w.task_queue for w in workers] == ["peyvand-orders"]


async def test_each_system_role_asks_for_its_adapter(env: WorkflowEnvironment) -> None:
    with pytest.raises(ValueError, match="the crm role needs"):
        build_workers(env.client, _settings(), None, InMemoryERP(), ["workflows", "crm"])
    with pytest.raises(ValueError, match="the erp role needs"):
        build_workers(env.client, _settings(), InMemoryCRM(), None, ["erp"])
    with pytest.raises(ValueError, match="unknown worker roles"):
        build_workers(env.client, _settings(), None, None, ["billing"])
    both = build_workers(env.client, _settings(), InMemoryCRM(), InMemoryERP(), ["crm", "erp"])
    assert [w.task_queue for w in both] == ["peyvand-crm", "peyvand-erp"]
