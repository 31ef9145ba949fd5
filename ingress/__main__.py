"""``python -m ingress``: serve the ingress alone; ``python -m ingress keys add``: make an API key.

Examples::

    python -m ingress                                   # on PEYVAND_INGRESS_HOST:PORT
    python -m ingress keys add reza.karimi --role approver --role viewer --label laptop
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from infra import logging as peyvand_logging
from infra.settings import Settings
from ingress.keys import ROLES, ApiKeys, KeyFileError
from ingress.serve import serve


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
    args = parser.parse_args(argv)
    settings = Settings()
    peyvand_logging.configure(settings.log_level)
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
