"""The memory baseline of ``bench.approvals``: a bare workflow that waits, as a chain does, for an
Update or a one-day timer, and does nothing else (no activities, no state, no search attributes).
A module of its own, so the sandbox imports nothing else, as in ``bench.bare``."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow


@workflow.defn
class BareApprovalWorkflow:
    """Waits for ``decide`` or a day."""

    def __init__(self) -> None:
        self._decided: bool | None = None

    @workflow.run
    async def run(self, n: int) -> bool:
        try:
            await workflow.wait_condition(
                lambda: self._decided is not None, timeout=timedelta(days=1)
            )
        except TimeoutError:
            return False
        await workflow.wait_condition(workflow.all_handlers_finished)
        return bool(self._decided)

    @workflow.update
    def decide(self, approve: bool) -> bool:
        """Decide; the workflow ends."""
        self._decided = approve
        return approve
