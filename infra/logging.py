"""Logging set-up for the processes peyvand runs."""

from __future__ import annotations

import logging


def configure(level: str = "INFO") -> None:
    """Readable one-line logs; the Temporal SDK's own chatter kept at warnings."""
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    logging.getLogger("temporalio").setLevel(logging.WARNING)
    # Activity failures are logged once, without a traceback, by activities.errors.guarded; the
    # SDK's own report repeats them with a stack that says nothing about a business refusal.
    logging.getLogger("temporalio.activity").setLevel(logging.ERROR)
