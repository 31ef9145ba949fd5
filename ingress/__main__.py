"""``python -m ingress``: serve the ingress alone; ``keys add``: make an API key; ``send``: post
a signed webhook as the CRM or ERP would.

Examples::

    python -m ingress                                   # on PEYVAND_INGRESS_HOST:PORT
    python -m ingress keys add reza.karimi --role approver --role viewer --label laptop
    python -m ingress send erp shipments '{"event_id": "shp-1", "order_id": "DEMO-1001"}'
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from infra import logging as peyvand_logging
from infra.settings import Settings
from ingress.keys import ROLES, ApiKeys, KeyFileError
from ingress.secrets import SecretsError
from ingress.secrets import send as send_webhook
from ingress.serve import serve
from ingress.signing import Source


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m ingress",
        description="Serve the peyvand HTTP ingress, or manage its API keys.",
        epilog="Settings come from PEYVAND_* environment variables or .env; see infra/settings.py.",
    )
    sub = parser.add_subparsers(dest="command")
    keys = sub.add_parser("keys", help="API keys of the approvals and status API")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    add = keys_sub.add_parser("add", help="make a key for a user; it is printed once")
    add.add_argument("user", help="the user id the key acts as, e.g. reza.karimi")
    add.add_argument(
        "--role", action="append", choices=ROLES, required=True, help="repeat for several"
    )
    add.add_argument("--label", default="", help="where the key is used, for people")
    send = sub.add_parser(
        "send",
        help="post a signed webhook (signed with PEYVAND_INGRESS_<SOURCE>_SECRET, or the "
        "embedded run's data/webhook-secrets)",
    )
    send.add_argument("source", choices=[s.value for s in Source])
    send.add_argument(
        "route", help="crm: orders, returns; erp: shipments, payments, goods-receipts"
    )
    send.add_argument("body", help="the event as JSON, or @file to read it from a file")
    send.add_argument("--url", help="the ingress (default: PEYVAND_INGRESS_HOST:PORT)")
    args = parser.parse_args(argv)
    settings = Settings()
    peyvand_logging.configure(settings.log_level, settings.log_format)
    if args.command == "send":
        body = args.body
        try:
            if body.startswith("@"):
                body = Path(body[1:]).read_text()
            status, answer = send_webhook(
                settings,
                args.url or settings.ingress_base_url,
                Source(args.source),
                args.route,
                body.encode(),
            )
        except (SecretsError, OSError) as err:
            sys.exit(f"error: {err}")
        print(status, answer)
        sys.exit(0 if status < 300 else 1)
    if args.command == "keys":
        try:
            key = ApiKeys(settings.api_keys_path).add(args.user, args.role, args.label)
        except KeyFileError as err:
            sys.exit(f"error: {err}")
        print(key)
        print(f"stored as a hash in {settings.api_keys_path}; this is the only time it is shown")
        return
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
