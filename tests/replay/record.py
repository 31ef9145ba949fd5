"""Record workflow histories for the replay tests: ``python -m tests.replay.record``.

Run it when a workflow change is *meant* to be compatible, commit the new files only for new
scenarios: the committed ones are what older, still-running executions look like.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle, WorkflowUpdateStage
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.approvals import ApprovalActivities
from activities.crm import CrmActivities
from activities.erp import ErpActivities
from adapters.policy_file import StaticPolicySource
from adapters.sandbox.directory import StaticDirectory
from domain.approval_chain import Directory, DirectoryGroup, DirectoryUser
from domain.models import CrmAccount, CrmOrder, CrmOrderLine, CrmUser, ErpCustomer, ErpProduct
from tests.fakes import InMemoryCRM, InMemoryERP
from tests.temporal_envs import time_skipping
from tests.workflows.conftest import POLICY
from tests.workflows.instant import notify_at_once
from workflows.approval_chain.models import DecideInput
from workflows.approval_chain.workflow import ApprovalChainWorkflow
from workflows.order_to_cash.models import (
    ORDER_TO_CASH_VERSION,
    CancelInput,
    OrderToCashInput,
    OrderToCashResult,
    PaymentNotice,
    ShipmentNotice,
)
from workflows.order_to_cash.workflow import OrderToCashWorkflow

HERE = Path(__file__).parent / "histories"

# A1 is new to the ERP (no credit line), so its orders need finance's approval.
DIRECTORY = Directory(
    users=[DirectoryUser(user_id="boss"), DirectoryUser(user_id="cfo")],
    groups=[
        DirectoryGroup(name="finance", members=["boss"], escalation_group="cfo"),
        DirectoryGroup(name="cfo", members=["cfo"]),
    ],
)


async def _systems() -> tuple[InMemoryCRM, InMemoryERP]:
    crm, erp = InMemoryCRM(), InMemoryERP()
    await crm.upsert_account(CrmAccount(account_id="A1", name="Acme", tax_id="T1"))
    await crm.upsert_user(CrmUser(user_id="boss", name="Boss", roles=["approver"]))
    await erp.upsert_warehouse("THR", "Tehran")
    await erp.upsert_warehouse("IFN", "Isfahan", 2)
    await erp.upsert_product(
        ErpProduct(sku="P1", name="Pump", list_price=Decimal("100"), currency="EUR")
    )
    await erp.set_stock("P1", "THR", Decimal(5))
    await erp.set_stock("P1", "IFN", Decimal(20))
    # A2 has a credit line in the ERP: its orders need no approval.
    await erp.upsert_customer(
        ErpCustomer(
            customer_id="C2", external_ref="A2", name="Bolt", currency="EUR", credit_limit=10000
        )
    )
    await crm.upsert_account(
        CrmAccount(account_id="A2", name="Bolt", tax_id="T2", erp_customer_id="C2")
    )
    for oid, account in (("R1", "A1"), ("R2", "A1"), ("R3", "A2")):
        line = CrmOrderLine(
            line_no=1, sku="P1", quantity=Decimal(8), unit_price=Decimal(100), currency="EUR"
        )
        await crm.create_order(
            CrmOrder(order_id=oid, account_id=account, owner="rep", currency="EUR", lines=[line])
        )
    return crm, erp


async def _save(handle: WorkflowHandle[Any, Any], name: str) -> None:
    history = await handle.fetch_history()
    (HERE / f"{name}.json").write_text(history.to_json())


async def _start(
    client: Client, q: str, order_id: str
) -> WorkflowHandle[OrderToCashWorkflow, OrderToCashResult]:
    """Start order ``order_id`` with the current process version, on this recording's queues."""
    return await client.start_workflow(
        OrderToCashWorkflow.run,
        OrderToCashInput(
            order_id=order_id,
            crm_task_queue=f"{q}-crm",
            erp_task_queue=f"{q}-erp",
            version=ORDER_TO_CASH_VERSION,
        ),
        id=f"order-{order_id}",
        task_queue=q,
    )


async def _completed(client: Client, env: WorkflowEnvironment, q: str, erp: InMemoryERP) -> None:
    """Approval, shipment, invoice, two reminders, two partial payments, closed."""
    handle = await _start(client, q, "R1")
    await env.sleep(10)
    chain = client.get_workflow_handle_for(ApprovalChainWorkflow.run, "approval-order-R1")
    await env.sleep(timedelta(hours=5))  # a reminder first
    await chain.execute_update(
        ApprovalChainWorkflow.decide, DecideInput(approver="boss", approve=True)
    )
    await chain.result()
    await _save(chain, "approval_chain_reminded_approved")
    await env.sleep(10)
    so = await erp.get_sales_order("order-R1/sales-order")
    assert so is not None
    await erp.ship(so.number)
    await handle.signal(OrderToCashWorkflow.shipment_notified, ShipmentNotice())
    await env.sleep(timedelta(days=40))
    state = await handle.query(OrderToCashWorkflow.status)
    assert state.invoice_number is not None
    await erp.record_payment(state.invoice_number, Decimal("300"), "p1")
    await handle.signal(OrderToCashWorkflow.payment_notified, PaymentNotice())
    await env.sleep(timedelta(days=1))
    await erp.record_payment(state.invoice_number, Decimal("500"), "p2")
    await handle.signal(OrderToCashWorkflow.payment_notified, PaymentNotice())
    await handle.result()
    await _save(handle, f"order_v{ORDER_TO_CASH_VERSION}_completed_with_dunning")


async def _cancelled(client: Client, env: WorkflowEnvironment, q: str) -> None:
    """Reserved across two warehouses, waiting for approval, cancelled: compensations run."""
    handle = await _start(client, q, "R2")
    for _ in range(300):
        state = await handle.query(OrderToCashWorkflow.status)
        if state.status == "AWAITING_APPROVAL":
            break
        assert not state.status.is_final, state.reason
        await asyncio.sleep(0.1)
    # Only wait for acceptance: the test server loses the outcome of an update that completes
    # in the same task as the workflow.
    await handle.start_update(
        OrderToCashWorkflow.cancel,
        CancelInput(requested_by="rep", reason="changed mind"),
        wait_for_stage=WorkflowUpdateStage.ACCEPTED,
    )
    await handle.result()
    await _save(handle, f"order_v{ORDER_TO_CASH_VERSION}_cancelled_after_reservation")


async def _at_once(client: Client, q: str, erp: InMemoryERP) -> None:
    """Shipped and paid before the run reaches either wait: never rests until it completes."""
    handle = await _start(client, q, "R3")
    notify_at_once(erp, handle)
    await handle.result()
    await _save(handle, f"order_v{ORDER_TO_CASH_VERSION}_shipped_and_paid_at_once")


async def main() -> None:
    HERE.mkdir(exist_ok=True)
    crm, erp = await _systems()
    env = await time_skipping()
    async with env:
        q = f"record-{uuid.uuid4().hex[:6]}"
        async with (
            Worker(
                env.client, task_queue=q, workflows=[OrderToCashWorkflow, ApprovalChainWorkflow]
            ),
            Worker(
                env.client,
                task_queue=f"{q}-crm",
                activities=CrmActivities(crm).methods()
                + ApprovalActivities(
                    StaticDirectory(DIRECTORY), StaticPolicySource(POLICY)
                ).methods(),
            ),
            Worker(env.client, task_queue=f"{q}-erp", activities=ErpActivities(erp).methods()),
        ):
            await _completed(env.client, env, q, erp)
            await _cancelled(env.client, env, q)
            await _at_once(env.client, q, erp)


if __name__ == "__main__":
    asyncio.run(main())
