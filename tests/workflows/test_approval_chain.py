"""The approval chain on its own: validator refusals that leave no history, 'all' and N-of-M
levels, reminder, escalation and expiry on the time-skipping server, delegation, out-of-office,
the signal form, and the CRM notes and tasks it leaves."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from domain.approval_chain import LevelOutcome, OutOfOffice
from domain.approvals import ApprovalMode, ExpiryOutcome, LevelSpec
from tests.workflows.conftest import O2C
from tests.workflows.history import update_events
from workflows.approval_chain.models import (
    ApprovalChainInput,
    ChainState,
    ChainStatus,
    DecideInput,
    DelegateInput,
)
from workflows.approval_chain.workflow import ApprovalChainWorkflow

Chain = WorkflowHandle[Any, Any]
DAY = timedelta(days=1)


def level(group: str, mode: ApprovalMode = ApprovalMode.ANY, **fields: Any) -> LevelSpec:
    return LevelSpec(group=group, mode=mode, **fields)


async def start_chain(
    o2c: O2C, *levels: LevelSpec, requester: str = "rep", owner: str | None = "rep"
) -> tuple[str, Chain]:
    record = await o2c.order()  # a CRM order for the notes and tasks
    cid = f"approval-test-{uuid.uuid4().hex[:8]}"
    handle = await o2c.env.client.start_workflow(
        ApprovalChainWorkflow.run,
        ApprovalChainInput(
            request_kind="order",
            record_id=record,
            business_key=f"order-{record}",
            requester=requester,
            owner=owner,
            amount=Decimal("12000"),
            currency="EUR",
            reasons=["a test"],
            policy_version="test-1",
            levels=list(levels),
            crm_task_queue=f"{o2c.queue}-crm",
        ),
        id=cid,
        task_queue=o2c.queue,
    )
    await settle(o2c, handle, lambda s: bool(s.levels))
    return record, handle


async def state(handle: Chain) -> ChainState:
    result: ChainState = await handle.query(ApprovalChainWorkflow.state)
    return result


async def settle(o2c: O2C, handle: Chain, until: Any, steps: int = 60) -> ChainState:
    for _ in range(steps):
        try:
            current = await state(handle)
            if until(current):
                return current
        except RPCError:
            pass  # not started yet
        await o2c.env.sleep(1)
    raise AssertionError(f"condition never held: {await state(handle)}")


async def decide(handle: Chain, approver: str, approve: bool = True, comment: str = "") -> Any:
    return await handle.execute_update(
        ApprovalChainWorkflow.decide,
        DecideInput(approver=approver, approve=approve, comment=comment),
    )


async def refused(handle: Chain, approver: str, approve: bool = True) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await decide(handle, approver, approve)
    cause = info.value.cause
    assert isinstance(cause, ApplicationError)
    return cause.message


NO_UPDATES = {"admitted": 0, "accepted": 0, "rejected": 0, "completed": 0}


async def test_each_refusal_is_refused_before_history(o2c: O2C) -> None:
    # boss asks for an order that rep owns; fin holds the one seat of finance.
    _, handle = await start_chain(o2c, level("finance"), requester="boss", owner="rep")
    assert "requester" in await refused(handle, "boss")
    assert "record's owner" in await refused(handle, "rep")
    assert "not an approver of level 1 (finance)" in await refused(handle, "clerk")
    assert "not an approver" in await refused(handle, "cfo", approve=False)
    assert await update_events(handle) == NO_UPDATES
    assert not [e for e in (await state(handle)).events if e.kind != "requested"]

    view = await decide(handle, "fin")
    assert view.status is ChainStatus.APPROVED
    assert "finished" in await refused(handle, "fin")
    counts = await update_events(handle)
    assert (counts["accepted"], counts["completed"], counts["rejected"]) == (1, 1, 0)


async def test_all_level_needs_everyone_and_a_second_decision_is_refused(o2c: O2C) -> None:
    o2c.directory.groups[2].members = ["fin", "cfo", "deputy"]
    record, handle = await start_chain(o2c, level("finance", ApprovalMode.ALL))
    view = await decide(handle, "fin", comment="ok")
    assert (view.status, view.pending) == (ChainStatus.PENDING, ["cfo", "deputy"])
    assert "already decided at level 1" in await refused(handle, "fin", approve=False)
    await decide(handle, "cfo")
    view = await decide(handle, "deputy")
    assert view.status is ChainStatus.APPROVED
    result = await handle.result()
    assert result.status is ChainStatus.APPROVED
    assert result.levels[0].approved_by == ["fin", "cfo", "deputy"]
    assert sorted((await o2c.crm.task_statuses(record)).values()) == ["approved"] * 3


async def test_all_level_is_rejected_by_one(o2c: O2C) -> None:
    o2c.directory.groups[2].members = ["fin", "cfo"]
    _, handle = await start_chain(o2c, level("finance", ApprovalMode.ALL), level("cfo"))
    await decide(handle, "fin")
    view = await decide(handle, "cfo", approve=False, comment="too risky")
    assert view.status is ChainStatus.REJECTED
    result = await handle.result()
    assert result.status is ChainStatus.REJECTED
    assert (result.decided_by, result.comment) == ("cfo", "too risky")
    assert len(result.levels) == 1  # the cfo level never opened


async def test_n_of_m_level(o2c: O2C) -> None:
    o2c.directory.groups[2].members = ["fin", "cfo", "deputy"]
    spec = level("finance", ApprovalMode.N_OF_M, required=2)
    _, handle = await start_chain(o2c, spec)
    view = await decide(handle, "fin", approve=False)
    assert view.status is ChainStatus.PENDING  # 2 of the 2 others can still approve
    view = await decide(handle, "cfo")
    assert view.status is ChainStatus.PENDING and view.pending == ["deputy"]
    view = await decide(handle, "deputy")
    assert view.status is ChainStatus.APPROVED

    _, handle = await start_chain(o2c, spec)
    await decide(handle, "fin", approve=False)
    view = await decide(handle, "cfo", approve=False)
    assert view.status is ChainStatus.REJECTED  # 2 approvals can no longer be reached


async def test_levels_run_in_order(o2c: O2C) -> None:
    _, handle = await start_chain(o2c, level("sales_manager"), level("finance"), level("cfo"))
    view = await decide(handle, "boss")
    assert view.status is ChainStatus.PENDING
    await settle(o2c, handle, lambda s: s.current == 1)
    assert "not an approver of level 2 (finance)" in await refused(handle, "boss")
    await decide(handle, "fin")
    await settle(o2c, handle, lambda s: s.current == 2)
    view = await decide(handle, "cfo")
    assert view.status is ChainStatus.APPROVED
    result = await handle.result()
    assert [lv.outcome for lv in result.levels] == [LevelOutcome.APPROVED] * 3
    assert [e.level for e in result.events if e.kind == "decided"] == [1, 2, 3]


async def test_reminder_then_escalation_then_escalation_group_decides(o2c: O2C) -> None:
    record, handle = await start_chain(o2c, level("sales_manager", sla=DAY, deadline=3 * DAY))
    key = handle.id
    assert await o2c.crm.task_statuses(record) == {f"{key}/L1/request/boss": "open"}

    await o2c.env.sleep(timedelta(hours=11))
    assert [e.kind for e in (await state(handle)).events] == ["requested"]
    await o2c.env.sleep(timedelta(hours=2))  # past half the SLA
    current = await settle(o2c, handle, lambda s: s.events[-1].kind == "reminded")
    assert not current.levels[0].escalated
    assert f"{key}/L1/reminder/boss" in await o2c.crm.task_statuses(record)
    assert "not an approver" in await refused(handle, "director")

    await o2c.env.sleep(timedelta(hours=12))  # past the SLA
    current = await settle(o2c, handle, lambda s: s.events[-1].kind == "escalated")
    assert current.levels[0].escalated
    assert current.levels[0].pending() == ["boss", "director"]
    assert "to sales_director" in current.events[-1].detail
    assert f"{key}/L1/escalation/director" in await o2c.crm.task_statuses(record)

    view = await decide(handle, "director", comment="on behalf of sales")
    assert view.status is ChainStatus.APPROVED
    result = await handle.result()
    assert [e.kind for e in result.events] == [
        "requested",
        "reminded",
        "escalated",
        "decided",
        "finished",
    ]
    assert set((await o2c.crm.task_statuses(record)).values()) == {"approved"}
    notes = await o2c.crm.notes(record)
    assert len(notes) == len(result.events)
    assert notes[3].subject == "Approval decided (level 1) by director"


@pytest.mark.parametrize(
    ("on_expiry", "status"),
    [(ExpiryOutcome.REJECT, ChainStatus.EXPIRED), (ExpiryOutcome.APPROVE, ChainStatus.APPROVED)],
)
async def test_final_deadline(o2c: O2C, on_expiry: ExpiryOutcome, status: ChainStatus) -> None:
    spec = level("finance", sla=timedelta(hours=8), deadline=2 * DAY, on_expiry=on_expiry)
    record, handle = await start_chain(o2c, spec)
    await o2c.env.sleep(timedelta(days=1, hours=23))
    assert (await state(handle)).status is ChainStatus.PENDING
    await o2c.env.sleep(timedelta(hours=2))
    result = await handle.result()
    assert result.status is status
    assert result.levels[0].expired_as is on_expiry
    assert [e.kind for e in result.events][-2:] == ["expired", "finished"]
    assert set((await o2c.crm.task_statuses(record)).values()) == {"expired"}


async def test_too_few_eligible_escalates_at_once(o2c: O2C) -> None:
    # rep is the requester and boss the owner: nobody of sales_manager may decide.
    _, handle = await start_chain(o2c, level("sales_manager"), requester="rep", owner="boss")
    current = await state(handle)
    assert current.levels[0].seats == {} and current.levels[0].escalated
    assert current.levels[0].pending() == ["director"]
    assert (await decide(handle, "director")).status is ChainStatus.APPROVED


async def test_delegation(o2c: O2C) -> None:
    record, handle = await start_chain(o2c, level("finance"))
    for to, why in (
        ("rep", "four-eyes"),
        ("fin", "themselves"),
        ("cfo", "escalation group"),
    ):
        with pytest.raises(WorkflowUpdateFailedError) as info:
            await handle.execute_update(
                ApprovalChainWorkflow.delegate, DelegateInput(holder="fin", delegate=to)
            )
        assert why in str(info.value.cause)
    assert await update_events(handle) == NO_UPDATES
    # Known only to the directory: refused by the handler, after acceptance.
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await handle.execute_update(
            ApprovalChainWorkflow.delegate, DelegateInput(holder="fin", delegate="gone")
        )
    assert "not an active user" in str(info.value.cause)

    view = await handle.execute_update(
        ApprovalChainWorkflow.delegate,
        DelegateInput(holder="fin", delegate="deputy", comment="on leave"),
    )
    assert view.pending == ["deputy"]
    assert "handed this decision to deputy" in await refused(handle, "fin")
    view = await decide(handle, "deputy")
    assert view.status is ChainStatus.APPROVED
    result = await handle.result()
    delegated = [e for e in result.events if e.kind == "delegated"]
    assert [(e.actor, e.detail) for e in delegated] == [("fin", "to deputy: on leave")]
    key = handle.id
    assert await o2c.crm.task_statuses(record) == {
        f"{key}/L1/request/fin": "delegated",
        f"{key}/L1/delegated/deputy": "approved",
    }


async def test_out_of_office_member_is_replaced_by_the_delegate(o2c: O2C) -> None:
    now = await o2c.env.get_current_time()
    o2c.directory.out_of_office = [
        OutOfOffice(user="boss", delegate="deputy", starts=now - DAY, ends=now + DAY),
        OutOfOffice(user="fin", delegate="clerk", starts=now + DAY),  # not yet
    ]
    _, handle = await start_chain(o2c, level("sales_manager"), level("finance"))
    assert (await state(handle)).levels[0].seats == {"boss": "deputy"}
    assert "handed this decision to deputy" in await refused(handle, "boss")
    await decide(handle, "deputy")
    current = await settle(o2c, handle, lambda s: s.current == 1)
    assert current.levels[1].seats == {"fin": "fin"}


async def test_signal_decisions_refused_are_recorded_valid_one_applied(o2c: O2C) -> None:
    record, handle = await start_chain(o2c, level("finance"))
    for who in ("clerk", "rep"):
        await handle.signal(
            ApprovalChainWorkflow.decide_signal, DecideInput(approver=who, approve=True)
        )
    current = await settle(o2c, handle, lambda s: sum(e.kind == "refused" for e in s.events) == 2)
    refused_events = [e for e in current.events if e.kind == "refused"]
    assert [e.actor for e in refused_events] == ["clerk", "rep"]
    assert "not an approver" in refused_events[0].detail
    assert "four-eyes" in refused_events[1].detail
    assert current.status is ChainStatus.PENDING

    await handle.signal(
        ApprovalChainWorkflow.decide_signal,
        DecideInput(approver="fin", approve=False, comment="by mail"),
    )
    result = await handle.result()
    assert result.status is ChainStatus.REJECTED and result.decided_by == "fin"
    subjects = [n.subject for n in await o2c.crm.notes(record)]
    assert "Approval refused (level 1) by clerk" in subjects
