"""The approval policy as data: which levels of approvers a request needs, and why.

A policy is a versioned document (YAML or JSON by default) with a base currency, exchange rates
into it, and an ordered list of rules. Each rule names conditions on the facts of a request and
the levels it asks for. ``plan_levels`` evaluates every rule in file order and keeps each
approver group once, at its first position, so "total over 100,000 → finance, CFO" after
"credit exceeded → finance" asks finance once. ``parse_policy`` validates a document and refuses
it with one problem per wrong field, each naming the rule by index and name. No I/O here.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from domain.errors import InvalidRecord
from domain.money import ZERO, is_currency_code, round_money


class ApprovalMode(StrEnum):
    """How many of a level's approvers must approve."""

    ANY = "any"  # the first decision decides the level
    ALL = "all"  # every approver; one rejection rejects
    N_OF_M = "n_of_m"  # ``required`` approvals; rejected once they can no longer be reached


class ExpiryOutcome(StrEnum):
    """How a level ends when nobody decided before its final deadline."""

    REJECT = "reject"
    APPROVE = "approve"  # only for low-risk levels, where the rule says so


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LevelSpec(_Strict):
    """One level of a chain: who decides, how many of them, and how long they have.

    Args:
        group: The approver group (a directory group).
        mode: any one, all, or N of M.
        required: N for ``n_of_m``; ignored otherwise.
        sla: When the level escalates to the group's escalation group.
        reminder_share: The share of the SLA after which the approvers are reminded.
        deadline: When the level ends undecided (default: twice the SLA).
        on_expiry: The outcome at that deadline.
    """

    group: str = Field(min_length=1)
    mode: ApprovalMode = ApprovalMode.ANY
    required: int | None = None
    sla: timedelta = timedelta(days=1)
    reminder_share: float = Field(default=0.5, gt=0, lt=1)
    deadline: timedelta | None = None
    on_expiry: ExpiryOutcome = ExpiryOutcome.REJECT

    @property
    def final_deadline(self) -> timedelta:
        return self.deadline if self.deadline is not None else self.sla * 2

    def needed(self, seats: int) -> int:
        """How many approvals complete the level when ``seats`` approvers hold it."""
        if self.mode is ApprovalMode.ANY:
            return 1
        if self.mode is ApprovalMode.ALL:
            return seats
        return self.required or 1


class Conditions(_Strict):
    """When a rule applies; every condition given must hold, and a rule with none always does.

    Args:
        amount_over: The request's amount in the base currency is over this.
        discount_over: Its largest discount, in percent, is over this.
        credit_exceeded: The customer's credit limit is (true) or is not (false) exceeded.
        segments: The customer segment is one of these.
        categories: At least one product is of one of these categories.
        kinds: The request kind is one of these ("order", "return" …).
    """

    amount_over: Decimal | None = None
    discount_over: Decimal | None = None
    credit_exceeded: bool | None = None
    segments: list[str] | None = None
    categories: list[str] | None = None
    kinds: list[str] | None = None


class Rule(_Strict):
    """A named rule: when its conditions hold, the request needs its levels, in order."""

    name: str = Field(min_length=1)
    when: Conditions = Field(default_factory=Conditions)
    levels: list[LevelSpec] = Field(min_length=1)
    reason: str | None = None  # shown to people; default: the rule's name


class ApprovalPolicy(_Strict):
    """A versioned approval policy.

    Args:
        version: Recorded by every chain planned with it.
        base_currency: The currency the amounts of the rules are in.
        rates: Units of the base currency per unit of each other currency.
        rules: Evaluated in order.
    """

    version: str = Field(min_length=1)
    base_currency: str
    rates: dict[str, Decimal] = Field(default_factory=dict)
    rules: list[Rule] = Field(default_factory=list)


class ApprovalFacts(BaseModel):
    """The facts of one request that the rules look at."""

    kind: str
    amount: Decimal
    currency: str
    max_discount_pct: Decimal = ZERO
    credit_exceeded: bool = False
    segment: str | None = None
    categories: list[str] = Field(default_factory=list)


class ApprovalPlan(BaseModel):
    """What a request needs: no levels means no approval."""

    policy_version: str
    base_currency: str
    base_amount: Decimal
    levels: list[LevelSpec] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)


def base_amount(policy: ApprovalPolicy, amount: Decimal, currency: str) -> Decimal:
    """``amount`` in the policy's base currency, rounded to cents.

    Raises:
        InvalidRecord: The policy has no rate for ``currency``.
    """
    if currency == policy.base_currency:
        return amount
    rate = policy.rates.get(currency)
    if rate is None:
        raise InvalidRecord(
            f"approval policy {policy.version} has no exchange rate for {currency}",
            problems=[f"rates.{currency}: missing (base currency {policy.base_currency})"],
            system="domain",
        )
    return round_money(amount * rate)


