"""Seats, eligibility and level outcomes of approval chains, table-driven."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.approval_chain import (
    Directory,
    DirectoryGroup,
    DirectoryUser,
    LevelOutcome,
    LevelState,
    OutOfOffice,
    ResolvedGroup,
    apply_decision,
    apply_delegation,
    decision_problem,
    delegation_problem,
    open_level,
    short_of_seats,
)
from domain.approvals import ApprovalMode, LevelSpec

AT = datetime(2026, 11, 29, 9, tzinfo=UTC)
EXCLUDED = {"rep": "requester", "owner": "record's owner"}


def level(
    mode: ApprovalMode = ApprovalMode.ANY,
    members: tuple[str, ...] = ("a", "b", "c"),
    required: int | None = None,
    away: dict[str, str] | None = None,
) -> LevelState:
    group = ResolvedGroup(
        name="g",
        members=list(members),
        escalation_group="up",
        escalation_members=["boss", "rep"],
        away=away or {},
    )
    spec = LevelSpec(group="g", mode=mode, required=required)
    return open_level(0, spec, group, set(EXCLUDED), AT)


def test_open_level_drops_requester_and_owner_and_seats_delegates() -> None:
    lv = level(members=("a", "rep", "owner", "b", "a"), away={"a": "x", "b": "rep"})
    # a is away with x; b's delegate is the requester, so b keeps the seat.
    assert lv.seats == {"a": "x", "b": "b"}
    assert lv.escalation_members == ["boss"]
    assert lv.needed == 1 and lv.pending() == ["b", "x"]


def test_a_delegate_already_in_the_group_does_not_take_a_second_seat() -> None:
    lv = level(ApprovalMode.ALL, members=("a", "b"), away={"a": "b"})
    assert lv.seats == {"a": "a", "b": "b"} and lv.needed == 2


@pytest.mark.parametrize(
    ("mode", "required", "decisions", "outcome"),
    [
        (ApprovalMode.ANY, None, [("a", True)], LevelOutcome.APPROVED),
        (ApprovalMode.ANY, None, [("b", False)], LevelOutcome.REJECTED),
        (ApprovalMode.ALL, None, [("a", True), ("b", True)], None),
        (ApprovalMode.ALL, None, [("a", True), ("b", True), ("c", True)], LevelOutcome.APPROVED),
        (ApprovalMode.ALL, None, [("a", True), ("c", False)], LevelOutcome.REJECTED),
        (ApprovalMode.ALL, None, [("a", False)], LevelOutcome.REJECTED),
        (ApprovalMode.N_OF_M, 2, [("a", True)], None),
        (ApprovalMode.N_OF_M, 2, [("a", True), ("c", True)], LevelOutcome.APPROVED),
        (ApprovalMode.N_OF_M, 2, [("a", False)], None),
        (ApprovalMode.N_OF_M, 2, [("a", False), ("b", True), ("c", True)], LevelOutcome.APPROVED),
        (ApprovalMode.N_OF_M, 2, [("a", False), ("b", False)], LevelOutcome.REJECTED),
        (ApprovalMode.N_OF_M, 3, [("a", False)], LevelOutcome.REJECTED),
    ],
)
def test_level_outcomes(
    mode: ApprovalMode,
    required: int | None,
    decisions: list[tuple[str, bool]],
    outcome: LevelOutcome | None,
) -> None:
    lv = level(mode, required=required)
    for who, approve in decisions:
        assert decision_problem(lv, who, EXCLUDED, finished=False) is None
        apply_decision(lv, who, approve)
    assert lv.outcome is outcome


def test_escalation_group_decides_the_whole_level_once_escalated() -> None:
    lv = level(ApprovalMode.ALL)
    assert "not an approver" in (decision_problem(lv, "boss", EXCLUDED, False) or "")
    lv.escalated = True
    assert lv.pending() == ["a", "b", "boss", "c"]
    assert decision_problem(lv, "boss", EXCLUDED, False) is None
    assert apply_decision(lv, "boss", True) is LevelOutcome.APPROVED
    assert lv.pending() == []


@pytest.mark.parametrize(
    ("who", "problem"),
    [
        ("rep", "rep is the requester and cannot decide (four-eyes)"),
        ("owner", "owner is the record's owner and cannot decide (four-eyes)"),
        ("zed", "zed is not an approver of level 1 (g)"),
        ("a", "a already decided at level 1"),
        ("b", None),
    ],
)
def test_decision_problems(who: str, problem: str | None) -> None:
    lv = level(ApprovalMode.ALL)
    apply_decision(lv, "a", True)
    assert decision_problem(lv, who, EXCLUDED, finished=False) == problem


def test_no_decision_on_a_finished_chain_or_between_levels() -> None:
    lv = level()
    assert decision_problem(lv, "a", EXCLUDED, finished=True) == "the approval chain is finished"
    assert "no approval level is open" in (decision_problem(None, "a", EXCLUDED, False) or "")


@pytest.mark.parametrize(
    ("holder", "delegate", "problem"),
    [
        ("a", "x", None),
        ("a", "a", "a cannot delegate to themselves"),
        ("a", "b", "b already holds a decision at level 1"),
        ("a", "rep", "rep is the requester and cannot decide (four-eyes)"),
        ("a", "boss", "boss is in the escalation group of level 1"),
        ("zed", "x", "zed is not an approver of level 1 (g)"),
    ],
)
def test_delegation_problems(holder: str, delegate: str, problem: str | None) -> None:
    lv = level(ApprovalMode.ALL)
    assert delegation_problem(lv, holder, delegate, EXCLUDED, finished=False) == problem


def test_delegation_moves_the_seat() -> None:
    lv = level(ApprovalMode.ALL, members=("a", "b"))
    apply_delegation(lv, "a", "x")
    assert lv.seats == {"a": "x", "b": "b"}
    assert decision_problem(lv, "a", EXCLUDED, False) == "a handed this decision to x"
    apply_decision(lv, "x", True)
    assert lv.outcome is None
    apply_decision(lv, "b", True)
    assert lv.outcome is LevelOutcome.APPROVED


def test_short_of_seats() -> None:
    assert short_of_seats(level(members=("rep", "owner")))
    assert short_of_seats(level(ApprovalMode.N_OF_M, members=("a", "rep"), required=2))
    assert not short_of_seats(level(ApprovalMode.N_OF_M, members=("a", "b"), required=2))


def test_out_of_office_windows_and_directory_problems() -> None:
    away = OutOfOffice(user="a", delegate="x", starts=AT, ends=AT + timedelta(days=1))
    assert away.active_at(AT) and not away.active_at(AT + timedelta(days=1))
    assert not away.active_at(AT - timedelta(seconds=1))
    directory = Directory(
        users=[DirectoryUser(user_id="a")],
        groups=[DirectoryGroup(name="g", members=["a", "ghost"], escalation_group="nope")],
        out_of_office=[away],
    )
    assert directory.problems() == [
        "groups[0] 'g'.members: unknown user 'ghost'",
        "groups[0] 'g'.escalation_group: unknown group 'nope'",
        "out_of_office[0].delegate: unknown user 'x'",
    ]
