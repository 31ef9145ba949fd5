"""The one error tree of peyvand.

Adapters translate every vendor error (SQL, HTTP, SOAP …) into one of these, so activities and
workflows reason about *kinds* of failure, never about a vendor::

    PeyvandError
    ├── TransientError              retry with backoff: the same call may succeed later
    │   └── SystemUnavailable       the remote system is down, timing out or rate limiting
    └── PermanentError              retrying cannot help; becomes a non-retryable ApplicationError
        ├── RecordNotFound          an id that the remote system does not know
        ├── InvalidRecord           data that breaks a business or format rule
        ├── InsufficientStock       not enough available-to-promise stock for a line
        ├── IdempotencyConflict     an external reference reused with a different payload
        └── InvalidState            the record is in a state that forbids the operation
            └── NotShipped          invoicing a sales order whose goods have not left yet

Every error carries keyword-only structured attributes; ``details()`` returns them as a plain dict
so that they survive serialisation into a Temporal failure.
"""

from __future__ import annotations

from typing import Any


class PeyvandError(Exception):
    """Base of every error peyvand raises on purpose.

    Args:
        message: Human-readable explanation, shown in the Temporal UI and the CLI.
        system: Which system raised it ("crm", "erp", "domain"), if any.
    """

    transient: bool = False

    def __init__(self, message: str, *, system: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.system = system

    def details(self) -> dict[str, Any]:
        """Structured attributes of the error, JSON-friendly."""
        return {"message": self.message, "system": self.system}

    def __reduce__(self) -> tuple[Any, ...]:
        # The keyword-only attributes are required, so the default (args-only) pickling and
        # copying cannot rebuild the error; ``details()`` names exactly the constructor's
        # arguments.
        return (_rebuild, (type(self), self.details()))


def _rebuild(cls: type[PeyvandError], details: dict[str, Any]) -> PeyvandError:
    fields = dict(details)
    message = fields.pop("message")
    return cls(message, **fields)


class TransientError(PeyvandError):
    """A failure that may go away if the same call is repeated later."""

    transient = True


class SystemUnavailable(TransientError):
    """The remote system is down, overloaded or rate limiting.

    Args:
        retry_after_seconds: A hint from the remote system, if it gave one.
    """

    def __init__(
        self, message: str, *, system: str | None = None, retry_after_seconds: float | None = None
    ) -> None:
        super().__init__(message, system=system)
        self.retry_after_seconds = retry_after_seconds

    def details(self) -> dict[str, Any]:
        return {**super().details(), "retry_after_seconds": self.retry_after_seconds}


class PermanentError(PeyvandError):
    """A failure that repeating the call cannot fix."""


class RecordNotFound(PermanentError):
    """The remote system does not know the record.

    Args:
        kind: The record's kind, such as "order", "product", "invoice".
        key: The id that was looked up.
    """

    def __init__(self, message: str, *, kind: str, key: str, system: str | None = None) -> None:
        super().__init__(message, system=system)
        self.kind = kind
        self.key = key

    def details(self) -> dict[str, Any]:
        return {**super().details(), "kind": self.kind, "key": self.key}


class InvalidRecord(PermanentError):
    """Data breaks a format or business rule.

    Args:
        problems: One readable line per problem, naming the field.
    """

    def __init__(
        self, message: str, *, problems: list[str] | None = None, system: str | None = None
    ) -> None:
        super().__init__(message, system=system)
        self.problems = list(problems or [])

    def details(self) -> dict[str, Any]:
        return {**super().details(), "problems": self.problems}


class InsufficientStock(PermanentError):
    """Not enough available-to-promise stock.

    Args:
        sku: The product.
        requested: Quantity asked for.
        available: Quantity available across the warehouses considered.
    """

    def __init__(
        self,
        message: str,
        *,
        sku: str,
        requested: str,
        available: str,
        system: str | None = None,
    ) -> None:
        super().__init__(message, system=system)
        self.sku = sku
        self.requested = requested
        self.available = available

    def details(self) -> dict[str, Any]:
        return {
            **super().details(),
            "sku": self.sku,
            "requested": self.requested,
            "available": self.available,
        }


class IdempotencyConflict(PermanentError):
    """An external reference was reused for a different payload.

    Args:
        reference: The external reference.
    """

    def __init__(self, message: str, *, reference: str, system: str | None = None) -> None:
        super().__init__(message, system=system)
        self.reference = reference

    def details(self) -> dict[str, Any]:
        return {**super().details(), "reference": self.reference}


class InvalidState(PermanentError):
    """The record's state forbids the operation (cancel a shipped order, invoice twice …).

    Args:
        kind: The record's kind.
        key: Its id or reference.
        state: The state it is in.
    """

    def __init__(
        self, message: str, *, kind: str, key: str, state: str, system: str | None = None
    ) -> None:
        super().__init__(message, system=system)
        self.kind = kind
        self.key = key
        self.state = state

    def details(self) -> dict[str, Any]:
        return {**super().details(), "kind": self.kind, "key": self.key, "state": self.state}


class NotShipped(InvalidState):
    """An invoice was asked for a sales order that is still open: not yet, rather than never.

    A process told of a shipment may invoice at once and, on this error, go back to waiting;
    every other ``InvalidState`` (a cancelled or already invoiced order) stops it.
    """
