"""The bundled scenarios' real-mode checks are structural: orders of events, never durations.

On real aiosqlite a busy machine stretches every duration, so a check that
compares wall-clock times flakes (writer-contention's reference store once
failed 4-5 % of real runs that way). These tests pin what the structural
checks decide, for seeds chosen by what the workload draws — not by timing.
"""

from __future__ import annotations

import random

import pytest

from harness import checks, scenarios

DURATIONS = (0.5, 1.0, 1.5)  # writer-contention's tool durations (drawn in tool order)


def _tool_durations(seed: int) -> tuple[float, ...]:
    draw = random.Random(seed)
    return tuple(draw.choice(DURATIONS) for _ in range(3))


def _seed(equal: bool) -> int:
    return next(s for s in range(1000) if (len(set(_tool_durations(s))) == 1) == equal)


def test_the_reference_store_passes_real_runs_whatever_they_draw() -> None:
    scenario = scenarios.get("writer-contention")
    for seed in [_seed(equal=True), _seed(equal=False), *range(10)]:
        scenario.run_real("reference", seed=seed)


def test_a_write_that_waits_for_the_save_fails_on_every_real_run() -> None:
    # equal durations: no result event can be late, so the metadata check decides
    with pytest.raises(checks.Violation, match="waited for the save's file I/O"):
        scenarios.get("writer-contention").run_real("naive-fix", seed=_seed(equal=True))


def test_an_event_held_back_for_the_slowest_tool_fails_on_every_real_run() -> None:
    with pytest.raises(checks.Violation, match="a result event waited for other tools"):
        scenarios.get("writer-contention").run_real("naive-fix", seed=_seed(equal=False))
