"""The baseline: a bare workflow of N trivial activities, run with the SDK's defaults (sandboxed,
like ours), in a module of its own so the sandbox imports nothing else."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn(name="bench_noop")
async def noop(step: int) -> int:
    """A trivial activity: the unit of work of the bare workflow."""
    return step


@workflow.defn
class BareWorkflow:
    """``steps`` trivial activities one after the other."""

    @workflow.run
    async def run(self, steps: int) -> int:
        total = 0
        for i in range(steps):
            total += await workflow.execute_activity(
                noop, i, start_to_close_timeout=timedelta(seconds=30)
            )
        return total
