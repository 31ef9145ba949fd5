"""Order-to-cash workflow tests on the time-skipping test server.

Every test gets its own server (``env``), fresh in-memory fakes, its own task
queues and workers (``o2c``), seeded with the same small world:

* warehouses THR (lead 1 day) and IFN (lead 2 days), in that ERP order;
* products P1 (100 EUR), P2 (50 EUR), P3 (10 USD); stock P1: THR 5, IFN 10; P2: THR 20, IFN 5;
  P3: THR 100;
* CRM users: ``rep`` (sales and approver, owns the orders), ``boss`` and ``cfo`` (approvers),
  ``clerk`` (no approver role);
* the shipped approval policy (``config/approval-policy.yaml``) over a small directory
  (``DIRECTORY``): ``sales_manager`` = rep, boss (escalates to ``sales_director`` = director);
  ``finance`` = fin (escalates to ``cfo`` = cfo); ``deputy`` and ``clerk`` are in no group,
  ``gone`` is inactive;
* CRM account ``A-LINKED`` already linked to ERP customer ``C-900001`` (credit 1,000,000), and
  ``A-NEW`` (not linked, nothing matches it in the ERP).

Time only skips while the client awaits ``handle.result()`` or ``env.sleep``: helpers wait with
short ``env.sleep`` steps, never with real sleeps.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.approvals import ApprovalActivities
from activities.crm import CrmActivities
from activities.erp import ErpActivities
from adapters.policy_file import StaticPolicySource
from adapters.sandbox.directory import StaticDirectory, load_yaml
from domain.approval_chain import Directory, DirectoryGroup, DirectoryUser
from domain.approvals import parse_policy
from domain.models import (
    CrmAccount,
    CrmOrder,
    CrmOrderLine,
    CrmOrderStatus,
    CrmUser,
    ErpCustomer,
    ErpProduct,
)
from domain.orders import OrderPolicy, OrderStatus
from infra.settings import ROOT
from tests.fakes import InMemoryCRM, InMemoryERP
from tests.temporal_envs import time_skipping
from tests.workflows.instant import notify_at_once
from workflows.approval_chain.models import ChainState, chain_id
from workflows.approval_chain.workflow import ApprovalChainWorkflow
from workflows.order_to_cash.models import (
    ORDER_TO_CASH_VERSION,
    OrderState,
    OrderToCashInput,
    OrderToCashResult,
    ShipmentNotice,
    workflow_id,
)
from workflows.order_to_cash.workflow import OrderToCashWorkflow

LINKED_ACCOUNT = "A-LINKED"
LINKED_CUSTOMER = "C-900001"
NEW_ACCOUNT = "A-NEW"
OWNER = "rep"
# What the CRM order shows, in turn, for an order that goes straight through to cash.
STRAIGHT_CRM_STATUSES = [
    CrmOrderStatus.IN_PROGRESS,
    CrmOrderStatus.CONFIRMED,
    CrmOrderStatus.SHIPPED,
    CrmOrderStatus.INVOICED,
    CrmOrderStatus.CLOSED,
]

Handle = WorkflowHandle[OrderToCashWorkflow, OrderToCashResult]

POLICY = parse_policy(load_yaml(ROOT / "config" / "approval-policy.yaml"))
DIRECTORY = Directory(
    users=[
        DirectoryUser(user_id=u)
        for u in ("rep", "boss", "director", "fin", "cfo", "deputy", "clerk")
    ]
    + [DirectoryUser(user_id="gone", active=False)],
    groups=[
        DirectoryGroup(
            name="sales_manager", members=["rep", "boss"], escalation_group="sales_director"
        ),
        DirectoryGroup(name="sales_director", members=["director"], escalation_group="cfo"),
        DirectoryGroup(name="finance", members=["fin"], escalation_group="cfo"),
        DirectoryGroup(name="cfo", members=["cfo"]),
    ],
)
Line = tuple[str, int | str, int | str]  # (sku, quantity, unit price)


@pytest.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping test server of the test's own, with peyvand's search attributes.

    One per test, not per session: after a refused Update the server sometimes holds its clock
    for half a minute, and a later test's ``env.sleep`` then times out. A server starts in
    about 0.1 s.
    """
    environment = await time_skipping()
    try:
        yield environment
    finally:
        await environment.shutdown()


