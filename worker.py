"""The composition root: settings → adapters → activities → workers.

``python worker.py`` runs the workers against the Temporal server named by the settings
(``PEYVAND_TEMPORAL_ADDRESS``, namespace, TLS or API key). ``python worker.py --embedded`` first
starts the embedded Temporal dev server with its Web UI, seeds the sandbox CRM and ERP, and with
``--demo`` runs the demo batch of orders. Ctrl-C stops everything cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import timedelta
from typing import Any, TypeVar

import structlog
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.approvals import ApprovalActivities
from activities.crm import CrmActivities
from activities.erp import ErpActivities
from activities.returns import CrmReturnActivities, ErpReturnActivities
from adapters.policy_file import FilePolicySource
from adapters.ports import CRMPort, DirectoryPort, ERPPort, PolicySource
from adapters.sandbox import SandboxCRM, SandboxERP, seed_demo
from adapters.sandbox.directory import FileDirectory
from demo import run_demo
from infra import logging as peyvand_logging
from infra.codec import ensure_embedded_key
from infra.devserver import DevServer
from infra.runner import ContextFreeSandboxRunner
from infra.settings import QueueSettings, Settings, callable_host
from infra.startup import StartupError
from infra.temporal import connect
from infra.tracing import shutdown_tracing
from ingress.app import create_app
from ingress.secrets import SecretsError, ensure_embedded_secrets
from ingress.serve import running
from workflows import search_attributes
from workflows.approval_chain.workflow import ApprovalChainWorkflow
from workflows.order_to_cash.workflow import OrderToCashWorkflow
from workflows.return_to_restock.workflow import ReturnToRestockWorkflow

log = structlog.stdlib.get_logger("peyvand.worker")

# The worker's Prometheus endpoint in the embedded run, unless PEYVAND_METRICS_ADDRESS says.
EMBEDDED_METRICS = "127.0.0.1:9464"

WORKFLOWS = [OrderToCashWorkflow, ApprovalChainWorkflow, ReturnToRestockWorkflow]

# The sandbox would re-import our workflow modules for every run, which cost a third of the
# worker's CPU. They are deterministic by review, by the replay tests and by the pre-stop checks,
# so they come in once like the domain models; the SDK's other restrictions still apply.
SANDBOX_RESTRICTIONS = SandboxRestrictions.default.with_passthrough_modules("workflows")


def workflow_runner(client: Client) -> SandboxedWorkflowRunner:
    """The sandbox for ``client``'s converter: the context-free one when the converter allows it
    (``infra/runner.py``), else the SDK's own."""
    try:
        return ContextFreeSandboxRunner.for_converter(client.data_converter, SANDBOX_RESTRICTIONS)
    except ValueError:
        return SandboxedWorkflowRunner(restrictions=SANDBOX_RESTRICTIONS)


