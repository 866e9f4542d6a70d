"""What each strategy finds, and within which budget (Hypothesis's ``quality/`` tests).

These pin the strategies' power on known bugs, with fixed seeds — so they are
deterministic — and say what a change to a strategy costs. Budgets are the
ones the README documents for the default strategy (the portfolio).
"""

from __future__ import annotations

import pytest

import harness
from harness import scenarios
from tests.quality.bodies import long_delay

BUGGY = [(name, store) for name in scenarios.REGISTRY for store in ("original", "naive-fix")]
PORTFOLIO_BUDGET = 500
"""The default strategy finds every bundled bug within this many schedules (README)."""


def _found_at(result: harness.ExploreResult) -> int | None:
    return result.failures[0].schedule if result.failed else None


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("name", "store"), BUGGY, ids="/".join)
def test_the_portfolio_finds_every_bundled_bug(name: str, store: str, seed: int) -> None:
    result = scenarios.get(name).explore(
        store, strategy="portfolio", schedules=PORTFOLIO_BUDGET, seed=seed, shrink=False
    )
    assert result.failed, f"{name}/{store} not found in {result.schedules_run} schedules"


def test_a_long_delay_is_found_by_pct_and_the_portfolio_not_by_a_random_walk() -> None:
    """One statement delayed across a dozen steps (tests/quality/bodies.py)."""
    found = {
        strategy: _found_at(
            harness.explore(long_delay, schedules=2000, strategy=strategy, shrink=False)
        )
        for strategy in ("pct", "portfolio", "random")
    }
    assert found["pct"] is not None and found["pct"] < 100
    assert found["portfolio"] is not None and found["portfolio"] < 200
    assert found["random"] is None  # a random walk chooses the delayed statement too soon


def test_exhaustive_search_proves_only_its_bound() -> None:
    """Bound 2 covers every schedule with at most two deviations — and this bug needs more."""
    result = harness.explore(long_delay, strategy=harness.Exhaustive(2), schedules=10_000)
    assert result.exhausted and not result.failed
    assert result.proof == "every schedule with at most 2 deviations from the default order passes"
    failing = harness.explore(long_delay, strategy="pct", schedules=100).failures[0]
    assert failing.deviations > 2  # what the proof did not cover


@pytest.mark.parametrize("strategy", ["random", "pct", "pos", "portfolio"])
def test_every_parallel_safe_strategy_finds_the_reorder(strategy: str) -> None:
    from tests.bodies import lww_two_tasks

    result = harness.explore(lww_two_tasks, mode="parallel", strategy=strategy, schedules=200)
    assert result.failed and result.failures[0].deviations == 1
