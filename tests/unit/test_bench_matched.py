"""``bench.measure``: the bare workflow's activities fitted to ours, round by round."""

from __future__ import annotations

import pytest

from bench.measure import Matched, Meter


def test_consecutive_bare_runs_add_up_to_the_mean_of_ours() -> None:
    matched = Matched()
    matched.add([10, 10, 11])
    matched.add([10])
    assert matched.mean == 10.25
    steps = [matched.steps(i) for i in range(100)]
    assert set(steps) == {10, 11}
    assert sum(steps) == 1025
    assert sum(matched.steps(i) for i in range(37, 41)) == 41  # any 4 in a row: 41


def test_whole_means_give_whole_runs() -> None:
    matched = Matched()
    matched.add([12, 12])
    assert {matched.steps(i) for i in range(50)} == {12}


def test_no_sample_no_guess() -> None:
    with pytest.raises(ValueError, match="no run of ours"):
        Matched().steps(0)


async def test_the_baseline_runs_after_ours_was_read_back() -> None:
    seen: list[tuple[str, int]] = []
    matched = Matched()

    async def ours(i: int) -> None:
        seen.append(("ours", i))

    async def bare(i: int) -> None:
        seen.append((f"bare {matched.steps(i)}", i))

    async def read_back(items: range) -> None:
        seen.append(("read back", len(items)))
        matched.add([9 for _ in items])

    await Meter().compare(("o", "b"), 4, 1, ours, bare, rounds=2, after_ours=read_back)
    assert seen == [
        ("ours", 0),
        ("ours", 1),
        ("read back", 2),
        ("bare 9", 0),
        ("bare 9", 1),
        ("bare 9", 2),  # second round: the baseline first, fitted to the first round
        ("bare 9", 3),
        ("ours", 2),
        ("ours", 3),
        ("read back", 2),
    ]
