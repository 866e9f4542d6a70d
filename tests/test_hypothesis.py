"""Schedules drawn from Hypothesis data: found, shrunk, stored and replayed by Hypothesis."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase

import harness
from harness.hypothesis import HypothesisStrategy, run_schedule
from harness.trace import decode_token
from tests.bodies import lock_counter, lww_two_tasks


def _hypothesis_test(
    body: Callable[..., Any],
    calls: list[bool],
    config: settings,
    mode: str = "parallel",
) -> Callable[[], None]:
    """A fresh @given test around ``body``; ``calls`` records each example (True = failed)."""

    @config
    @given(st.data())
    def test(data: st.DataObject) -> None:
        try:
            run_schedule(data, body, mode=mode)
        except harness.InterleavingError:
            calls.append(True)
            raise
        calls.append(False)

    return test


def _settings(**kwargs: Any) -> settings:
    # explicit about everything the `ci` profile sets, so CI=1 does not change the test
    base: dict[str, Any] = {
        "deadline": None,
        # derandomize=True (and @seed) would switch the database off: generation is random
        # here, and every assertion below holds whatever Hypothesis generates
        "derandomize": False,
        "max_examples": 300,
        "suppress_health_check": [HealthCheck.too_slow],
        "database": None,
    }
    return settings(**{**base, **kwargs})


def test_hypothesis_finds_shrinks_and_stores_the_reorder(tmp_path) -> None:
    db = DirectoryBasedExampleDatabase(str(tmp_path / "examples"))
    first: list[bool] = []
    with pytest.raises(harness.InterleavingError) as info:
        _hypothesis_test(lww_two_tasks, first, _settings(database=db))()
    error = info.value
    assert isinstance(error, AssertionError) and isinstance(error.error, AssertionError)
    found = decode_token(error.original_token)  # type: ignore[attr-defined]
    reported = decode_token(error.token)
    # Hypothesis shrinks toward index 0 (the default order) and seed 0 ...
    assert found.seed == 0 and 1 <= found.deviations <= 2
    # ... and the reported schedule is harness-shrunk to the one reorder that matters
    assert reported.deviations == 1 and reported.mode == "parallel"
    assert isinstance(harness.replay(lww_two_tasks, error.token).error, AssertionError)
    assert "replay this schedule:" in str(error) and error.token in str(error)
    assert first.index(True) > 0, "the first example is the default order, which passes"

    # the second run replays the stored example first: it fails on the very first body run
    second: list[bool] = []
    with pytest.raises(harness.InterleavingError) as again:
        _hypothesis_test(lww_two_tasks, second, _settings(database=db))()
    assert second[0] is True
    assert again.value.token == error.token


def test_the_stored_example_is_replayed_without_generating(tmp_path) -> None:
    db = DirectoryBasedExampleDatabase(str(tmp_path / "examples"))
    with pytest.raises(harness.InterleavingError):
        _hypothesis_test(lww_two_tasks, [], _settings(database=db))()
    only_reuse: list[bool] = []
    with pytest.raises(harness.InterleavingError):
        _hypothesis_test(lww_two_tasks, only_reuse, _settings(database=db, phases=[Phase.reuse]))()
    assert only_reuse and only_reuse[0] is True


def test_correct_code_passes_every_drawn_schedule() -> None:
    calls: list[bool] = []
    _hypothesis_test(lock_counter, calls, _settings(max_examples=60), mode="fifo")()
    assert calls and not any(calls)


def test_it_works_under_the_ci_profile() -> None:
    ci = settings.get_profile("ci")
    assert ci.derandomize and ci.database is None and ci.deadline is None
    tokens = []
    for _ in range(2):
        with pytest.raises(harness.InterleavingError) as info:
            _hypothesis_test(lww_two_tasks, [], settings(ci, max_examples=300))()
        tokens.append(info.value.token)
    assert tokens[0] == tokens[1]  # derandomized: the same failure every time
    assert decode_token(tokens[0]).deviations == 1


class _Stop(BaseException):
    """Stands for Hypothesis's StopTest: raised out of a draw to end an example."""


class _ScriptedData:
    """A stand-in for st.data(): draws 0 (the default order), then stops at draw ``stop_at``."""

    def __init__(self, stop_at: int) -> None:
        self.conjecture_data = self
        self.draws = 0
        self.stop_at = stop_at

    def draw(self, strategy: object) -> int:
        self.draws += 1
        if self.draws >= self.stop_at:
            raise _Stop
        return 0


def test_a_draw_that_stops_the_example_abandons_the_schedule_cleanly() -> None:
    # The body must not see Hypothesis's stop as its own error, and no coroutine may be
    # left un-awaited (filterwarnings=error turns that warning into a failure).
    data = _ScriptedData(stop_at=4)
    with pytest.raises(_Stop):
        run_schedule(data, lww_two_tasks, mode="parallel")
    assert data.draws == 4
    run = run_schedule(_ScriptedData(stop_at=10_000), lww_two_tasks, mode="parallel")
    assert run.error is None and run.token.startswith("h2.")


def test_one_strategy_object_runs_one_schedule() -> None:
    strategy = HypothesisStrategy(_ScriptedData(stop_at=10_000))
    assert strategy.begin(123) == 0  # the seed is drawn, not taken from the caller
    assert strategy.begin(123) is None
    assert isinstance(strategy, harness.Strategy)


async def _random_body(sim: harness.Sim) -> None:
    import random

    await asyncio.sleep(sim.random.random())
    assert random.random() < 2


def test_randomness_comes_from_the_drawn_seed() -> None:
    first = run_schedule(_ScriptedData(stop_at=10_000), _random_body)
    second = run_schedule(_ScriptedData(stop_at=10_000), _random_body)
    assert first.trace_digest == second.trace_digest
    assert decode_token(first.token).seed == 0