async def seed(crm: InMemoryCRM, erp: InMemoryERP) -> None:
    """The small world every test starts from (see the module docstring)."""
    await erp.upsert_warehouse("THR", "Tehran", 1)
    await erp.upsert_warehouse("IFN", "Isfahan", 2)
    await erp.upsert_product(
        ErpProduct(sku="P1", name="Pump", list_price=Decimal("100"), currency="EUR")
    )
    await erp.upsert_product(
        ErpProduct(sku="P2", name="Valve", list_price=Decimal("50"), currency="EUR")
    )
    await erp.upsert_product(
        ErpProduct(sku="P3", name="Gasket", list_price=Decimal("10"), currency="USD")
    )
    await erp.set_stock("P1", "THR", Decimal(5))
    await erp.set_stock("P1", "IFN", Decimal(10))
    await erp.set_stock("P2", "THR", Decimal(20))
    await erp.set_stock("P2", "IFN", Decimal(5))
    await erp.set_stock("P3", "THR", Decimal(100))
    await erp.upsert_customer(
        ErpCustomer(
            customer_id=LINKED_CUSTOMER,
            external_ref=LINKED_ACCOUNT,
            name="Linked Co",
            tax_id="TAX-LINKED",
            email="buyer@linked.example",
            currency="EUR",
            credit_limit=Decimal("1000000"),
        )
    )
    await crm.upsert_account(
        CrmAccount(
            account_id=LINKED_ACCOUNT,
            name="Linked Co",
            tax_id="TAX-LINKED",
            email="buyer@linked.example",
            erp_customer_id=LINKED_CUSTOMER,
        )
    )
    await crm.upsert_account(
        CrmAccount(account_id=NEW_ACCOUNT, name="New Co", tax_id="TAX-NEW", email="a@new.example")
    )
    await crm.upsert_user(CrmUser(user_id=OWNER, name="Rep", roles=["sales", "approver"]))
    await crm.upsert_user(CrmUser(user_id="boss", name="Boss", roles=["approver"]))
    await crm.upsert_user(CrmUser(user_id="cfo", name="CFO", roles=["approver"]))
    await crm.upsert_user(CrmUser(user_id="clerk", name="Clerk", roles=["sales"]))


class O2C:
    """One test's world: fresh fakes, its own task queues and running workers."""

    def __init__(self, env: WorkflowEnvironment, version: int = ORDER_TO_CASH_VERSION) -> None:
        self.env = env
        self.version = version  # of the process the orders start with
        self.crm = InMemoryCRM()
        self.erp = InMemoryERP()
        self.queue = f"o2c-{uuid.uuid4().hex}"
        self.handles: list[Handle] = []
        self.directory = DIRECTORY.model_copy(deep=True)

    # -- orders ---------------------------------------------------------------------------

    async def order(
        self,
        lines: Iterable[Line] = (("P1", 8, 100),),
        *,
        account_id: str | None = LINKED_ACCOUNT,
        currency: str = "EUR",
        line_currencies: Iterable[str] | None = None,
        **fields: Any,
    ) -> str:
        """Create a CRM order owned by ``rep`` with a unique id; returns the id."""
        order_id = f"O-{uuid.uuid4().hex[:10]}"
        lines = list(lines)
        currencies = list(line_currencies or [currency] * len(lines))
        await self.crm.create_order(
            CrmOrder(
                order_id=order_id,
                account_id=account_id,
                owner=OWNER,
                currency=currency,
                lines=[
                    CrmOrderLine(
                        line_no=n,
                        sku=sku,
                        quantity=Decimal(qty),
                        unit_price=Decimal(price),
                        currency=cur,
                    )
                    for n, ((sku, qty, price), cur) in enumerate(
                        zip(lines, currencies, strict=True), start=1
                    )
                ],
                **fields,
            )
        )
        return order_id

    def input(self, order_id: str, **fields: Any) -> OrderToCashInput:
        """The input this world's orders start with (its queues and version), with ``fields``."""
        values: dict[str, Any] = {
            "crm_task_queue": f"{self.queue}-crm",
            "erp_task_queue": f"{self.queue}-erp",
            "version": self.version,
            **fields,
        }
        return OrderToCashInput(order_id=order_id, **values)

    async def start(
        self, order_id: str, policy: OrderPolicy | None = None, requested_by: str | None = None
    ) -> Handle:
        handle = await self.env.client.start_workflow(
            OrderToCashWorkflow.run,
            self.input(order_id, requested_by=requested_by, policy=policy or OrderPolicy()),
            id=workflow_id(order_id),
            task_queue=self.queue,
        )
        self.handles.append(handle)
        return handle

    # -- observing ------------------------------------------------------------------------

    async def state(self, handle: Handle) -> OrderState:
        return await handle.query(OrderToCashWorkflow.status)

    async def wait_for(
        self,
        handle: Handle,
        *statuses: OrderStatus,
        step: timedelta = timedelta(seconds=1),
        steps: int = 120,
    ) -> OrderState:
        """Poll the ``status`` query, skipping ``step`` of server time between polls."""
        state = await self.state(handle)
        for _ in range(steps):
            if state.status in statuses:
                return state
            await self.env.sleep(step)
            state = await self.state(handle)
        raise AssertionError(
            f"order {state.order_id} is {state.status} ({state.detail}), "
            f"not {[s.value for s in statuses]}; events: "
            + "; ".join(f"{e.kind}: {e.detail}" for e in state.events)
        )

    async def settle(
        self, handle: Handle, until: Callable[[OrderState], bool], steps: int = 120
    ) -> OrderState:
        """Poll until ``until(state)`` holds, one server second per step."""
        for _ in range(steps):
            state = await self.state(handle)
            if until(state):
                return state
            await self.env.sleep(1)
        raise AssertionError(f"condition never held; last state: {state}")

    def chain(self, order_id: str) -> WorkflowHandle[Any, Any]:
        """The handle of the order's approval chain."""
        return self.env.client.get_workflow_handle_for(
            ApprovalChainWorkflow.run, chain_id(workflow_id(order_id))
        )

    async def chain_state(self, order_id: str) -> ChainState:
        state: ChainState = await self.chain(order_id).query(ApprovalChainWorkflow.state)
        return state

    async def chain_ready(self, order_id: str, steps: int = 60) -> ChainState:
        """Wait, one server second per step, until the order's approval chain exists and has
        planned its levels (it takes decisions from then on)."""
        for _ in range(steps):
            try:
                chain = await self.chain_state(order_id)
                if chain.levels:
                    return chain
            except RPCError:
                pass  # not started yet
            await self.env.sleep(1)
        raise AssertionError(f"the approval chain of {order_id} never planned its levels")

    async def crm_statuses(self, order_id: str) -> list[CrmOrderStatus]:
        return [u.status for u in await self.crm.status_history(order_id)]

    async def ship(self, handle: Handle, *, signal: bool = True) -> None:
        """Ship the order's sales order in the ERP, optionally telling the workflow."""
        state = await self.state(handle)
        assert state.erp_order_number is not None
        await self.erp.ship(state.erp_order_number)
        if signal:
            await handle.signal(OrderToCashWorkflow.shipment_notified, ShipmentNotice())

    def notify_at_once(
        self,
        handle: Handle,
        *,
        ship: bool = True,
        pay: bool = True,
        pay_part: Decimal | None = None,
    ) -> None:
        """``notify_at_once`` on this world's ERP."""
        notify_at_once(self.erp, handle, ship=ship, pay=pay, pay_part=pay_part)

    async def crm_shows(
        self, order_id: str, expected: list[CrmOrderStatus], steps: int = 30
    ) -> None:
        """Wait, one server second per step, until the CRM order's history is ``expected``:
        CRM changes go out in activities of their own, after the status that sends them."""
        found: list[CrmOrderStatus] = []
        for _ in range(steps):
            found = await self.crm_statuses(order_id)
            if found == expected:
                return
            await self.env.sleep(1)
        raise AssertionError(f"the CRM shows {found}, not {expected}")

    async def cleanup(self) -> None:
        """Terminate what is still running so later time skips do not wake it."""
        for handle in self.handles:
            try:
                await handle.terminate("test finished")
            except RPCError:
                pass  # already closed


