"""``python starter.py returns …``: start a return, report the goods and the inspection, show
its status. Kept beside ``starter.py`` so each file stays small.

Examples::

    python starter.py returns start CASE-7001
    python starter.py returns receive CASE-7001 --line 1=2
    python starter.py returns inspect CASE-7001 --restock 1=1@THR --scrap 1=1:"housing cracked"
    python starter.py returns status CASE-7001
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from adapters.sandbox import SandboxERP
from infra.returns import (
    ReturnOpError,
    describe_return,
    inspect,
    parse_inspection,
    parse_receipt,
    receive,
    return_input,
    return_state,
    start_return,
)
from infra.settings import Settings
from workflows import search_attributes as sa


async def cmd_start(client: Client, settings: Settings, args: argparse.Namespace) -> None:
    handle = await start_return(
        client, settings, return_input(settings, args.case, requested_by=args.by)
    )
    print(f"return {args.case}: workflow {handle.id} running (run {handle.result_run_id})")
    if args.wait:
        result = await handle.result()
        print(f"ended {result.status.value}: {result.reason or result.credit_note_number or ''}")


async def cmd_status(client: Client, settings: Settings, args: argparse.Namespace) -> None:
    state = await return_state(client, args.case)
    print(state.model_dump_json(indent=2) if args.json else describe_return(state))


async def cmd_receive(client: Client, settings: Settings, args: argparse.Namespace) -> None:
    lines = parse_receipt(args.line)
    if not lines and not args.notify_only:
        raise ReturnOpError("name what arrived with --line LINE=QTY, or use --notify-only")
    if args.report or args.notify_only:
        how = await receive(client, None, args.case, [] if args.notify_only else lines)
    else:
        erp = SandboxERP(settings.erp_url)
        try:
            how = await receive(client, erp, args.case, lines)
        finally:
            await erp.close()
    print(f"return {args.case}: goods {how}")


async def cmd_inspect(client: Client, settings: Settings, args: argparse.Namespace) -> None:
    inspection = parse_inspection(args.restock, args.scrap, args.inspector)
    try:
        result = await inspect(client, args.case, inspection)
    except WorkflowUpdateFailedError as err:
        # The validator's own message says what does not add up.
        cause = err.cause
        why = cause.message if isinstance(cause, ApplicationError) else str(cause or err)
        raise ReturnOpError(why if "refused" in why else f"inspection refused: {why}") from err
    print(
        f"return {args.case}: inspection accepted: restock {result.restock_quantity}, "
        f"scrap {result.scrap_quantity}, {result.credit_lines} line(s) to credit"
    )


async def cmd_list(client: Client, settings: Settings, args: argparse.Namespace) -> None:
    query = f"{sa.RETURN_ID.name} IS NOT NULL"
    if args.status:
        query += f" AND {sa.RETURN_STATUS.name} = {json.dumps(args.status.upper())}"
    async for wf in client.list_workflows(query, limit=args.limit):
        status = wf.typed_search_attributes.get(sa.RETURN_STATUS) or "-"
        print(f"{wf.id:32} {status:20} {wf.status.name if wf.status else '-'}")


def add_returns_parser(sub: Any) -> None:
    """The ``returns`` command group of ``starter.py``."""
    r = sub.add_parser(
        "returns",
        help="return-to-restock: start, receive, inspect, status, list",
        description="A return is a workflow of its own (return-<CRM case id>), searchable in the "
        "Web UI by ReturnId, OrderId and ReturnStatus.",
    )
    rsub = r.add_subparsers(dest="returns_command", required=True)

    s = rsub.add_parser("start", help="start the return of a CRM case")
    s.add_argument("case", help="CRM case id")
    s.add_argument("--by", help="who starts it (may not approve it)")
    s.add_argument("--wait", action="store_true", help="wait for the return to end")
    s.set_defaults(func=cmd_start)

    s = rsub.add_parser("status", help="print a return's full status")
    s.add_argument("case", help="CRM case id")
    s.add_argument("--json", action="store_true", help="print the raw state as JSON")
    s.set_defaults(func=cmd_status)

    s = rsub.add_parser(
        "receive",
        help="goods arrived: book them at the sandbox warehouse and tell the workflow",
    )
    s.add_argument("case", help="CRM case id")
    s.add_argument(
        "--line", action="append", default=[], help="LINE=QTY of the order line, repeatable"
    )
    how = s.add_mutually_exclusive_group()
    how.add_argument(
        "--report",
        action="store_true",
        help="report the quantities to the workflow, which records the receipt in the ERP",
    )
    how.add_argument(
        "--notify-only",
        action="store_true",
        help="only tell the workflow to look in the ERP (the warehouse booked it there)",
    )
    s.set_defaults(func=cmd_receive)

    s = rsub.add_parser("inspect", help="the inspection: what to restock, what to scrap")
    s.add_argument("case", help="CRM case id")
    s.add_argument("--restock", action="append", default=[], help="LINE=QTY@WAREHOUSE, repeatable")
    s.add_argument("--scrap", action="append", default=[], help="LINE=QTY:REASON, repeatable")
    s.add_argument("--inspector", help="who inspected")
    s.set_defaults(func=cmd_inspect)

    s = rsub.add_parser("list", help="list returns, optionally by status")
    s.add_argument("--status", help="e.g. AWAITING_GOODS, AWAITING_INSPECTION, RESOLVED")
    s.add_argument("--limit", type=int, default=100)
    s.set_defaults(func=cmd_list)
