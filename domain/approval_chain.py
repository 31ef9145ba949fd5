"""Who may decide an approval level, and what a decision does to it. No I/O here.

A level has *seats*: one per member of its approver group, minus the requester and the record's
owner (four-eyes). A seat is held by its member, or by the person the member handed it to (an
out-of-office delegation in the directory, or a delegation during the chain). Each person decides
once per level, filling every seat they hold. Once the level is escalated, any member of the
escalation group may decide the whole level as the higher authority.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from domain.approvals import ApprovalMode, ExpiryOutcome, LevelSpec

# --- directory --------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DirectoryUser(_Strict):
    """A person who may approve; ids only travel into workflows, never names or e-mails."""

    user_id: str
    name: str = ""
    active: bool = True


class DirectoryGroup(_Strict):
    """An approver group and where it escalates to."""

    name: str
    members: list[str] = Field(default_factory=list)
    escalation_group: str | None = None


class OutOfOffice(_Strict):
    """``user`` is away from ``starts`` until ``ends``; ``delegate`` decides in their place."""

    user: str
    delegate: str
    starts: datetime | None = None
    ends: datetime | None = None

    def active_at(self, at: datetime) -> bool:
        return (self.starts is None or self.starts <= at) and (self.ends is None or at < self.ends)


class Directory(_Strict):
    """Users, groups and out-of-office delegations."""

    users: list[DirectoryUser] = Field(default_factory=list)
    groups: list[DirectoryGroup] = Field(default_factory=list)
    out_of_office: list[OutOfOffice] = Field(default_factory=list)

    def problems(self) -> list[str]:
        """What is inconsistent: unknown members, escalation groups or delegates."""
        users = {u.user_id for u in self.users}
        groups = {g.name for g in self.groups}
        found: list[str] = []
        for i, group in enumerate(self.groups):
            found += [
                f"groups[{i}] {group.name!r}.members: unknown user {m!r}"
                for m in group.members
                if m not in users
            ]
            if group.escalation_group is not None and group.escalation_group not in groups:
                found.append(
                    f"groups[{i}] {group.name!r}.escalation_group: "
                    f"unknown group {group.escalation_group!r}"
                )
        for i, away in enumerate(self.out_of_office):
            found += [
                f"out_of_office[{i}].{field}: unknown user {who!r}"
                for field, who in (("user", away.user), ("delegate", away.delegate))
                if who not in users
            ]
        return found


class ResolvedGroup(BaseModel):
    """A group as the directory knows it at one moment: active members, escalation, delegations."""

    name: str
    members: list[str]
    escalation_group: str | None = None
    escalation_members: list[str] = Field(default_factory=list)
    away: dict[str, str] = Field(default_factory=dict)  # member → delegate, active delegations


# --- level state ------------------------------------------------------------------------------


class LevelOutcome(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


class LevelState(BaseModel):
    """One level of a running chain."""

    index: int
    spec: LevelSpec
    seats: dict[str, str]  # member → who holds the seat now
    needed: int
    escalation_group: str | None = None
    escalation_members: list[str] = Field(default_factory=list)
    started_at: datetime
    reminded: bool = False
    escalated: bool = False
    approved_by: list[str] = Field(default_factory=list)
    rejected_by: list[str] = Field(default_factory=list)
    outcome: LevelOutcome | None = None
    expired_as: ExpiryOutcome | None = None

    @property
    def deciders(self) -> list[str]:
        return self.approved_by + self.rejected_by

    def approvals(self) -> int:
        """Seats filled with an approval."""
        return sum(1 for holder in self.seats.values() if holder in self.approved_by)

    def pending(self) -> list[str]:
        """Who can still act, sorted: open seats' holders, and the escalation group once due."""
        people = {h for h in self.seats.values() if h not in self.deciders}
        if self.escalated:
            people |= {m for m in self.escalation_members if m not in self.deciders}
        return sorted(people) if self.outcome is None else []