async def open_systems(settings: Settings, *, seed: bool = False) -> tuple[SandboxCRM, SandboxERP]:
    """Open the sandbox CRM and ERP (the embedded default), creating their schemas."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    latency = settings.sandbox_latency_ms / 1000
    crm = SandboxCRM(settings.crm_url, latency=latency)
    erp = SandboxERP(settings.erp_url, latency=latency)
    await crm.create_schema()
    await erp.create_schema()
    if seed:
        await seed_demo(crm, erp)
    return crm, erp


ROLES = ("workflows", "crm", "erp")

T = TypeVar("T")


def build_workers(
    client: Client,
    settings: Settings,
    crm: CRMPort | None,
    erp: ERPPort | None,
    roles: Sequence[str] = ROLES,
    *,
    directory: DirectoryPort | None = None,
    policies: PolicySource | None = None,
) -> list[Worker]:
    """One worker per task queue of the roles asked for (workflows, CRM, ERP).

    Each external system gets its own queue and limits, so a slow or rate-limited CRM never takes
    the slots the ERP side needs. The approval activities (policy and directory) run on the CRM
    queue: the directory stands for the CRM or the identity provider.

    By default the ERP's queue is the workflows' (``Settings.erp_task_queue``): one worker then
    runs both, and the server hands it ERP activities with the workflow task that schedules them
    (eager execution: up to three per task, while ERP slots are free), without a trip through
    matching. Workflow tasks and activity tasks have separate slots, so a slow ERP still never
    holds up the workflows. A rate limit on the ERP turns eager execution off, since only tasks
    that pass through the server are counted.

    Args:
        crm: The CRM's adapter; may be None when the ``crm`` role is not built.
        erp: The ERP's adapter; may be None when the ``erp`` role is not built.
        roles: Which of the three to build; a deployment may run each in its own process, so
            the CRM and ERP clients' CPU never slows the workflow tasks.
        directory: Who may approve; default: the file ``settings.directory_file``.
        policies: The approval policy; default: the file ``settings.approval_policy_file``.

    The ``erp`` role also polls ``Settings.erp_drain_task_queues``, where runs started before
    the ERP's queue changed still schedule their ERP calls.

    Raises:
        ValueError: An unknown role, a system role without its adapter, or the CRM and the ERP
            on one queue.
    """
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown worker roles {sorted(unknown)}; choose from {ROLES}")
    if settings.crm_task_queue in settings.erp_queues:
        raise ValueError("the CRM and the ERP need task queues of their own")

    def system(port: T | None, role: str) -> T:
        if port is None:
            raise ValueError(f"the {role} role needs its system's adapter")
        return port

    def activities(role: str) -> tuple[list[Callable[..., Any]], QueueSettings]:
        if role == "crm":
            directory_ = directory or FileDirectory(settings.directory_file)
            approvals = ApprovalActivities(
                directory_,
                policies or FilePolicySource(settings.approval_policy_file, directory_),
            )
            port = system(crm, "crm")
            methods = CrmActivities(port).methods() + CrmReturnActivities(port).methods()
            return methods + approvals.methods(), settings.crm
        erp_ = system(erp, "erp")
        methods = ErpActivities(erp_).methods() + ErpReturnActivities(erp_).methods()
        return methods, settings.erp

    queue_of = {
        "workflows": settings.workflow_task_queue,
        "crm": settings.crm_task_queue,
        "erp": settings.erp_task_queue,
    }
    by_queue: dict[str, list[str]] = {}
    for role in ROLES:
        if role in roles:
            by_queue.setdefault(queue_of[role], []).append(role)
    if "erp" in roles:
        # Runs started while the ERP was elsewhere still schedule their calls there.
        for queue in settings.erp_drain_task_queues:
            if queue not in (settings.erp_task_queue, settings.workflow_task_queue):
                by_queue.setdefault(queue, ["erp"])
    workers = []
    for queue, members in by_queue.items():
        # Built only when asked for: a Worker registers with the SDK core as it is constructed.
        options: dict[str, Any] = {}
        if "workflows" in members:
            options.update(workflows=WORKFLOWS, workflow_runner=workflow_runner(client))
        for role in members:
            if role == "workflows":
                continue
            methods, limits = activities(role)
            options.update(
                activities=methods,
                max_concurrent_activities=limits.max_concurrent_activities,
                max_activities_per_second=limits.max_activities_per_second,
                max_task_queue_activities_per_second=limits.max_task_queue_activities_per_second,
                disable_eager_activity_execution=limits.rate_limited,
            )
        workers.append(
            Worker(
                client, task_queue=queue, graceful_shutdown_timeout=timedelta(seconds=10), **options
            )
        )
    return workers


@contextlib.asynccontextmanager
async def embedded_server(
    settings: Settings, *, codec_endpoint: str | None = None
) -> AsyncIterator[Settings]:
    """Start the embedded dev server and point the settings at it.

    Args:
        codec_endpoint: The codec server the Web UI decrypts payloads with (the ingress's).
    """
    server = DevServer(
        db_file=settings.data_dir / "temporal.sqlite",
        port=settings.dev_server_port,
        ui_port=settings.dev_server_ui_port,
        search_attributes=search_attributes.ALL,
        log_file=settings.data_dir / "temporal.log",
        codec_endpoint=codec_endpoint,
    )
    async with server:
        yield settings.model_copy(
            update={"temporal_address": server.address, "temporal_namespace": "default"}
        )


def _metrics_url(address: str) -> str:
    host, _, port = address.rpartition(":")
    return f"http://{callable_host(host)}:{port}/metrics"


def _report_demo(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("the demo stopped: %s", task.exception(), exc_info=task.exception())


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # SIGHUP too (the terminal closed): the embedded server, in a process group of its own, is
    # then stopped by us rather than left running.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def serve(
    settings: Settings,
    *,
    embedded: bool,
    demo: bool,
    seed: bool,
    roles: Sequence[str] = ROLES,
    ingress: bool = False,
) -> None:
    """Run until SIGINT/SIGTERM: (dev server,) sandbox systems, workers, (ingress,) (demo).

    The embedded server's history is encrypted: with the configured keys, else with
    ``data/codec-keys``, made on the first run (see ``infra/codec.py``).
    """
    stop = _stop_event()
    async with contextlib.AsyncExitStack() as stack:
        stack.callback(shutdown_tracing)  # runs last: spans of the shutdown are flushed too
        if embedded:
            settings = ensure_embedded_key(settings)
            if ingress:
                try:
                    settings = ensure_embedded_secrets(settings)
                except SecretsError as err:
                    raise StartupError(str(err)) from err
            codec = settings.ingress_base_url + "/codec" if ingress else None
            settings = await stack.enter_async_context(
                embedded_server(settings, codec_endpoint=codec)
            )
        crm: SandboxCRM | None = None
        erp: SandboxERP | None = None
        # A workflows-only process talks to no external system, so it needs no database URLs.
        if embedded or seed or demo or {"crm", "erp"} & set(roles):
            crm, erp = await open_systems(settings, seed=seed or embedded)
            stack.push_async_callback(crm.close)
            stack.push_async_callback(erp.close)
        if embedded and settings.metrics_address is None:
            settings = settings.model_copy(update={"metrics_address": EMBEDDED_METRICS})
        client = await connect(settings, metrics=True)
        if settings.metrics_address:
            print(f"peyvand metrics: {_metrics_url(settings.metrics_address)}", flush=True)
        for worker in build_workers(client, settings, crm, erp, roles):
            await stack.enter_async_context(worker)
            log.info(
                "worker polling", task_queue=worker.task_queue, server=settings.temporal_address
            )
        if ingress:
            await stack.enter_async_context(running(create_app(settings, client), settings))
            print(f"peyvand ingress: {settings.ingress_base_url}/docs", flush=True)
        if demo and crm is not None and erp is not None:
            demo_task = asyncio.create_task(run_demo(client, settings, crm, erp))
            demo_task.add_done_callback(_report_demo)
            stack.callback(demo_task.cancel)
        if embedded:
            print(
                f"\nTemporal Web UI: http://localhost:{settings.dev_server_ui_port}  "
                "(Ctrl-C stops everything)\n",
                flush=True,
            )
        await stop.wait()
        log.info("stopping …")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Run the peyvand workers (workflows, CRM activities, ERP activities).",
        epilog="Settings come from PEYVAND_* environment variables or .env; see infra/settings.py.",
    )
    parser.add_argument(
        "--embedded",
        action="store_true",
        help="start the embedded Temporal dev server (Web UI on 8233, history in data/) first",
    )
    parser.add_argument(
        "--demo", action="store_true", help="run the demo batch of orders once the workers run"
    )
    parser.add_argument(
        "--seed", action="store_true", help="seed the sandbox CRM/ERP with demo data (idempotent)"
    )
    parser.add_argument(
        "--roles",
        default=",".join(ROLES),
        help="which workers this process runs, comma-separated, from "
        f"{', '.join(ROLES)} (default: all); e.g. one process per role in a deployment",
    )
    parser.add_argument(
        "--ingress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="serve the HTTP ingress (webhooks, approvals API, codec server) on "
        "PEYVAND_INGRESS_HOST:PORT (default 127.0.0.1:8000); on by default with --embedded",
    )
    args = parser.parse_args(argv)
    roles = [r.strip() for r in args.roles.split(",") if r.strip()]
    if not roles or set(roles) - set(ROLES):
        parser.error(f"--roles: choose one or more of {', '.join(ROLES)}, got {args.roles!r}")
    settings = Settings()
    peyvand_logging.configure(settings.log_level, settings.log_format)
    try:
        asyncio.run(
            serve(
                settings,
                embedded=args.embedded,
                demo=args.demo,
                seed=args.seed,
                roles=roles,
                ingress=args.embedded if args.ingress is None else args.ingress,
            )
        )
    except StartupError as err:
        # A port taken, a server that did not start: the message says what to do.
        raise SystemExit(f"error: {err}") from None


if __name__ == "__main__":
    main()