def rule_applies(when: Conditions, facts: ApprovalFacts, amount: Decimal) -> bool:
    """True when every condition given holds for ``facts`` (``amount`` in the base currency)."""
    checks = [
        when.amount_over is None or amount > when.amount_over,
        when.discount_over is None or facts.max_discount_pct > when.discount_over,
        when.credit_exceeded is None or facts.credit_exceeded == when.credit_exceeded,
        when.segments is None or facts.segment in when.segments,
        when.categories is None or bool(set(when.categories) & set(facts.categories)),
        when.kinds is None or facts.kind in when.kinds,
    ]
    return all(checks)


def plan_levels(policy: ApprovalPolicy, facts: ApprovalFacts) -> ApprovalPlan:
    """The levels ``facts`` need under ``policy``: each group once, at its first position."""
    amount = base_amount(policy, facts.amount, facts.currency)
    levels: list[LevelSpec] = []
    reasons: list[str] = []
    for rule in policy.rules:
        if not rule_applies(rule.when, facts, amount):
            continue
        reasons.append(rule.reason or rule.name)
        known = {level.group for level in levels}
        levels += [level for level in rule.levels if level.group not in known]
    return ApprovalPlan(
        policy_version=policy.version,
        base_currency=policy.base_currency,
        base_amount=amount,
        levels=levels,
        reasons=reasons,
    )


def _where(raw: Any, loc: tuple[int | str, ...]) -> str:
    """A readable location; a rule is named by index and name: ``rules[2] 'big'.levels[0].sla``."""
    parts: list[str] = []
    for i, part in enumerate(loc):
        if isinstance(part, int):
            parts[-1] += f"[{part}]"
            if loc[:i] == ("rules",) and isinstance(raw, dict):
                rules = raw.get("rules")
                if isinstance(rules, list) and part < len(rules) and isinstance(rules[part], dict):
                    name = rules[part].get("name")
                    if name:
                        parts[-1] += f" {name!r}"
        else:
            parts.append(str(part))
    return ".".join(parts) or "(policy)"


def _semantic_problems(policy: ApprovalPolicy) -> list[str]:
    problems: list[str] = []
    if not is_currency_code(policy.base_currency):
        problems.append(f"base_currency: {policy.base_currency!r} is not a currency code")
    for currency, rate in policy.rates.items():
        if not is_currency_code(currency):
            problems.append(f"rates.{currency}: not a currency code")
        if rate <= ZERO:
            problems.append(f"rates.{currency}: must be positive, got {rate}")
    names: set[str] = set()
    for i, rule in enumerate(policy.rules):
        where = f"rules[{i}] {rule.name!r}"
        if rule.name in names:
            problems.append(f"{where}.name: duplicate rule name")
        names.add(rule.name)
        for field in ("amount_over", "discount_over"):
            value = getattr(rule.when, field)
            if value is not None and value < ZERO:
                problems.append(f"{where}.when.{field}: must not be negative, got {value}")
        for j, level in enumerate(rule.levels):
            lw = f"{where}.levels[{j}]"
            if level.mode is ApprovalMode.N_OF_M and (level.required or 0) < 1:
                problems.append(f"{lw}.required: n_of_m needs required >= 1")
            if level.sla <= timedelta(0):
                problems.append(f"{lw}.sla: must be positive, got {level.sla}")
            if level.final_deadline < level.sla:
                problems.append(f"{lw}.deadline: {level.final_deadline} is before the SLA")
    return problems


def parse_policy(raw: Any, *, known_groups: set[str] | None = None) -> ApprovalPolicy:
    """Validate a policy document (as loaded from YAML or JSON).

    Args:
        raw: The document.
        known_groups: The directory's groups; when given, every level's group must be one.

    Raises:
        InvalidRecord: With one problem per wrong field, each naming its rule and field.
    """
    try:
        policy = ApprovalPolicy.model_validate(raw)
    except ValidationError as err:
        problems = [f"{_where(raw, e['loc'])}: {e['msg']}" for e in err.errors()]
        raise InvalidRecord("approval policy refused", problems=problems, system="domain") from None
    problems = _semantic_problems(policy)
    if known_groups is not None:
        for i, rule in enumerate(policy.rules):
            for j, level in enumerate(rule.levels):
                if level.group not in known_groups:
                    problems.append(
                        f"rules[{i}] {rule.name!r}.levels[{j}].group: unknown group {level.group!r}"
                    )
    if problems:
        raise InvalidRecord("approval policy refused", problems=problems, system="domain")
    return policy
