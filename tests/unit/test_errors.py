"""The error tree: hierarchy, transient flags, keyword-only attributes and ``details()``."""

from __future__ import annotations

import inspect
import json
from inspect import Parameter as P
from typing import Any

import pytest

from domain.errors import (
    IdempotencyConflict,
    InsufficientStock,
    InvalidRecord,
    InvalidState,
    PermanentError,
    PeyvandError,
    RecordNotFound,
    SystemUnavailable,
    TransientError,
)

# (class, keyword arguments, transient, direct parent, details() expected)
CASES: list[tuple[type[PeyvandError], dict[str, Any], bool, type[Exception], dict[str, Any]]] = [
    (
        PeyvandError,
        {"system": "crm"},
        False,
        Exception,
        {"message": "boom", "system": "crm"},
    ),
    (TransientError, {}, True, PeyvandError, {"message": "boom", "system": None}),
    (
        SystemUnavailable,
        {"system": "erp", "retry_after_seconds": 2.5},
        True,
        TransientError,
        {"message": "boom", "system": "erp", "retry_after_seconds": 2.5},
    ),
    (PermanentError, {}, False, PeyvandError, {"message": "boom", "system": None}),
    (
        RecordNotFound,
        {"kind": "order", "key": "O-1", "system": "crm"},
        False,
        PermanentError,
        {"message": "boom", "system": "crm", "kind": "order", "key": "O-1"},
    ),
    (
        InvalidRecord,
        {"problems": ["lines: the order has no lines"]},
        False,
        PermanentError,
        {"message": "boom", "system": None, "problems": ["lines: the order has no lines"]},
    ),
    (
        InsufficientStock,
        {"sku": "SKU-1", "requested": "10", "available": "3", "system": "erp"},
        False,
        PermanentError,
        {
            "message": "boom",
            "system": "erp",
            "sku": "SKU-1",
            "requested": "10",
            "available": "3",
        },
    ),
    (
        IdempotencyConflict,
        {"reference": "R-1"},
        False,
        PermanentError,
        {"message": "boom", "system": None, "reference": "R-1"},
    ),
    (
        InvalidState,
        {"kind": "sales_order", "key": "SO-000001", "state": "shipped"},
        False,
        PermanentError,
        {
            "message": "boom",
            "system": None,
            "kind": "sales_order",
            "key": "SO-000001",
            "state": "shipped",
        },
    ),
]
IDS = [cls.__name__ for cls, *_ in CASES]


@pytest.mark.parametrize(("cls", "kwargs", "transient", "parent", "details"), CASES, ids=IDS)
def test_error(
    cls: type[PeyvandError],
    kwargs: dict[str, Any],
    transient: bool,
    parent: type[Exception],
    details: dict[str, Any],
) -> None:
    err = cls("boom", **kwargs)
    assert cls.__bases__ == (parent,)
    assert err.transient is transient
    assert isinstance(err, TransientError) is transient
    assert isinstance(err, PermanentError) is (not transient and cls is not PeyvandError)
    assert str(err) == "boom"
    assert err.message == "boom"
    assert err.details() == details
    for name, value in kwargs.items():
        assert getattr(err, name) == value
    # details() must survive JSON serialisation (it becomes Temporal failure details).
    assert json.loads(json.dumps(err.details())) == details


@pytest.mark.parametrize(("cls", "kwargs", "transient", "parent", "details"), CASES, ids=IDS)
def test_attributes_are_keyword_only(
    cls: type[PeyvandError],
    kwargs: dict[str, Any],
    transient: bool,
    parent: type[Exception],
    details: dict[str, Any],
) -> None:
    params = list(inspect.signature(cls).parameters.values())
    assert [(p.name, p.kind) for p in params[:1]] == [("message", P.POSITIONAL_OR_KEYWORD)]
    assert params[1:], "every error takes at least `system`"
    assert all(p.kind is P.KEYWORD_ONLY for p in params[1:])
    positional = list(kwargs.values()) or ["crm"]
    with pytest.raises(TypeError):
        cls("boom", *positional)


@pytest.mark.parametrize(
    ("cls", "required"),
    [
        (RecordNotFound, {"kind": "order", "key": "O-1"}),
        (InsufficientStock, {"sku": "S", "requested": "1", "available": "0"}),
        (IdempotencyConflict, {"reference": "R-1"}),
        (InvalidState, {"kind": "invoice", "key": "INV-1", "state": "paid"}),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else "",
)
def test_structured_attributes_are_required(
    cls: type[PeyvandError], required: dict[str, str]
) -> None:
    for missing in required:
        partial = {k: v for k, v in required.items() if k != missing}
        with pytest.raises(TypeError, match=missing):
            cls("boom", **partial)
    cls("boom", **required)  # and all of them together suffice


@pytest.mark.parametrize(
    ("err", "defaults"),
    [
        (PeyvandError("m"), {"system": None}),
        (SystemUnavailable("m"), {"system": None, "retry_after_seconds": None}),
        (InvalidRecord("m"), {"system": None, "problems": []}),
    ],
    ids=["PeyvandError", "SystemUnavailable", "InvalidRecord"],
)
def test_optional_attributes_default(err: PeyvandError, defaults: dict[str, Any]) -> None:
    assert {k: getattr(err, k) for k in defaults} == defaults


def test_invalid_record_copies_problems() -> None:
    problems = ["a: bad"]
    err = InvalidRecord("m", problems=problems)
    problems.append("b: worse")
    assert err.problems == ["a: bad"]
    assert err.details()["problems"] == ["a: bad"]


@pytest.mark.parametrize("cls", [TransientError, SystemUnavailable])
def test_transient_errors_are_caught_as_transient(cls: type[TransientError]) -> None:
    with pytest.raises(TransientError) as info:
        raise cls("down")
    assert not isinstance(info.value, PermanentError)


@pytest.mark.parametrize(
    "err",
    [
        RecordNotFound("m", kind="k", key="x"),
        InvalidRecord("m"),
        InsufficientStock("m", sku="s", requested="1", available="0"),
        IdempotencyConflict("m", reference="r"),
        InvalidState("m", kind="k", key="x", state="s"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_permanent_errors_are_caught_as_permanent(err: PeyvandError) -> None:
    with pytest.raises(PermanentError):
        raise err
    assert not err.transient
