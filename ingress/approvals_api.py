"""The approvals API and the status reads, for people and tools holding an API key.

``X-API-Key: pvk_…`` names the caller (``ingress.keys``). The caller decides as themselves: the
approver in the decision is the key's user, never a field of the request. Whether that user may
decide (a member of the open level, not the requester or the owner: four-eyes) is the
workflow's Update validator's call, so the same rules hold for the CLI, the API and any tool.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Security
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, Field
from temporalio.client import (
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.service import RPCError, RPCStatusCode

from infra import approvals
from infra.orders import order_handle
from infra.returns import return_handle
from ingress.events import Problem
from ingress.keys import Caller, KeyFileError
from ingress.state import IngressDep
from workflows.approval_chain.models import ChainView, DecideInput
from workflows.approval_chain.workflow import ApprovalChainWorkflow
from workflows.order_to_cash.models import OrderState
from workflows.order_to_cash.workflow import OrderToCashWorkflow
from workflows.return_to_restock.models import ReturnState
from workflows.return_to_restock.workflow import ReturnToRestockWorkflow

API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key (pvk_…).")
QUERY_TIMEOUT = timedelta(seconds=10)

router = APIRouter(tags=["approvals and status"])

AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No API key, or an unknown one."},
    403: {"model": Problem, "description": "The key's user may not do this."},
    404: {"model": Problem, "description": "No such workflow."},
    503: {"model": Problem, "description": "Temporal is unavailable; retry later."},
}

Key = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]
ChainName = Annotated[
    str,
    Path(
        min_length=1,
        max_length=140,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$",
        description="The chain id from the pending list (``approval-order-SO-1001``), an order's "
        "workflow id or a CRM order id.",
    ),
]


def caller(ix: IngressDep, key: Annotated[str | None, Security(API_KEY)]) -> Caller:
    """The API key's owner; 401 without a known key."""
    if not key:
        raise HTTPException(401, "an API key is required (header X-API-Key)")
    try:
        found = ix.keys.caller(key)
    except KeyFileError as err:
        raise HTTPException(503, "the API key file is unreadable") from err
    if found is None:
        raise HTTPException(401, "unknown API key")
    return found


def _role(name: str) -> Callable[[Caller], Caller]:
    """A dependency: the caller, who must have role ``name``."""

    def check(who: Annotated[Caller, Depends(caller)]) -> Caller:
        if name not in who.roles:
            raise HTTPException(403, f"{who.user} lacks the role {name!r}")
        return who

    return check


Approver = Annotated[Caller, Depends(_role("approver"))]
Viewer = Annotated[Caller, Depends(_role("viewer"))]


def _rpc(err: RPCError, what: str) -> HTTPException:
    if err.status is RPCStatusCode.NOT_FOUND:
        return HTTPException(404, f"{what} not found")
    return HTTPException(503, f"Temporal could not answer for {what}: {err.message}")


class PendingApproval(BaseModel):
    """A decision waiting for the caller."""

    chain_id: str
    kind: str
    amount: float | None
    groups: list[str]
    pending: list[str]


class Decision(BaseModel):
    """Approve or reject, as the key's user."""

    approve: bool
    comment: str = Field(default="", max_length=1000)


@router.get("/approvals/pending", responses=AUTH_RESPONSES, summary="My pending approvals")
async def pending(ix: IngressDep, who: Approver) -> list[PendingApproval]:
    """The chains waiting for the caller's decision (visibility may lag a second or two)."""
    try:
        rows = await approvals.pending(ix.client, user=who.user)
    except RPCError as err:
        raise _rpc(err, "the pending approvals") from err
    return [
        PendingApproval(
            chain_id=r.chain_id, kind=r.kind, amount=r.amount, groups=r.groups, pending=r.pending
        )
        for r in rows
    ]


@router.post(
    "/approvals/{chain}/decision",
    responses={
        **AUTH_RESPONSES,
        403: {
            "model": Problem,
            "description": "Refused by the workflow (four-eyes, not an approver of the open "
            "level, already decided …), or the key lacks the approver role.",
        },
        409: {"model": Problem, "description": "The approval chain has ended."},
        400: {"model": Problem, "description": "The body is not UTF-8 JSON."},
    },
    summary="Decide on an approval",
)
async def decide(
    chain: ChainName,
    decision: Decision,
    ix: IngressDep,
    who: Approver,
) -> ChainView:
    """Approve or reject as the key's user; the chain's validator refuses what may not be."""
    handle = approvals.chain_handle(ix.client, chain)
    request = DecideInput(approver=who.user, approve=decision.approve, comment=decision.comment)
    try:
        return await handle.execute_update(ApprovalChainWorkflow.decide, request)
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        reason = str(getattr(cause, "message", None) or cause)
        raise HTTPException(403, f"decision refused: {reason}") from err
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND and await _closed(handle):
            raise HTTPException(409, f"{handle.id} is finished; nothing to decide") from err
        raise _rpc(err, handle.id) from err


async def _closed(handle: WorkflowHandle[Any, Any]) -> bool:
    """True when the workflow exists and has ended (an Update to it answers NOT_FOUND)."""
    try:
        await handle.describe()
    except RPCError:
        return False
    return True


@router.get("/orders/{order_id}", responses=AUTH_RESPONSES, summary="An order's status")
async def order_status(order_id: Key, ix: IngressDep, who: Viewer) -> OrderState:
    """Everything the order's workflow knows (its ``status`` query)."""
    handle = order_handle(ix.client, order_id)
    try:
        return await handle.query(OrderToCashWorkflow.status, rpc_timeout=QUERY_TIMEOUT)
    except WorkflowQueryFailedError as err:
        raise HTTPException(503, f"{handle.id} could not answer: {err.message}") from err
    except RPCError as err:
        raise _rpc(err, handle.id) from err


@router.get("/returns/{case_id}", responses=AUTH_RESPONSES, summary="A return's status")
async def return_status(case_id: Key, ix: IngressDep, who: Viewer) -> ReturnState:
    """Everything the return's workflow knows (its ``status`` query)."""
    handle = return_handle(ix.client, case_id)
    try:
        return await handle.query(ReturnToRestockWorkflow.status, rpc_timeout=QUERY_TIMEOUT)
    except WorkflowQueryFailedError as err:
        raise HTTPException(503, f"{handle.id} could not answer: {err.message}") from err
    except RPCError as err:
        raise _rpc(err, handle.id) from err
