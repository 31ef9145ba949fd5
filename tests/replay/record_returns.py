"""Record the return-to-restock history for the replay tests:
``python -m tests.replay.record_returns``.

A return that is received (reported by the dock), inspected as partly scrap, restocked, written
off and credited: every step of the workflow's happy path, on the sandbox systems.
"""

from __future__ import annotations

import asyncio
import tempfile
from decimal import Decimal
from pathlib import Path

from domain.return_rules import InspectionLine, InspectionResult
from domain.returns import ReceiptLine
from tests.temporal_envs import time_skipping
from tests.workflows.returns_world import returns_world
from workflows.return_to_restock.models import GoodsReceivedNotice, InspectInput, ReturnStatus
from workflows.return_to_restock.workflow import ReturnToRestockWorkflow

HERE = Path(__file__).parent / "histories"


async def main() -> None:
    env = await time_skipping()
    async with env:
        async for world in returns_world(env, Path(tempfile.mkdtemp(prefix="record-returns-"))):
            handle = await world.start(await world.case("RC-1", [(1, "P1", 3)]))
            await world.wait_for(handle, ReturnStatus.AWAITING_GOODS)
            await handle.signal(
                ReturnToRestockWorkflow.goods_received,
                GoodsReceivedNotice(lines=[ReceiptLine(line_no=1, quantity=Decimal(3))]),
            )
            await world.wait_for(handle, ReturnStatus.AWAITING_INSPECTION)
            await handle.execute_update(
                ReturnToRestockWorkflow.inspect,
                InspectInput(
                    inspection=InspectionResult(
                        lines=[
                            InspectionLine(
                                line_no=1,
                                restock_quantity=Decimal(2),
                                warehouse="THR",
                                scrap_quantity=Decimal(1),
                                scrap_reason="seal torn",
                            )
                        ]
                    )
                ),
            )
            result = await handle.result()
            assert result.status is ReturnStatus.RESOLVED, result.reason
            history = await handle.fetch_history()
            (HERE / "return_resolved_partly_scrapped.json").write_text(history.to_json())


if __name__ == "__main__":
    asyncio.run(main())
