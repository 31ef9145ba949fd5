"""Turn the domain error tree into Temporal failures at the activity boundary."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import timedelta
from typing import TypeVar

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.errors import PermanentError, SystemUnavailable, TransientError

T = TypeVar("T")

log = structlog.stdlib.get_logger("peyvand.activities")


def _note(err: Exception, outcome: str) -> None:
    name = activity.info().activity_type if activity.in_activity() else "port call"
    log.warning(f"{name} {outcome}", error=type(err).__name__, reason=str(err))


async def guarded(call: Awaitable[T]) -> T:
    """Await a port call; permanent errors become non-retryable ``ApplicationError``s.

    The error's class name becomes the failure's ``type`` and its structured attributes its
    details, so a workflow can tell ``InsufficientStock`` from ``InvalidRecord`` without parsing
    messages. Transient errors stay retryable, honouring a remote ``retry_after`` hint.
    """
    try:
        return await call
    except PermanentError as err:
        _note(err, "failed for good")
        raise ApplicationError(
            err.message, err.details(), type=type(err).__name__, non_retryable=True
        ) from err
    except TransientError as err:
        _note(err, "failed, will retry")
        delay = None
        if isinstance(err, SystemUnavailable) and err.retry_after_seconds:
            delay = timedelta(seconds=err.retry_after_seconds)
        raise ApplicationError(
            err.message,
            err.details(),
            type=type(err).__name__,
            non_retryable=False,
            next_retry_delay=delay,
        ) from err
