"""Committed histories of earlier runs replay against today's workflow code without a
non-determinism error: a deploy never breaks orders that are still running."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.approval_chain.workflow import ApprovalChainWorkflow
from workflows.order_to_cash.workflow import OrderToCashWorkflow
from workflows.return_to_restock.workflow import ReturnToRestockWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_histories_are_committed() -> None:
    names = {p.stem for p in HISTORIES}
    assert {
        "order_completed_with_dunning",  # version 1
        "order_cancelled_after_reservation",
        "order_v2_completed_with_dunning",
        "order_v2_cancelled_after_reservation",
        "order_v3_completed_with_dunning",
        "order_v3_cancelled_after_reservation",
        "order_v3_shipped_and_paid_at_once",
        "approval_chain_reminded_approved",
        "return_resolved_partly_scrapped",
    } <= names


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(f"replay-{path.stem}", path.read_text())
    replayer = Replayer(
        workflows=[OrderToCashWorkflow, ApprovalChainWorkflow, ReturnToRestockWorkflow],
        data_converter=pydantic_data_converter,
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
