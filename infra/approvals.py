"""Client-side operations on approval chains, shared by the CLI, the demo, the benchmark and tests.

A chain is named by its workflow id (``approval-order-SO-1001``), by its order's workflow id
(``order-SO-1001``) or by the bare CRM order id (``SO-1001``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError

from infra.orders import OrderOpError
from workflows import search_attributes as sa
from workflows.approval_chain.models import (
    ApprovalChainResult,
    ChainState,
    ChainStatus,
    ChainView,
    DecideInput,
    DelegateInput,
    chain_id,
)
from workflows.approval_chain.workflow import ApprovalChainWorkflow
from workflows.order_to_cash.models import workflow_id

ChainHandle = WorkflowHandle[ApprovalChainWorkflow, ApprovalChainResult]


def chain_workflow_id(name: str) -> str:
    """The chain's workflow id from a chain id, an order's workflow id or a CRM order id."""
    if name.startswith("approval-"):
        return name
    if name.startswith("order-"):
        return chain_id(name)
    return chain_id(workflow_id(name))


def chain_handle(client: Client, name: str) -> ChainHandle:
    return client.get_workflow_handle_for(ApprovalChainWorkflow.run, chain_workflow_id(name))


async def chain_state(client: Client, name: str) -> ChainState:
    """The chain's full state from its query."""
    try:
        return await chain_handle(client, name).query(ApprovalChainWorkflow.state)
    except RPCError as err:
        raise OrderOpError(f"approval {chain_workflow_id(name)}: {err.message}") from err


async def wait_open(
    client: Client, name: str, *, timeout: float = 60.0, every: float = 0.1
) -> ChainState:
    """Poll until the chain has a level open for decisions (or has ended); its state then.

    Raises:
        TimeoutError: Neither happened within ``timeout`` seconds.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        try:
            state = await chain_state(client, name)
            if state.status is not ChainStatus.PENDING or (state.level and not state.level.outcome):
                return state
        except OrderOpError:
            pass  # not started yet
        await asyncio.sleep(every)
    raise TimeoutError(f"approval {chain_workflow_id(name)} opened no level in {timeout} s")


async def decide(
    client: Client, name: str, decision: DecideInput, *, signal: bool = False
) -> ChainView | None:
    """Send a decision as an Update (None when sent as a signal, whose outcome shows in state).

    Raises:
        OrderOpError: The chain does not exist, or the decision was refused (with why).
    """
    handle = chain_handle(client, name)
    try:
        if signal:
            await handle.signal(ApprovalChainWorkflow.decide_signal, decision)
            return None
        return await handle.execute_update(ApprovalChainWorkflow.decide, decision)
    except WorkflowUpdateFailedError as err:
        raise OrderOpError(f"decision refused: {_message(err)}") from err
    except RPCError as err:
        raise OrderOpError(f"approval {handle.id}: {err.message}") from err


async def delegate(client: Client, name: str, request: DelegateInput) -> ChainView:
    """Hand a pending decision to another person.

    Raises:
        OrderOpError: The chain does not exist, or the delegation was refused (with why).
    """
    handle = chain_handle(client, name)
    try:
        return await handle.execute_update(ApprovalChainWorkflow.delegate, request)
    except WorkflowUpdateFailedError as err:
        raise OrderOpError(f"delegation refused: {_message(err)}") from err
    except RPCError as err:
        raise OrderOpError(f"approval {handle.id}: {err.message}") from err


def _message(err: WorkflowUpdateFailedError) -> str:
    cause = err.cause
    return str(getattr(cause, "message", None) or cause)


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def pending_query(group: str | None = None, user: str | None = None) -> str:
    """The visibility query for pending chains, for a group or a person; the Web UI takes it too."""
    query = "WorkflowType = 'ApprovalChainWorkflow' AND ApprovalStatus = 'PENDING'"
    if group:
        query += f" AND ApproverGroup = {_quoted(group)}"
    if user:
        query += f" AND PendingApprovers = {_quoted(user)}"
    return query


@dataclass
class PendingChain:
    """One line of ``approvals pending``."""

    chain_id: str
    kind: str
    amount: float | None
    groups: list[str]
    pending: list[str]


async def pending(
    client: Client, *, group: str | None = None, user: str | None = None, limit: int = 100
) -> list[PendingChain]:
    """Chains pending for ``group`` or ``user`` (or all), newest first, in one visibility query."""
    found: list[PendingChain] = []
    async for wf in client.list_workflows(pending_query(group, user), limit=limit):
        attrs = wf.typed_search_attributes
        found.append(
            PendingChain(
                chain_id=wf.id,
                kind=attrs.get(sa.REQUEST_KIND) or "-",
                amount=attrs.get(sa.REQUEST_AMOUNT),
                groups=list(attrs.get(sa.APPROVER_GROUP) or []),
                pending=list(attrs.get(sa.PENDING_APPROVERS) or []),
            )
        )
    return found


def describe_chain(state: ChainState) -> str:
    """A readable summary of a chain's state."""
    rows = [
        f"chain      {state.chain_id}  [{state.status.value}]  policy {state.policy_version}",
        f"request    {state.request_kind} {state.record_id}, {state.amount} {state.currency}, "
        f"requested by {state.requester}",
        f"reasons    {'; '.join(state.reasons) or '-'}",
    ]
    for level in state.levels:
        holders = ", ".join(
            member if holder == member else f"{member}→{holder}"
            for member, holder in level.seats.items()
        )
        rows.append(
            f"level {level.index + 1}    {level.spec.group} ({level.spec.mode.value}, "
            f"{level.needed} needed) seats: {holders or '-'}; "
            f"{level.outcome.value if level.outcome else 'pending: ' + ', '.join(level.pending())}"
            + ("; escalated to " + (level.escalation_group or "-") if level.escalated else "")
        )
    planned = state.planned_groups[len(state.levels) :]
    if planned:
        rows.append(f"then       {', '.join(planned)}")
    rows.append("events:")
    for e in state.events:
        actor = f" ({e.actor})" if e.actor else ""
        level_no = f" L{e.level}" if e.level else ""
        rows.append(f"  {e.at:%Y-%m-%d %H:%M:%S}{level_no} {e.kind}{actor}: {e.detail}")
    return "\n".join(rows)
