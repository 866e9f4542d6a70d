"""Each strategy explores distinct schedules, reproducibly."""

from __future__ import annotations

import pytest

import harness
from harness.strategies import Alternative, ChoicePoint, Kind, Replay, by_name
from tests.bodies import lock_counter, lww_two_tasks


@pytest.mark.parametrize("strategy", ["random", "pct", "exhaustive"])
def test_each_strategy_explores_distinct_schedules(strategy: str) -> None:
    result = harness.explore(lock_counter, schedules=40, strategy=strategy, seed=1)
    assert result.schedules_run == 40
    assert result.distinct_schedules >= 20


def _tokens(strategy: str, seed: int) -> list[str]:
    result = harness.explore(
        lww_two_tasks,
        schedules=60,
        strategy=strategy,
        seed=seed,
        mode="parallel",
        stop_on_first=False,
        shrink=False,
    )
    return [f.token for f in result.failures]


@pytest.mark.parametrize("strategy", ["random", "pct"])
def test_the_same_seed_gives_the_same_tokens(strategy: str) -> None:
    first = _tokens(strategy, 7)
    assert first, "parallel mode reorders the two writes in some schedule"
    assert _tokens(strategy, 7) == first
    assert _tokens(strategy, 8) != first


def test_exhaustive_finds_the_reorder_with_one_deviation() -> None:
    result = harness.explore(
        lww_two_tasks, schedules=1000, strategy=harness.Exhaustive(1), mode="parallel"
    )
    assert result.failed
    assert result.failures[0].deviations == 1


def test_exhaustive_covers_a_bounded_space_exactly_once() -> None:
    sizes = []
    for bound in (0, 1, 2):
        result = harness.explore(
            lww_two_tasks,
            schedules=100_000,
            strategy=harness.Exhaustive(bound),
            stop_on_first=False,
        )
        assert result.exhausted and not result.failed
        assert result.distinct_schedules == result.schedules_run
        sizes.append(result.schedules_run)
    assert sizes[0] == 1 and sizes[0] < sizes[1] < sizes[2]


def test_exhaustive_stops_when_the_budget_is_smaller_than_the_space() -> None:
    result = harness.explore(lock_counter, schedules=5, strategy=harness.Exhaustive(2))
    assert result.schedules_run == 5 and not result.exhausted
    assert result.stop_reason is harness.StopReason.BUDGET


def _point(n: int, index: int = 0) -> ChoicePoint:
    alts = [Alternative(Kind.RUN, "loop")] + [Alternative(Kind.EXEC, f"c{i}") for i in range(n - 1)]
    return ChoicePoint(index, alts, idle=False)


def test_pct_follows_priorities_between_change_points() -> None:
    pct = harness.PCT(depth=1)
    pct.begin(5)
    picks = {pct.choose(_point(4, i)) for i in range(20)}
    assert len(picks) == 1  # depth 1: no change point, the top-priority actor always wins


def test_random_rarely_takes_faults() -> None:
    rnd = harness.Random(fault_rate=0.0)
    rnd.begin(1)
    alts = [Alternative(Kind.RUN, "loop"), Alternative(Kind.FAULT, "c", "busy")]
    assert all(rnd.choose(ChoicePoint(i, alts, False)) == 0 for i in range(100))


def test_replay_strategy_detects_out_of_range_choices() -> None:
    replay = Replay([5], seed=0)
    replay.begin(0)
    with pytest.raises(harness.NondeterminismError, match="choice point 1"):
        replay.choose(_point(3))


def test_strategy_names_and_bad_values() -> None:
    assert isinstance(by_name("random"), harness.Random)
    assert isinstance(by_name("pct"), harness.PCT)
    assert isinstance(by_name("exhaustive"), harness.Exhaustive)
    with pytest.raises(ValueError, match="unknown strategy 'dfs'"):
        harness.explore(lock_counter, strategy="dfs")
    with pytest.raises(ValueError, match="mode"):
        harness.explore(lock_counter, mode="pooled")
    with pytest.raises(ValueError, match="schedules"):
        harness.explore(lock_counter, schedules=0)


def test_every_named_strategy_is_known_to_the_cli_and_the_plugin() -> None:
    from harness._args import DEFAULT_STRATEGY, STRATEGY_NAMES
    from harness.strategies import NAMES

    assert set(STRATEGY_NAMES) == set(NAMES) and DEFAULT_STRATEGY in NAMES
    for name in NAMES:
        assert by_name(name).name == name