def open_level(
    index: int, spec: LevelSpec, group: ResolvedGroup, excluded: set[str], at: datetime
) -> LevelState:
    """A level as it starts: seats for the group's members, minus ``excluded`` (four-eyes).

    An away member's seat goes to their delegate unless the delegate is excluded or already in
    the group: a delegation never lets one person fill two seats.
    """
    members = [m for m in dict.fromkeys(group.members) if m not in excluded]
    seats: dict[str, str] = {}
    for member in members:
        delegate = group.away.get(member)
        usable = delegate is not None and delegate not in excluded and delegate not in members
        seats[member] = delegate if usable and delegate is not None else member
    return LevelState(
        index=index,
        spec=spec,
        seats=seats,
        needed=spec.needed(len(seats)),
        escalation_group=group.escalation_group,
        escalation_members=[m for m in group.escalation_members if m not in excluded],
        started_at=at,
    )


def short_of_seats(level: LevelState) -> bool:
    """True when too few people hold seats to ever reach the approvals the level needs."""
    return len(set(level.seats.values())) < level.needed or not level.seats


def decision_problem(
    level: LevelState | None, user: str, excluded: dict[str, str], finished: bool
) -> str | None:
    """Why ``user`` may not decide now; None when they may.

    Args:
        level: The current level, None when none is open.
        user: Who decides.
        excluded: Persons who may never decide, with why (requester, owner).
        finished: The chain has ended.
    """
    if finished:
        return "the approval chain is finished"
    if level is None or level.outcome is not None:
        return "no approval level is open at the moment; try again shortly"
    if user in excluded:
        return f"{user} is the {excluded[user]} and cannot decide (four-eyes)"
    if user in level.deciders:
        return f"{user} already decided at level {level.index + 1}"
    if user in level.seats.values():
        return None
    if level.escalated and user in level.escalation_members:
        return None
    if user in level.seats:
        return f"{user} handed this decision to {level.seats[user]}"
    return f"{user} is not an approver of level {level.index + 1} ({level.spec.group})"


def apply_decision(level: LevelState, user: str, approve: bool) -> LevelOutcome | None:
    """Record a decision (already validated) and return the level's outcome, if it has one."""
    holds_seat = user in level.seats.values()
    (level.approved_by if approve else level.rejected_by).append(user)
    if not holds_seat:  # the escalation group decides the whole level
        level.outcome = LevelOutcome.APPROVED if approve else LevelOutcome.REJECTED
        return level.outcome
    mode = level.spec.mode
    if mode is ApprovalMode.ANY:
        level.outcome = LevelOutcome.APPROVED if approve else LevelOutcome.REJECTED
    elif level.approvals() >= level.needed:
        level.outcome = LevelOutcome.APPROVED
    elif not approve:
        # For "all" every seat is needed, so one rejection always lands here.
        open_seats = sum(1 for h in level.seats.values() if h not in level.deciders)
        if level.approvals() + open_seats < level.needed:
            level.outcome = LevelOutcome.REJECTED
    return level.outcome


def delegation_problem(
    level: LevelState | None, holder: str, delegate: str, excluded: dict[str, str], finished: bool
) -> str | None:
    """Why ``holder`` may not hand their pending decision to ``delegate``; None when they may."""
    problem = decision_problem(level, holder, excluded, finished)
    if problem is not None:
        return problem
    assert level is not None
    if holder not in level.seats.values():
        return f"{holder} decides as the escalation group and cannot hand that on"
    if delegate == holder:
        return f"{holder} cannot delegate to themselves"
    if delegate in excluded:
        return f"{delegate} is the {excluded[delegate]} and cannot decide (four-eyes)"
    if delegate in level.seats.values() or delegate in level.deciders:
        return f"{delegate} already holds a decision at level {level.index + 1}"
    if delegate in level.escalation_members:
        return f"{delegate} is in the escalation group of level {level.index + 1}"
    return None


def apply_delegation(level: LevelState, holder: str, delegate: str) -> None:
    """Hand every seat ``holder`` holds to ``delegate`` (already validated)."""
    for member, current in level.seats.items():
        if current == holder:
            level.seats[member] = delegate
