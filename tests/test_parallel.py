"""explore(workers=N) finds exactly what one process finds.

Schedule ``i`` of a ``parallel_safe`` strategy is a function of its seed
alone, so N forked processes running the indices between them must report
the serial run's failures, tokens, schedule counts and distinct schedules —
with and without ``stop_on_first``; a strategy that is not parallel_safe
runs on one process.
"""

from __future__ import annotations

import pytest

import harness
from harness._parallel import MIN_PER_WORKER, choose_workers
from harness.strategies import Exhaustive, Portfolio
from tests.bodies import lock_counter, lww_two_tasks


def _summary(result: harness.ExploreResult) -> tuple[object, ...]:
    return (
        [(f.schedule, f.token, type(f.error).__name__, str(f.error)) for f in result.failures],
        result.schedules_run,
        result.distinct_schedules,
        result.stop_reason,
        result.strategy,
    )


@pytest.mark.parametrize("strategy", ["portfolio", "pct", "random", "pos"])
def test_every_failure_of_a_full_budget_is_the_serial_one(strategy: str) -> None:
    options = dict(schedules=96, strategy=strategy, mode="parallel", seed=5, stop_on_first=False)
    serial = harness.explore(lww_two_tasks, workers=1, **options)  # type: ignore[arg-type]
    forked = harness.explore(lww_two_tasks, workers=2, **options)  # type: ignore[arg-type]
    assert len(serial.failures) > 1  # the comparison covers several failures
    assert _summary(forked) == _summary(serial)


def test_the_first_failure_and_the_count_before_it_are_the_serial_ones() -> None:
    options = dict(schedules=200, mode="parallel", seed=11)
    serial = harness.explore(lww_two_tasks, workers=1, **options)  # type: ignore[arg-type]
    forked = harness.explore(lww_two_tasks, workers=2, **options)  # type: ignore[arg-type]
    assert serial.failed and serial.schedules_run < 200
    assert _summary(forked) == _summary(serial)


def test_a_clean_body_runs_the_whole_budget_on_every_process() -> None:
    serial = harness.explore(lock_counter, schedules=80, workers=1)
    forked = harness.explore(lock_counter, schedules=80, workers=2)
    assert not serial.failed and serial.schedules_run == 80
    assert _summary(forked) == _summary(serial)


def test_how_many_processes_explore() -> None:
    portfolio = Portfolio()
    assert choose_workers(4, 4 * MIN_PER_WORKER, portfolio) == 4
    assert choose_workers(4, 2 * MIN_PER_WORKER, portfolio) == 2  # never under 32 each
    assert choose_workers(4, 10, portfolio) == 1
    assert choose_workers(4, 1000, Exhaustive(bound=2)) == 1  # not parallel_safe


def test_an_exhaustive_search_with_workers_is_the_serial_search() -> None:
    serial = harness.explore(lww_two_tasks, strategy=Exhaustive(bound=1), mode="parallel")
    forked = harness.explore(
        lww_two_tasks, strategy=Exhaustive(bound=1), mode="parallel", workers=2
    )
    assert _summary(forked) == _summary(serial)