@asynccontextmanager
async def running_world(env: WorkflowEnvironment, version: int) -> AsyncIterator[O2C]:
    """A fresh world whose orders start with ``version``, its three workers running."""
    world = O2C(env, version=version)
    await seed(world.crm, world.erp)
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(
            Worker(
                env.client,
                task_queue=world.queue,
                workflows=[OrderToCashWorkflow, ApprovalChainWorkflow],
            )
        )
        await stack.enter_async_context(
            Worker(
                env.client,
                task_queue=f"{world.queue}-crm",
                activities=CrmActivities(world.crm).methods()
                + ApprovalActivities(
                    StaticDirectory(world.directory), StaticPolicySource(POLICY)
                ).methods(),
            )
        )
        await stack.enter_async_context(
            Worker(
                env.client,
                task_queue=f"{world.queue}-erp",
                activities=ErpActivities(world.erp).methods(),
            )
        )
        try:
            yield world
        finally:
            await world.cleanup()


@pytest.fixture(params=[ORDER_TO_CASH_VERSION, 2, 1], ids=lambda v: f"v{v}")
async def o2c(env: WorkflowEnvironment, request: pytest.FixtureRequest) -> AsyncIterator[O2C]:
    """A fresh world with the workflow worker and the CRM and ERP activity workers running.

    Every test runs with the process new orders follow, with version 2 (orders started before
    version 3 are still running) and with version 1, which runs recorded before versions existed
    still follow.
    """
    async with running_world(env, request.param) as world:
        yield world


@pytest.fixture
async def o2c_latest(env: WorkflowEnvironment) -> AsyncIterator[O2C]:
    """The world of ``o2c`` with the newest process version only."""
    async with running_world(env, ORDER_TO_CASH_VERSION) as world:
        yield world
