"""The approval policy: the shipped rules, table-driven; validation naming rule and field; the
file source keeping the last good policy."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from adapters.policy_file import FilePolicySource
from adapters.sandbox.directory import FileDirectory, load_yaml
from domain.approvals import ApprovalFacts, ApprovalMode, parse_policy, plan_levels
from domain.errors import InvalidRecord
from infra.settings import ROOT

D = Decimal
SHIPPED = ROOT / "config" / "approval-policy.yaml"
POLICY = parse_policy(load_yaml(SHIPPED))


def facts(amount: str = "500", currency: str = "EUR", **fields: Any) -> ApprovalFacts:
    return ApprovalFacts(kind="order", amount=D(amount), currency=currency, **fields)


@pytest.mark.parametrize(
    ("request_facts", "groups"),
    [
        pytest.param(facts("10000"), [], id="10000-exactly-needs-none"),
        pytest.param(facts("10000.01"), ["sales_manager"], id="over-10k-manager"),
        pytest.param(facts("500", max_discount_pct=D("15")), [], id="15pct-exactly-none"),
        pytest.param(
            facts("500", max_discount_pct=D("15.5")), ["sales_director"], id="discount-director"
        ),
        pytest.param(facts("500", credit_exceeded=True), ["finance"], id="credit-finance"),
        pytest.param(
            facts("100000.01"), ["sales_manager", "finance", "cfo"], id="over-100k-finance-cfo"
        ),
        pytest.param(
            facts("150000", credit_exceeded=True, max_discount_pct=D("20")),
            ["sales_manager", "sales_director", "finance", "cfo"],
            id="everything-finance-once",
        ),
        pytest.param(facts("11000", "USD"), ["sales_manager"], id="usd-converted-over"),
        pytest.param(facts("10800", "USD"), [], id="usd-converted-under"),
    ],
)
def test_shipped_policy(request_facts: ApprovalFacts, groups: list[str]) -> None:
    plan = plan_levels(POLICY, request_facts)
    assert [level.group for level in plan.levels] == groups
    assert plan.policy_version == POLICY.version
    assert bool(plan.reasons) == bool(groups)


def test_plan_converts_to_the_base_currency_and_names_reasons() -> None:
    plan = plan_levels(POLICY, facts("20000", "USD", credit_exceeded=True))
    assert (plan.base_amount, plan.base_currency) == (D("18400.00"), "EUR")
    assert plan.reasons == [
        "order total over 10,000 EUR",
        "the customer's credit limit is exceeded",
    ]


def test_a_currency_without_a_rate_is_refused() -> None:
    with pytest.raises(InvalidRecord) as caught:
        plan_levels(POLICY, facts("100", "JPY"))
    assert caught.value.problems == ["rates.JPY: missing (base currency EUR)"]


def _policy(*rules: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"version": "t", "base_currency": "EUR", "rules": list(rules), **top}


@pytest.mark.parametrize(
    ("conditions", "request_facts", "applies"),
    [
        ({"segments": ["government"]}, facts(segment="government"), True),
        ({"segments": ["government"]}, facts(segment="industrial"), False),
        ({"segments": ["government"]}, facts(), False),
        ({"categories": ["computing"]}, facts(categories=["drives", "computing"]), True),
        ({"categories": ["computing"]}, facts(categories=["drives"]), False),
        ({"kinds": ["return"]}, facts(), False),
        ({"kinds": ["order", "return"]}, facts(), True),
        ({"credit_exceeded": False}, facts(), True),
        ({"amount_over": "100", "segments": ["retail"]}, facts("200", segment="retail"), True),
        ({"amount_over": "100", "segments": ["retail"]}, facts("50", segment="retail"), False),
        ({}, facts(), True),
    ],
)
def test_conditions(
    conditions: dict[str, Any], request_facts: ApprovalFacts, applies: bool
) -> None:
    policy = parse_policy(_policy({"name": "r", "when": conditions, "levels": [{"group": "g"}]}))
    assert bool(plan_levels(policy, request_facts).levels) is applies


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        pytest.param(
            _policy({"name": "big", "levels": [{"group": "g", "mode": "most"}]}),
            "rules[0] 'big'.levels[0].mode: Input should be 'any', 'all' or 'n_of_m'",
            id="bad-mode",
        ),
        pytest.param(
            _policy({"name": "a", "levels": [{"group": "g"}]}, {"name": "b", "levels": []}),
            "rules[1] 'b'.levels: List should have at least 1 item after validation, not 0",
            id="no-levels",
        ),
        pytest.param(
            _policy({"name": "n", "levels": [{"group": "g", "mode": "n_of_m"}]}),
            "rules[0] 'n'.levels[0].required: n_of_m needs required >= 1",
            id="n-of-m-without-n",
        ),
        pytest.param(
            _policy({"name": "d", "levels": [{"group": "g", "sla": "P2D", "deadline": "P1D"}]}),
            "rules[0] 'd'.levels[0].deadline: 1 day, 0:00:00 is before the SLA",
            id="deadline-before-sla",
        ),
        pytest.param(
            _policy({"name": "x", "when": {"amount_ovr": "1"}, "levels": [{"group": "g"}]}),
            "rules[0] 'x'.when.amount_ovr: Extra inputs are not permitted",
            id="typo-in-condition",
        ),
        pytest.param(
            _policy({"name": "x", "when": {"amount_over": "-1"}, "levels": [{"group": "g"}]}),
            "rules[0] 'x'.when.amount_over: must not be negative, got -1",
            id="negative-amount",
        ),
        pytest.param(
            _policy(
                {"name": "x", "levels": [{"group": "g"}]}, {"name": "x", "levels": [{"group": "g"}]}
            ),
            "rules[1] 'x'.name: duplicate rule name",
            id="duplicate-name",
        ),
        pytest.param(
            _policy(rates={"USD": "0"}), "rates.USD: must be positive, got 0", id="zero-rate"
        ),
        pytest.param({"base_currency": "EUR"}, "version: Field required", id="no-version"),
        pytest.param(
            _policy({"name": "x", "levels": [{"group": "g", "reminder_share": 1.5}]}),
            "rules[0] 'x'.levels[0].reminder_share: Input should be less than 1",
            id="reminder-after-sla",
        ),
    ],
)
def test_bad_policies_are_refused_naming_rule_and_field(raw: Any, problem: str) -> None:
    with pytest.raises(InvalidRecord) as caught:
        parse_policy(raw)
    assert problem in caught.value.problems


def test_unknown_groups_are_refused_when_the_directory_is_known() -> None:
    raw = _policy({"name": "x", "levels": [{"group": "finance"}, {"group": "board"}]})
    with pytest.raises(InvalidRecord) as caught:
        parse_policy(raw, known_groups={"finance"})
    assert caught.value.problems == ["rules[0] 'x'.levels[1].group: unknown group 'board'"]


def test_n_of_m_needs_and_defaults() -> None:
    policy = parse_policy(
        _policy({"name": "x", "levels": [{"group": "g", "mode": "n_of_m", "required": 2}]})
    )
    level = policy.rules[0].levels[0]
    assert level.mode is ApprovalMode.N_OF_M and level.needed(5) == 2
    assert level.final_deadline == level.sla * 2


def _write(path: Path, raw: Any, mtime: int) -> None:
    path.write_text(yaml.safe_dump(raw))
    os.utime(path, (mtime, mtime))


async def test_file_source_refuses_a_bad_version_and_keeps_the_last_good(tmp_path: Path) -> None:
    directory = FileDirectory(ROOT / "config" / "directory.yaml")
    path = tmp_path / "policy.yaml"
    good = _policy({"name": "big", "when": {"amount_over": "10"}, "levels": [{"group": "cfo"}]})
    _write(path, good, 1_000)
    source = FilePolicySource(path, directory)
    assert (await source.current()).version == "t"

    bad = _policy({"name": "big", "levels": [{"group": "board", "sla": "soon"}]}, version="t2")
    _write(path, bad, 2_000)
    policy = await source.current()
    assert policy.version == "t" and policy.rules[0].levels[0].group == "cfo"
    assert source.last_error is not None
    assert source.last_error.problems == [
        "rules[0] 'big'.levels[0].sla: Input should be a valid timedelta, invalid digit in duration"
    ]

    path.write_text("rules: [unclosed")
    os.utime(path, (3_000, 3_000))
    assert (await source.current()).version == "t"

    _write(path, {**good, "version": "t3"}, 4_000)
    assert (await source.current()).version == "t3" and source.last_error is None


async def test_file_source_without_any_good_version_refuses(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    _write(path, _policy({"name": "x", "levels": [{"group": "nobody"}]}), 1_000)
    source = FilePolicySource(path, FileDirectory(ROOT / "config" / "directory.yaml"))
    with pytest.raises(InvalidRecord) as caught:
        await source.current()
    assert caught.value.problems == ["rules[0] 'x'.levels[0].group: unknown group 'nobody'"]


async def test_shipped_files_are_valid_and_match_the_sandbox_users() -> None:
    from adapters.sandbox.seed import DEMO_USERS

    directory = FileDirectory(ROOT / "config" / "directory.yaml")
    assert (await FilePolicySource(SHIPPED, directory).current()).version == POLICY.version
    crm_users = {u.user_id: u.active for u in DEMO_USERS}
    for group in await directory.group_names():
        for member in (await directory.get_group(group)).members:
            assert crm_users.get(member) is True, member
