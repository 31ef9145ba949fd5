"""Structured logs (``infra/logging.py``): one output for our code, the SDK and workflow code,
every line of an order carrying its workflow id and run id, activity lines their activity."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from temporalio import workflow

from domain.orders import OrderStatus
from infra import logging as peyvand_logging
from tests.workflows.conftest import O2C


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.reset_defaults()
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)
    logging.getLogger("temporalio.workflow").setLevel(logging.NOTSET)
    workflow.logger.workflow_info_on_message = True


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


async def test_json_lines_carry_the_workflow_and_activity(
    o2c: O2C, capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    peyvand_logging.configure("INFO", "json")
    missing = f"O-LOG-{uuid.uuid4().hex[:8]}"
    handle = await o2c.start(missing)
    assert (await handle.result()).status is OrderStatus.REJECTED
    lines = _lines(capsys.readouterr().err)
    wid, run_id = f"order-{missing}", handle.result_run_id

    # The activity's refusal, logged by our code through structlog inside the activity.
    refused = [ln for ln in lines if ln.get("activity") == "crm_fetch_order"]
    assert refused, lines
    assert refused[0]["workflow_id"] == wid and refused[0]["run_id"] == run_id
    assert refused[0]["level"] == "warning" and refused[0]["error"] == "RecordNotFound"
    # The workflow's own lines, through the SDK's replay-aware logger, in the same format.
    ours = [ln for ln in lines if ln.get("workflow_id") == wid and "activity" not in ln]
    rejected = [ln for ln in ours if ln["event"].startswith("order REJECTED")]
    assert len(rejected) == 1, ours
    assert rejected[0]["run_id"] == run_id
    assert rejected[0]["workflow_type"] == "OrderToCashWorkflow"
    assert rejected[0]["logger"] == "temporalio.workflow"
    assert "timestamp" in rejected[0]
    # The identity is in fields, not pasted into the message.
    assert "workflow_id" not in rejected[0]["event"]


def test_console_lines_are_readable(
    capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    peyvand_logging.configure("INFO", "console")
    structlog.stdlib.get_logger("peyvand.test").info("webhook acted", source="crm", n=2)
    logging.getLogger("peyvand.plain").warning("stdlib %s", "too")
    logging.getLogger("peyvand.plain").debug("below the level")
    err = capsys.readouterr().err
    assert "webhook acted" in err and "source=crm" in err and "n=2" in err
    assert "stdlib too" in err and "below the level" not in err
    assert not _lines(err)
