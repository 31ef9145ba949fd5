"""Errors survive pickling and copying (multiprocessing, deep copies of results)."""

from __future__ import annotations

import copy
import pickle

import pytest

from domain.errors import (
    IdempotencyConflict,
    InsufficientStock,
    InvalidRecord,
    InvalidState,
    PeyvandError,
    RecordNotFound,
    SystemUnavailable,
)

ERRORS: list[PeyvandError] = [
    SystemUnavailable("down", system="erp", retry_after_seconds=2.5),
    RecordNotFound("no order", kind="order", key="O-1", system="crm"),
    InvalidRecord("bad", problems=["lines[1].quantity: must be positive"], system="crm"),
    InsufficientStock("short", sku="P1", requested="5", available="3", system="erp"),
    IdempotencyConflict("reused", reference="order-1/invoice", system="erp"),
    InvalidState("shipped", kind="sales_order", key="SO-1", state="shipped", system="erp"),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize(
    "clone", [lambda e: pickle.loads(pickle.dumps(e)), copy.copy, copy.deepcopy]
)
def test_error_round_trips(error: PeyvandError, clone: object) -> None:
    assert callable(clone)
    again = clone(error)
    assert type(again) is type(error)
    assert again.details() == error.details()
    assert str(again) == str(error)
