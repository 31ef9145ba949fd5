"""Create the sandbox CRM's and ERP's schemas, and with ``--seed`` their demo data, then exit.

The compose topology runs this once (service ``sandbox-setup``) before the workers start, so
several worker replicas never race to create the same tables; each then finds them. Seeding is
idempotent: records that exist are left as they are.

Usage (settings as for ``worker.py``: ``PEYVAND_CRM_DATABASE_URL``, ``PEYVAND_ERP_DATABASE_URL``)::

    python -m deploy.sandbox_setup [--seed]
"""

from __future__ import annotations

import argparse
import asyncio

import structlog

from adapters.sandbox import SandboxCRM, SandboxERP, seed_demo
from infra import logging as peyvand_logging
from infra.settings import Settings

log = structlog.stdlib.get_logger("peyvand.sandbox_setup")


async def setup(settings: Settings, *, seed: bool) -> None:
    """Create both schemas (and seed them); the connections are closed again."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # SQLite URLs point into it
    crm = SandboxCRM(settings.crm_url)
    erp = SandboxERP(settings.erp_url)
    try:
        await crm.create_schema()
        await erp.create_schema()
        if seed:
            await seed_demo(crm, erp)
    finally:
        await crm.close()
        await erp.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.sandbox_setup",
        description="Create the sandbox CRM/ERP schemas (and demo data), then exit.",
    )
    parser.add_argument("--seed", action="store_true", help="add the demo data (idempotent)")
    args = parser.parse_args(argv)
    settings = Settings()
    peyvand_logging.configure(settings.log_level, settings.log_format)
    asyncio.run(setup(settings, seed=args.seed))
    log.info("sandbox schemas ready%s", " and seeded" if args.seed else "")


if __name__ == "__main__":
    main()
