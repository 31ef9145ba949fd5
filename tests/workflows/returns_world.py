"""The world of the return-to-restock workflow tests: the sandbox CRM and ERP on SQLite files (the
issue asks for the inventory numbers on the sandbox ERP), a delivered and invoiced order, and
workers on the time-skipping server.

The order ``R-1`` (sales order of customer C-R, shipped and invoiced): line 1 is 4 × P1 at
100 EUR less 10 %, line 2 is 10 × P2 at 50 EUR; tax 9 %. Stock after shipping: P1 THR 6, IFN 10;
P2 THR 10, IFN 5. P2 is in category ``perishable`` (a 7-day return window).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.approvals import ApprovalActivities
from activities.crm import CrmActivities
from activities.returns import CrmReturnActivities, ErpReturnActivities
from adapters.delegating import DelegatingERP
from adapters.policy_file import StaticPolicySource
from adapters.sandbox import SandboxCRM, SandboxERP
from adapters.sandbox.directory import StaticDirectory
from domain.approval_chain import Directory, DirectoryGroup, DirectoryUser
from domain.errors import PeyvandError, SystemUnavailable
from domain.models import (
    CrmAccount,
    CrmOrder,
    CrmOrderLine,
    CrmOrderStatus,
    CrmStatusUpdate,
    CrmUser,
    ErpCustomer,
    ErpProduct,
    InvoiceRequest,
    SalesOrderLine,
    SalesOrderRequest,
)
from domain.return_rules import ReturnPolicy
from domain.returns import (
    CreditNote,
    CreditNoteRequest,
    CrmCase,
    CrmCaseLine,
    Restock,
    RestockRequest,
    ReturnAuthorization,
    ReturnAuthorizationRequest,
    WriteOff,
    WriteOffRequest,
)
from tests.workflows.conftest import POLICY
from workflows.approval_chain.workflow import ApprovalChainWorkflow
from workflows.return_to_restock.models import (
    ReturnState,
    ReturnStatus,
    ReturnToRestockInput,
    ReturnToRestockResult,
    workflow_id,
)
from workflows.return_to_restock.workflow import ReturnToRestockWorkflow

ReturnHandle = WorkflowHandle[ReturnToRestockWorkflow, ReturnToRestockResult]

# Returns over 1,000 EUR go to the sales managers (config/approval-policy.yaml).
DIRECTORY = Directory(
    users=[DirectoryUser(user_id=u) for u in ("agent", "boss", "fin", "cfo")],
    groups=[
        DirectoryGroup(name="sales_manager", members=["agent", "boss"], escalation_group="cfo"),
        DirectoryGroup(name="finance", members=["fin"], escalation_group="cfo"),
        DirectoryGroup(name="cfo", members=["cfo"]),
    ],
)


class FaultyERP(DelegatingERP):
    """The sandbox ERP with faults: ``fail`` raises before the write, ``lose`` loses the first
    reply of a write after it committed (so the activity's retry must find the document)."""

    def __init__(self, erp: SandboxERP) -> None:
        super().__init__(erp)
        self.fail: dict[str, PeyvandError] = {}
        self.lose: set[str] = set()
        self.lost: list[str] = []

    def _before(self, name: str) -> None:
        error = self.fail.pop(name, None)
        if error is not None:
            raise error

    def _after(self, name: str) -> None:
        if name in self.lose:
            self.lose.discard(name)
            self.lost.append(name)
            raise SystemUnavailable(f"reply of {name} lost after commit", system="erp")

    async def create_return_authorization(
        self, request: ReturnAuthorizationRequest
    ) -> ReturnAuthorization:
        self._before("authorize")
        out = await super().create_return_authorization(request)
        self._after("authorize")
        return out

    async def restock_return(self, request: RestockRequest) -> Restock:
        self._before("restock")
        out = await super().restock_return(request)
        self._after("restock")
        return out

    async def reverse_restock(self, reference: str) -> Restock | None:
        self._before("reverse_restock")
        out = await super().reverse_restock(reference)
        self._after("reverse_restock")
        return out

    async def write_off_return(self, request: WriteOffRequest) -> WriteOff:
        self._before("write_off")
        out = await super().write_off_return(request)
        self._after("write_off")
        return out

    async def create_credit_note(self, request: CreditNoteRequest) -> CreditNote:
        self._before("credit_note")
        out = await super().create_credit_note(request)
        self._after("credit_note")
        return out


class Returns:
    """One test's world: sandbox systems on fresh SQLite files, its own queues and workers."""

    def __init__(self, env: WorkflowEnvironment, crm: SandboxCRM, erp: SandboxERP) -> None:
        self.env = env
        self.crm = crm
        self.erp = erp
        self.faulty = FaultyERP(erp)
        self.queue = f"returns-{uuid.uuid4()}"
        self.handles: list[ReturnHandle] = []
        self.so_number = ""
        self.invoice_number = ""

    async def seed(self) -> None:
        crm, erp = self.crm, self.erp
        await erp.upsert_warehouse("THR", "Tehran", 1)
        await erp.upsert_warehouse("IFN", "Isfahan", 2)
        await erp.upsert_product(
            ErpProduct(sku="P1", name="Pump", list_price=Decimal("100"), currency="EUR")
        )
        await erp.upsert_product(
            ErpProduct(
                sku="P2",
                name="Seal kit",
                list_price=Decimal("50"),
                currency="EUR",
                category="perishable",
            )
        )
        await erp.set_stock("P1", "THR", Decimal(10))
        await erp.set_stock("P1", "IFN", Decimal(10))
        await erp.set_stock("P2", "THR", Decimal(20))
        await erp.set_stock("P2", "IFN", Decimal(5))
        await erp.upsert_customer(
            ErpCustomer(
                customer_id="C-R",
                external_ref="A-R",
                name="Return Co",
                currency="EUR",
                credit_limit=Decimal("1000000"),
            )
        )
        await crm.upsert_account(
            CrmAccount(account_id="A-R", name="Return Co", erp_customer_id="C-R")
        )
        await crm.upsert_user(CrmUser(user_id="agent", name="Agent", roles=["service"]))
        await crm.create_order(
            CrmOrder(
                order_id="R-1",
                account_id="A-R",
                owner="agent",
                currency="EUR",
                tax_pct=Decimal(9),
                lines=[
                    CrmOrderLine(
                        line_no=1,
                        sku="P1",
                        quantity=Decimal(4),
                        unit_price=Decimal(100),
                        discount_pct=Decimal(10),
                        currency="EUR",
                    ),
                    CrmOrderLine(
                        line_no=2,
                        sku="P2",
                        quantity=Decimal(10),
                        unit_price=Decimal(50),
                        currency="EUR",
                    ),
                ],
            )
        )
        so = await erp.create_sales_order(
            SalesOrderRequest(
                reference="order-R-1/sales-order",
                customer_id="C-R",
                currency="EUR",
                tax_pct=Decimal(9),
                crm_order_id="R-1",
                lines=[
                    SalesOrderLine(
                        line_no=1,
                        sku="P1",
                        quantity=Decimal(4),
                        unit_price=Decimal(100),
                        discount_pct=Decimal(10),
                    ),
                    SalesOrderLine(
                        line_no=2, sku="P2", quantity=Decimal(10), unit_price=Decimal(50)
                    ),
                ],
            )
        )
        await erp.ship(so.number)
        invoice = await erp.create_invoice(
            InvoiceRequest(reference="order-R-1/invoice", sales_order_number=so.number)
        )
        self.so_number, self.invoice_number = so.number, invoice.number
        await crm.update_order_status(
            CrmStatusUpdate(
                key="order-R-1/confirmed",
                order_id="R-1",
                status=CrmOrderStatus.CONFIRMED,
                erp_order_number=so.number,
            )
        )
        await self._big_order()

    async def _big_order(self) -> None:
        """R-2: 5 motors at 800 EUR, shipped and invoiced; returns of it need approval."""
        crm, erp = self.crm, self.erp
        await erp.upsert_product(
            ErpProduct(sku="P3", name="Motor", list_price=Decimal("800"), currency="EUR")
        )
        await erp.set_stock("P3", "THR", Decimal(20))
        line = {"line_no": 1, "sku": "P3", "quantity": Decimal(5), "unit_price": Decimal(800)}
        await crm.create_order(
            CrmOrder(
                order_id="R-2",
                account_id="A-R",
                owner="agent",
                currency="EUR",
                tax_pct=Decimal(9),
                lines=[CrmOrderLine(currency="EUR", **line)],
            )
        )
        so = await erp.create_sales_order(
            SalesOrderRequest(
                reference="order-R-2/sales-order",
                customer_id="C-R",
                currency="EUR",
                tax_pct=Decimal(9),
                crm_order_id="R-2",
                lines=[SalesOrderLine(**line)],
            )
        )
        await erp.ship(so.number)
        await erp.create_invoice(
            InvoiceRequest(reference="order-R-2/invoice", sales_order_number=so.number)
        )
        await crm.update_order_status(
            CrmStatusUpdate(
                key="order-R-2/confirmed",
                order_id="R-2",
                status=CrmOrderStatus.CONFIRMED,
                erp_order_number=so.number,
            )
        )

    async def case(
        self,
        case_id: str,
        lines: list[tuple[int, str, int | str]],
        requested_on: date | None = None,
        order_id: str = "R-1",
    ) -> str:
        """Open a return case on an order: ``(order line, sku, quantity)`` per line."""
        when = requested_on or (await self.env.get_current_time()).date()
        await self.crm.create_case(
            CrmCase(
                case_id=case_id,
                order_id=order_id,
                owner="agent",
                subject="Customer returns goods",
                requested_on=when,
                lines=[
                    CrmCaseLine(line_no=n, sku=sku, quantity=Decimal(str(q))) for n, sku, q in lines
                ],
            )
        )
        return case_id

    async def start(self, case_id: str, policy: ReturnPolicy | None = None) -> ReturnHandle:
        handle = await self.env.client.start_workflow(
            ReturnToRestockWorkflow.run,
            ReturnToRestockInput(
                case_id=case_id,
                policy=policy or ReturnPolicy(window_days_by_category={"perishable": 7}),
                crm_task_queue=f"{self.queue}-crm",
                erp_task_queue=f"{self.queue}-erp",
            ),
            id=workflow_id(case_id),
            task_queue=self.queue,
        )
        self.handles.append(handle)
        return handle

    async def state(self, handle: ReturnHandle) -> ReturnState:
        return await handle.query(ReturnToRestockWorkflow.status)

    async def wait_for(self, handle: ReturnHandle, status: ReturnStatus) -> ReturnState:
        """Let (virtual) time pass in small steps until the return reaches ``status``."""
        for _ in range(400):
            state = await self.state(handle)
            if state.status is status:
                return state
            if state.status.is_final:
                raise AssertionError(f"ended {state.status}: {state.reason}")
            await self.env.sleep(timedelta(seconds=1))
        raise AssertionError(f"never reached {status}; at {state.status}: {state.detail}")

    async def on_hand(self) -> dict[tuple[str, str], Decimal]:
        return {key: level[0] for key, level in (await self.erp.stock_snapshot()).items()}

    async def cleanup(self) -> None:
        for handle in self.handles:
            try:
                await handle.terminate("test finished")
            except Exception:  # noqa: BLE001 - already closed is fine
                pass


async def returns_world(env: WorkflowEnvironment, tmp: Path) -> AsyncIterator[Returns]:
    """Build the world, run its workers, and clean up (the fixture's body)."""
    crm = SandboxCRM(f"sqlite+aiosqlite:///{tmp / 'crm.sqlite'}")
    erp = SandboxERP(f"sqlite+aiosqlite:///{tmp / 'erp.sqlite'}")
    await crm.create_schema()
    await erp.create_schema()
    world = Returns(env, crm, erp)
    await world.seed()
    workers: list[Any] = [
        Worker(
            env.client,
            task_queue=world.queue,
            workflows=[ReturnToRestockWorkflow, ApprovalChainWorkflow],
        ),
        Worker(
            env.client,
            task_queue=f"{world.queue}-crm",
            activities=CrmActivities(crm).methods()
            + CrmReturnActivities(crm).methods()
            + ApprovalActivities(StaticDirectory(DIRECTORY), StaticPolicySource(POLICY)).methods(),
        ),
        Worker(
            env.client,
            task_queue=f"{world.queue}-erp",
            activities=ErpReturnActivities(world.faulty).methods(),
        ),
    ]
    async with AsyncExitStack() as stack:
        for worker in workers:
            await stack.enter_async_context(worker)
        try:
            yield world
        finally:
            await world.cleanup()
    await crm.close()
    await erp.close()
