"""The peyvand CLI: start orders, send decisions and events, show status, run the demo.

Examples::

    python starter.py start SO-1001
    python starter.py status SO-1001
    python starter.py approve SO-1001 --approver reza.karimi --comment "ok"
    python starter.py approvals pending --group finance      # or --user leila.mohammadi
    python starter.py approvals decide SO-1001 --approver reza.karimi --approve --comment "ok"
    python starter.py ship SO-1001
    python starter.py pay SO-1001 1200.50
    python starter.py cancel SO-1001 --by sara.ahmadi --reason "customer withdrew"
    python starter.py returns start CASE-1002        # then: returns receive / inspect / status

``ship``, ``pay`` and ``restock`` act on the sandbox ERP (as its warehouse or bank would) and then
tell the workflow; with ``--notify-only`` they only tell the workflow, for a real ERP.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterable
from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import WorkflowAlreadyStartedError

from adapters.sandbox import SandboxCRM, SandboxERP
from demo import run_demo
from domain.orders import OrderPolicy, OrderStatus, StockPolicy
from infra import approvals
from infra.codec import CodecError
from infra.orders import (
    OrderOpError,
    describe,
    order_handle,
    order_input,
    order_state,
    pay,
    reached,
    ship,
    start_order,
    wait_for,
)
from infra.returns import ReturnOpError
from infra.settings import Settings
from infra.temporal import connect
from infra.tracing import shutdown_tracing
from starter_returns import add_returns_parser
from workflows import search_attributes as sa
from workflows.approval_chain.models import DecideInput, DelegateInput
from workflows.order_to_cash.models import CancelInput, StockNotice
from workflows.order_to_cash.workflow import OrderToCashWorkflow


async def _sandbox_erp(settings: Settings) -> SandboxERP:
    erp = SandboxERP(settings.erp_url)
    await erp.create_schema()
    return erp


def _amount(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation as err:
        raise argparse.ArgumentTypeError(f"not an amount: {text!r}") from err
    if not value.is_finite() or value <= 0:
        raise argparse.ArgumentTypeError(f"amount must be positive, got {text}")
    return value


async def cmd_start(client: Client, settings: Settings, args: argparse.Namespace) -> None:
    policy = OrderPolicy(stock_policy=StockPolicy(args.stock_policy))
    input = order_input(settings, args.order_id, requested_by=args.requested_by, policy=policy)
    try:
        handle = await start_order(client, settings, input)
    except WorkflowAlreadyStartedError as err:
        raise OrderOpError(f"order {args.order_id} was already processed; see: status") from err
    print(f"started {handle.id} (run {handle.result_run_id})")
    if args.wait:
        print(describe(await wait_for(client, args.order_id, reached(), timeout=args.timeout)))


async def cmd_status(client: Client, settings: Settings, args: argparse.Namespace) -> None:
    state = await order_state(client, args.order_id)
    print(state.model_dump_json(indent=2) if args.json else describe(state))


async def cmd_decide(client: Client, settings: Settings, args: argparse.Namespace) -> None:
    decision = DecideInput(approver=args.approver, approve=args.approve, comment=args.comment)
    view = await approvals.decide(client, args.chain, decision, signal=args.signal)
    verdict = "approved" if args.approve else "rejected"
    if view is None:
        print("decision sent as a signal; see 'approvals status' for whether it was accepted")
        return
    level = f"level {view.level} ({view.group})" if view.level else "the chain"
    pending = ", ".join(view.pending) or "nobody"
    print(f"{verdict} by {args.approver}; chain {view.status.value}, {level}, pending: {pending}")


async def cmd_delegate(client: Client, settings: Settings, args: argparse.Namespace) -> None:
    request = DelegateInput(holder=args.holder, delegate=args.to, comment=args.comment)
    view = await approvals.delegate(client, args.chain, request)
    pending = ", ".join(view.pending)
    print(f"{args.holder} handed level {view.level} to {args.to}; pending: {pending}")


async def cmd_pending(client: Client, settings: Settings, args: argparse.Namespace) -> None:
    if args.show_query:
        print(approvals.pending_query(args.group, args.user))
        return
    rows = await approvals.pending(client, group=args.group, user=args.user, limit=args.limit)
    for row in rows:
        amount = f"{row.amount:,.2f}" if row.amount is not None else "-"
        print(
            f"{row.chain_id:36} {row.kind:8} {amount:>14}  {','.join(row.groups):24} "
            f"{', '.join(row.pending)}"
        )
    if not rows:
        print("nothing pending")


async def cmd_chain_status(client: Client, settings: Settings, args: argparse.Namespace) -> None:
    state = await approvals.chain_state(client, args.chain)
    print(state.model_dump_json(indent=2) if args.json else approvals.describe_chain(state))


async def cmd_cancel(client: Client, settings: Settings, args: argparse.Namespace) -> None:
    request = CancelInput(requested_by=args.by, reason=args.reason)
    try:
        result = await order_handle(client, args.order_id).execute_update(
            OrderToCashWorkflow.cancel, request
        )
    except WorkflowUpdateFailedError as err:
        raise OrderOpError(f"cancellation refused: {err.cause}") from err
    print("cancellation accepted" if result.accepted else f"refused: order is {result.status}")


async def cmd_ship(client: Client, settings: Settings, args: argparse.Namespace) -> None:
    erp = None if args.notify_only else await _sandbox_erp(settings)
    try:
        print(f"shipped {await ship(client, erp, args.order_id)}")
    finally:
        if erp is not None:
            await erp.close()


async def cmd_pay(client: Client, settings: Settings, args: argparse.Namespace) -> None:
    erp = None if args.notify_only else await _sandbox_erp(settings)
    reference = args.reference or f"cli-{uuid.uuid4().hex[:12]}"
    try:
        await pay(client, erp, args.order_id, args.amount, reference)
    finally:
        if erp is not None:
            await erp.close()
    print(f"payment {args.amount} recorded as {reference}")


async def cmd_restock(client: Client, settings: Settings, args: argparse.Namespace) -> None:
    erp = await _sandbox_erp(settings)
    try:
        await erp.set_stock(args.sku, args.warehouse, args.on_hand)
    finally:
        await erp.close()
    query = f"OrderStatus = '{OrderStatus.AWAITING_STOCK.value}'"
    told = 0
    async for wf in client.list_workflows(query):
        handle = client.get_workflow_handle(wf.id)
        await handle.signal(
            OrderToCashWorkflow.stock_replenished, StockNotice(source="cli", sku=args.sku)
        )
        told += 1
    print(f"{args.sku} in {args.warehouse} now {args.on_hand} on hand; {told} waiting orders told")


async def cmd_list(client: Client, settings: Settings, args: argparse.Namespace) -> None:
    query = "WorkflowType = 'OrderToCashWorkflow'"
    if args.status:
        query += f" AND OrderStatus = '{args.status.upper()}'"
    async for wf in client.list_workflows(query, limit=args.limit):
        status = wf.typed_search_attributes.get(sa.ORDER_STATUS) or "-"
        erp_no = wf.typed_search_attributes.get(sa.ERP_ORDER_NUMBER) or "-"
        print(f"{wf.id:30} {status:18} {erp_no:12} {wf.status.name if wf.status else ''}")


async def cmd_demo(client: Client, settings: Settings, args: argparse.Namespace) -> None:
    crm, erp = SandboxCRM(settings.crm_url), SandboxERP(settings.erp_url)
    try:
        await run_demo(client, settings, crm, erp)
    finally:
        await crm.close()
        await erp.close()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("start", help="start order-to-cash for a CRM order id")
    s.add_argument("order_id")
    s.add_argument("--requested-by", help="who starts it (default: the CRM order's owner)")
    s.add_argument("--stock-policy", choices=[p.value for p in StockPolicy], default="refuse")
    s.add_argument("--wait", action="store_true", help="wait until the order finishes")
    s.add_argument("--timeout", type=float, default=300.0, help="seconds to wait with --wait")
    s.set_defaults(func=cmd_start)

    s = sub.add_parser("status", help="print an order's full status")
    s.add_argument("order_id")
    s.add_argument("--json", action="store_true", help="print the raw state as JSON")
    s.set_defaults(func=cmd_status)

    for name, approve in (("approve", True), ("reject", False)):
        s = sub.add_parser(name, help=f"{name} at the current level of an order's approval chain")
        s.add_argument("chain", metavar="order_id", help="CRM order id (or chain id)")
        s.add_argument("--approver", required=True, help="user id of the approver")
        s.add_argument("--comment", default="")
        s.add_argument("--signal", action="store_true", help="send as a signal, not an update")
        s.set_defaults(func=cmd_decide, approve=approve)

    _approvals_parser(sub)
    add_returns_parser(sub)

    s = sub.add_parser("cancel", help="cancel an order (accepted until shipment)")
    s.add_argument("order_id")
    s.add_argument("--by", required=True, help="who cancels")
    s.add_argument("--reason", default="cancelled on request")
    s.set_defaults(func=cmd_cancel)

    s = sub.add_parser("ship", help="ship the order in the sandbox ERP and tell the workflow")
    s.add_argument("order_id")
    s.add_argument("--notify-only", action="store_true", help="only tell the workflow")
    s.set_defaults(func=cmd_ship)

    s = sub.add_parser("pay", help="record a customer payment and tell the workflow")
    s.add_argument("order_id")
    s.add_argument("amount", type=_amount)
    s.add_argument("--reference", help="payment reference (makes the command idempotent)")
    s.add_argument("--notify-only", action="store_true", help="only tell the workflow")
    s.set_defaults(func=cmd_pay)

    s = sub.add_parser("restock", help="set a product's stock in a warehouse; wake waiting orders")
    s.add_argument("sku")
    s.add_argument("warehouse")
    s.add_argument("on_hand", type=_amount)
    s.set_defaults(func=cmd_restock)

    s = sub.add_parser("list", help="list orders, optionally by status")
    s.add_argument("--status", help="e.g. AWAITING_APPROVAL")
    s.add_argument("--limit", type=int, default=50)
    s.set_defaults(func=cmd_list)

    s = sub.add_parser("demo", help="run the demo batch against running workers")
    s.set_defaults(func=cmd_demo)
    return p


def _approvals_parser(sub: Any) -> None:
    chain_help = "chain id (approval-order-X), order workflow id (order-X) or CRM order id (X)"
    a = sub.add_parser(
        "approvals",
        help="approval chains: pending, decide, delegate, status",
        description="Approval chains are workflows of their own (approval-<business key>), "
        "searchable in the Web UI by ApprovalStatus, ApproverGroup, PendingApprovers, "
        "RequestKind and RequestAmount.",
    )
    asub = a.add_subparsers(dest="approvals_command", required=True)

    s = asub.add_parser("pending", help="chains pending, for a group or a person (or all)")
    who = s.add_mutually_exclusive_group()
    who.add_argument("--group", help="approver group, e.g. finance (escalations included)")
    who.add_argument("--user", help="user id of a person who can act now, e.g. reza.karimi")
    s.add_argument("--limit", type=int, default=100)
    s.add_argument(
        "--show-query", action="store_true", help="only print the query (paste it in the Web UI)"
    )
    s.set_defaults(func=cmd_pending)

    s = asub.add_parser("decide", help="approve or reject at a chain's current level")
    s.add_argument("chain", help=chain_help)
    s.add_argument("--approver", required=True, help="user id of the approver")
    verdict = s.add_mutually_exclusive_group(required=True)
    verdict.add_argument("--approve", dest="approve", action="store_true")
    verdict.add_argument("--reject", dest="approve", action="store_false")
    s.add_argument("--comment", default="")
    s.add_argument(
        "--signal", action="store_true", help="send as a signal (as the Web UI can), not an update"
    )
    s.set_defaults(func=cmd_decide)

    s = asub.add_parser("delegate", help="hand your pending decision to another person")
    s.add_argument("chain", help=chain_help)
    s.add_argument("--holder", required=True, help="who holds the decision now")
    s.add_argument("--to", required=True, help="who decides in their place")
    s.add_argument("--comment", default="")
    s.set_defaults(func=cmd_delegate)

    s = asub.add_parser("status", help="a chain's levels, seats, decisions and events")
    s.add_argument("chain", help=chain_help)
    s.add_argument("--json", action="store_true", help="print the raw state as JSON")
    s.set_defaults(func=cmd_chain_status)


async def _main(args: argparse.Namespace) -> None:
    settings = Settings()
    try:
        client = await connect(settings)
    except RuntimeError as err:
        raise OrderOpError(
            f"cannot reach Temporal at {settings.temporal_address} ({err}); start the stack with "
            "'bash scripts/dev.sh run' or set PEYVAND_TEMPORAL_ADDRESS"
        ) from err
    func: Callable[[Client, Settings, argparse.Namespace], Awaitable[None]] = args.func
    await func(client, settings, args)


def main(argv: Iterable[str] | None = None) -> int:
    args = build_parser().parse_args(list(argv) if argv is not None else None)
    try:
        asyncio.run(_main(args))
    except (OrderOpError, ReturnOpError) as err:
        return _fail(f"error: {err}", 1)
    except (RuntimeError, OSError) as err:
        return _fail(f"error: {err}", 2)
    except CodecError as err:
        return _fail(f"error: {err}: configure the key it names (PEYVAND_CODEC_KEYS)", 2)
    except KeyError as err:
        # The SDK's converter meeting an encrypted payload without a codec: no key configured.
        if "binary/encrypted" not in str(err):
            raise
        return _fail(
            "error: this server's history is encrypted and no codec key is configured here: set "
            "PEYVAND_CODEC_KEYS or PEYVAND_CODEC_KEY_FILE (the embedded run keeps its key in "
            "data/codec-keys, used when PEYVAND_TEMPORAL_ADDRESS is the embedded server's)",
            2,
        )
    return 0


def _fail(message: str, code: int) -> NoReturn:
    print(message, file=sys.stderr, flush=True)
    sys.stdout.flush()
    # After a failed connect the SDK's runtime threads can abort the interpreter's shutdown
    # with a fatal error; the message is out and nothing is left to clean up, so leave now.
    os._exit(code)


if __name__ == "__main__":
    code = main()
    shutdown_tracing()  # os._exit skips the providers' own flush at exit
    sys.stdout.flush()
    sys.stderr.flush()
    # The SDK's runtime threads can abort the interpreter's shutdown after a successful command
    # too (a visibility listing, say: exit 134 now and then); the output is out, so leave now.
    os._exit(code)
