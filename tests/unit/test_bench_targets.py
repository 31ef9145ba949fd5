"""``bench.measure.target_lines``: issue 2's targets judged from a run's phases."""

from __future__ import annotations

from bench.measure import Phase, target_lines


def _phase(per_second: float, p50: float) -> Phase:
    # Ten workflows whose median latency is p50, finished at this rate.
    return Phase("x", latencies=[p50] * 10, seconds=10 / per_second)


def test_each_measured_target_is_judged_with_the_bare_figure_beside() -> None:
    lines = target_lines(
        [
            (10, _phase(8.0, 1.19), _phase(8.5, 1.13)),
            (50, _phase(9.0, 5.2), _phase(10.0, 4.6)),
        ]
    )
    assert lines == [
        "  target met: ratio ours/bare ≥ 0.8 at c=50: 0.90",
        "  target NOT met: p50 < 1 s at c=10: 1.19 s (the bare workflow's own: 1.13 s), missed "
        "by the bare workflow too: the machine was too slow to judge",
    ]


def test_the_bounds_themselves() -> None:
    at_bound = target_lines([(50, _phase(8.0, 1), _phase(10.0, 1))])
    assert at_bound == ["  target met: ratio ours/bare ≥ 0.8 at c=50: 0.80"]
    below = target_lines([(50, _phase(7.9, 1), _phase(10.0, 1))])
    assert below[0].startswith("  target NOT met")
    assert target_lines([(10, _phase(10, 1.0), _phase(10, 0.9))])[0].startswith(
        "  target NOT met: p50 < 1 s"
    )
    assert target_lines([(10, _phase(10, 0.99), _phase(10, 0.9))])[0].startswith("  target met")


def test_levels_not_run_are_not_judged() -> None:
    assert target_lines([(20, _phase(1, 1), _phase(1, 1))]) == []


def test_a_p50_miss_is_ours_alone_when_the_bare_workflow_met_it() -> None:
    line = target_lines([(10, _phase(10, 1.05), _phase(10, 0.95))])[0]
    assert line == "  target NOT met: p50 < 1 s at c=10: 1.05 s (the bare workflow's own: 0.95 s)"
