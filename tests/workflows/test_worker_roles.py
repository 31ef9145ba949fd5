"""``worker.build_workers`` by role and queue: a workflows-only process needs no external system;
the ERP shares the workflows' queue by default, so one worker runs both and takes ERP activities
eagerly, unless a rate limit needs every call to pass through the server."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from infra.settings import QueueSettings, Settings
from tests.fakes import InMemoryCRM, InMemoryERP
from worker import WORKFLOWS, build_workers


@pytest.fixture(autouse=True)
def _no_queue_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for queue in ("WORKFLOW", "CRM", "ERP"):
        monkeypatch.delenv(f"PEYVAND_{queue}_TASK_QUEUE", raising=False)


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def _activity_names(worker: Worker) -> set[str]:
    return {
        getattr(fn, "__temporal_activity_definition").name
        for fn in worker.config().get("activities", [])
    }


def test_the_erp_follows_the_workflow_queue_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _settings().erp_task_queue == "peyvand-orders"
    assert _settings(workflow_task_queue="acme-orders").erp_task_queue == "acme-orders"
    assert _settings(erp_task_queue="acme-erp").erp_task_queue == "acme-erp"
    monkeypatch.setenv("PEYVAND_ERP_TASK_QUEUE", "from-env")
    assert _settings(workflow_task_queue="acme-orders").erp_task_queue == "from-env"


def test_a_queue_needs_a_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PEYVAND_ERP_TASK_QUEUE", "")
    with pytest.raises(ValidationError, match="erp_task_queue"):
        _settings()


def test_the_crm_and_the_erp_never_share_a_queue() -> None:
    with pytest.raises(ValidationError, match="the CRM and the ERP share the task queue"):
        _settings(crm_task_queue="peyvand-orders")
    with pytest.raises(ValidationError, match="the CRM and the ERP share the task queue"):
        _settings(crm_task_queue="shared", erp_task_queue="shared")


async def test_by_default_one_worker_runs_the_workflows_and_the_erp(
    env: WorkflowEnvironment,
) -> None:
    workers = build_workers(env.client, _settings(), InMemoryCRM(), InMemoryERP())
    assert [w.task_queue for w in workers] == ["peyvand-orders", "peyvand-crm", "peyvand-erp"]
    orders, crm, legacy = workers
    assert orders.config().get("workflows") == WORKFLOWS
    assert "erp_create_sales_order" in _activity_names(orders)
    assert not any(name.startswith("crm_") for name in _activity_names(orders))
    assert orders.config().get("disable_eager_activity_execution") is False
    # The SDK's default: free ERP slots bound how many ERP activities can be taken eagerly.
    assert orders.config().get("max_concurrent_activities") == 100
    assert crm.config().get("max_concurrent_activities") == 20
    assert {"crm_fetch_order", "approval_plan"} <= _activity_names(crm)
    assert not any(name.startswith("erp_") for name in _activity_names(crm))
    assert not crm.config().get("workflows")
    # Runs started when the ERP had its own default queue still schedule there.
    assert _activity_names(legacy) == {
        n for n in _activity_names(orders) if n.startswith("erp_")
    } and not legacy.config().get("workflows")


async def test_each_queue_keeps_its_own_limits(env: WorkflowEnvironment) -> None:
    settings = _settings(
        crm=QueueSettings(max_concurrent_activities=3),
        erp=QueueSettings(max_concurrent_activities=7, max_task_queue_activities_per_second=5.0),
    )
    orders, crm, legacy = build_workers(env.client, settings, InMemoryCRM(), InMemoryERP())
    assert orders.config().get("max_concurrent_activities") == 7
    assert legacy.config().get("max_task_queue_activities_per_second") == 5.0
    assert orders.config().get("max_task_queue_activities_per_second") == 5.0
    # The server counts only tasks that pass through its queue: a rate turns eager off.
    assert orders.config().get("disable_eager_activity_execution") is True
    assert crm.config().get("max_concurrent_activities") == 3
    assert crm.config().get("disable_eager_activity_execution") is False


async def test_an_erp_queue_of_its_own_gets_a_worker_of_its_own(env: WorkflowEnvironment) -> None:
    workers = build_workers(
        env.client, _settings(erp_task_queue="peyvand-erp"), InMemoryCRM(), InMemoryERP()
    )
    assert [w.task_queue for w in workers] == ["peyvand-orders", "peyvand-crm", "peyvand-erp"]
    assert not _activity_names(workers[0])


async def test_workflows_role_alone_needs_no_adapters(env: WorkflowEnvironment) -> None:
    (workflows,) = build_workers(env.client, _settings(), None, None, ["workflows"])
    assert workflows.task_queue == "peyvand-orders"
    assert not _activity_names(workflows)


async def test_each_system_role_asks_for_its_adapter(env: WorkflowEnvironment) -> None:
    with pytest.raises(ValueError, match="the crm role needs"):
        build_workers(env.client, _settings(), None, InMemoryERP(), ["workflows", "crm"])
    with pytest.raises(ValueError, match="the erp role needs"):
        build_workers(env.client, _settings(), InMemoryCRM(), None, ["erp"])
    with pytest.raises(ValueError, match="unknown worker roles"):
        build_workers(env.client, _settings(), None, None, ["billing"])
    # A process of the system roles alone polls the ERP's activities on the workflows' queue;
    # the workflow tasks there go to the workflows process.
    both = build_workers(
        env.client,
        _settings(erp_drain_task_queues=[]),
        InMemoryCRM(),
        InMemoryERP(),
        ["crm", "erp"],
    )
    assert [w.task_queue for w in both] == ["peyvand-crm", "peyvand-orders"]
    assert not both[1].config().get("workflows")


async def test_erp_drain_queues_are_polled_by_the_erp_role_only(env: WorkflowEnvironment) -> None:
    settings = _settings(erp_drain_task_queues=["old-erp", "peyvand-orders", "older-erp"])
    queues = [
        w.task_queue for w in build_workers(env.client, settings, None, InMemoryERP(), ["erp"])
    ]
    assert queues == ["peyvand-orders", "old-erp", "older-erp"]  # the current one only once
    queues = [
        w.task_queue for w in build_workers(env.client, settings, InMemoryCRM(), None, ["crm"])
    ]
    assert queues == ["peyvand-crm"]
    with pytest.raises(ValidationError, match="the CRM and the ERP share"):
        _settings(erp_drain_task_queues=["peyvand-crm"])


async def test_settings_changed_after_validation_still_keep_the_crm_apart(
    env: WorkflowEnvironment,
) -> None:
    settings = _settings().model_copy(update={"crm_task_queue": "peyvand-orders"})
    with pytest.raises(ValueError, match="task queues of their own"):
        build_workers(env.client, settings, InMemoryCRM(), InMemoryERP())
