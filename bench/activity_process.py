"""The CRM and ERP activity workers of the benchmark, in a process of their own.

``bench.order_to_cash --activity-process`` starts this module as a child so the sandbox systems'
SQL work runs on the other core, beside (not inside) the process that runs the workflow tasks:
the shape of a deployment, where each queue's workers run where their system's client lives.

    python -m bench.activity_process SETTINGS_JSON OUT_JSON

It prints ``ready`` once polling, runs until SIGTERM, then writes when each order's ERP sales
order came to exist (wall-clock seconds by workflow id) to OUT_JSON.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

from adapters.sandbox import SandboxCRM, SandboxERP
from bench.instant_warehouse import InstantWarehouse
from infra.settings import Settings
from infra.temporal import connect
from worker import build_workers


async def serve(settings: Settings, out: Path) -> None:
    """Run the CRM and ERP workers on the sandbox systems until SIGTERM."""
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    client = await connect(settings)
    crm, inner = SandboxCRM(settings.crm_url), SandboxERP(settings.erp_url)
    erp = InstantWarehouse(inner, inner, client)
    workers = build_workers(client, settings, crm, erp, roles=("crm", "erp"))
    try:
        for worker in workers:
            await worker.__aenter__()
        print("ready", flush=True)
        await stop.wait()
    finally:
        for worker in reversed(workers):
            await worker.__aexit__(None, None, None)
        await erp.drain()
        await crm.close()
        await inner.close()
        out.write_text(json.dumps(erp.ordered_at))


def main() -> None:
    settings = Settings.model_validate_json(sys.argv[1])
    asyncio.run(serve(settings, Path(sys.argv[2])))


if __name__ == "__main__":
    main()
