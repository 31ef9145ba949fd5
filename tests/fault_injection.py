"""Fault injection and the call log of the in-memory fakes, shared by every fake module.

``tests/fakes.py`` re-exports ``FaultInjection``; the fakes' port methods are wrapped by ``_port``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar

from pydantic import BaseModel

from domain.errors import SystemUnavailable

P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F", bound="FaultInjection")
M = TypeVar("M", bound=BaseModel)


class FaultInjection:
    """Fault injection and call log shared by both fakes."""

    system: str = ""

    def __init__(self) -> None:
        self.fail_next: dict[str, list[BaseException]] = {}
        self.fail_after_commit: dict[str, int] = {}
        self.calls: list[str] = []


def _port(
    method: Callable[Concatenate[F, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[F, P], Coroutine[Any, Any, R]]:
    """Wrap a port method with the call log, ``fail_next`` and ``fail_after_commit``."""
    name = method.__name__

    @functools.wraps(method)
    async def wrapper(self: F, /, *args: P.args, **kwargs: P.kwargs) -> R:
        self.calls.append(name)
        pending = self.fail_next.get(name)
        if pending:
            raise pending.pop(0)
        result = await method(self, *args, **kwargs)
        remaining = self.fail_after_commit.get(name, 0)
        if remaining > 0:
            self.fail_after_commit[name] = remaining - 1
            raise SystemUnavailable(
                f"{self.system} {name}: reply lost after the write committed (injected)",
                system=self.system,
            )
        return result

    return wrapper


def _copy(record: M) -> M:
    """A deep copy of a stored record, so callers never share state with the fake."""
    return record.model_copy(deep=True)
