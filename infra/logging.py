"""Logging for the processes peyvand runs: structlog in front, one stdlib handler behind.

Every line goes through the same processors, whoever wrote it: our modules (structlog), the
Temporal SDK, uvicorn, and workflow code, which logs through the SDK's replay-aware
``workflow.logger`` (silent while a history replays) — a stdlib logger whose records carry the
workflow's identity in an extra, which ``temporal_context`` turns into fields. Inside an activity,
the activity's identity is added the same way, so every line of an order can be found by its
workflow id.

``console`` (the default) prints readable lines; ``json`` one JSON object a line, for production.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger
from temporalio import activity, workflow


def temporal_context(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """Bind the workflow id, run id and activity of the line, where there is one."""
    record = event.get("_record")
    wf = getattr(record, "temporal_workflow", None)
    act = getattr(record, "temporal_activity", None)
    if act is None and wf is None and activity.in_activity():
        info = activity.info()
        act = {
            "workflow_id": info.workflow_id,
            "workflow_run_id": info.workflow_run_id,
            "activity_type": info.activity_type,
            "activity_id": info.activity_id,
            "attempt": info.attempt,
        }
    if wf:  # the SDK's workflow logger: its extra names the run
        fields = {
            "workflow_id": wf.get("workflow_id"),
            "run_id": wf.get("run_id"),
            "workflow_type": wf.get("workflow_type"),
        }
    elif act:
        fields = {
            "workflow_id": act.get("workflow_id"),
            "run_id": act.get("workflow_run_id"),
            "activity": act.get("activity_type"),
            "activity_id": act.get("activity_id"),
        }
        if act.get("attempt", 1) != 1:
            fields["attempt"] = act["attempt"]
    else:
        return event
    for key, value in fields.items():
        if value is not None:
            event.setdefault(key, value)
    return event


def _shared(fmt: str) -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.TimeStamper(fmt="iso" if fmt == "json" else "%H:%M:%S", utc=True),
        temporal_context,
    ]


def configure(level: str = "INFO", fmt: Literal["console", "json"] = "console") -> None:
    """Route structlog and stdlib logging to stderr in one format.

    Args:
        level: The root level; the SDK's own chatter stays at warnings.
        fmt: ``console`` for people, ``json`` for log collectors.
    """
    shared = _shared(fmt)
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *([structlog.processors.format_exc_info] if fmt == "json" else []),
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("temporalio").setLevel(logging.WARNING)
    # Activity failures are logged once, without a traceback, by activities.errors.guarded; the
    # SDK's own report repeats them with a stack that says nothing about a business refusal.
    logging.getLogger("temporalio.activity").setLevel(logging.ERROR)
    # Workflow code logs through workflow.logger; the identity goes in fields, not the message.
    workflow.logger.workflow_info_on_message = False
    workflow.logger.setLevel(level.upper())
