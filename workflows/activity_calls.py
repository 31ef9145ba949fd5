"""How every workflow of peyvand calls an activity: one timeout, one bounded retry policy, a
summary for the Web UI, and the result's type checked."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy

R = TypeVar("R")

# Bounded backoff: a system that stays down for ~10 minutes fails the step, which compensates.
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
    maximum_attempts=15,
)
TIMEOUT = timedelta(seconds=30)


async def run_activity(fn: Any, arg: Any, queue: str, summary: str, result: type[R]) -> R:
    """Run activity method ``fn`` with ``arg`` on ``queue``; its result must be a ``result``."""
    out = await workflow.execute_activity_method(
        fn,
        arg,
        task_queue=queue,
        start_to_close_timeout=TIMEOUT,
        retry_policy=RETRY,
        summary=summary[:200],
    )
    assert isinstance(out, result)
    return out
