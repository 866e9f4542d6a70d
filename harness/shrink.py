"""Shrink a failing schedule to a simpler one that fails the same way.

A schedule is its list of choices (index 0 = the default order). Simpler
means, in this order: fewer injected faults, fewer deviations from the default
order, smaller choice indices, fewer steps. The shrinker edits the choice list
and re-runs it in lenient replay (out-of-range choices are clamped, choice
points after the list take the default), keeping an edit only if the run
fails *the same way* — same exception type raised from the same line — and
is strictly simpler. Passes, repeated until none makes progress:

1. all defaults (the schedule needs no deviation at all);
2. drop each deviation (set its choice to 0), from the last to the first;
3. lower each remaining choice toward 0;
4. move each deviation one choice point earlier (shortens the prefix a
   failure needs, which usually shortens the schedule).

Invariants: deterministic — the same failing record and body always shrink to
the same result; every accepted candidate strictly decreases the order key,
so shrinking terminates; the budget (``max_runs``) bounds the cost.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._run import RunRecord


def _origin(error: BaseException | None) -> tuple[str, int] | None:
    """Where an error was raised: the innermost frame's file and line."""
    if error is None or error.__traceback__ is None:
        return None
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return None
    last = frames[-1]
    return last.filename, last.lineno or 0


def same_failure(a: BaseException | None, b: BaseException | None) -> bool:
    """Whether two errors are the same failure (type and raising line)."""
    if a is None or b is None:
        return a is b
    return type(a) is type(b) and _origin(a) == _origin(b)


def order_key(record: RunRecord) -> tuple[int, int, int, int]:
    """Smaller is simpler: faults, deviations, sum of choices, steps."""
    choices = record.choices
    return (len(record.faults_used), record.deviations, sum(choices), record.steps)


def shrink_schedule(
    run: Callable[[Sequence[int]], RunRecord], failing: RunRecord, *, max_runs: int = 400
) -> RunRecord:
    """Return the simplest record found that fails like ``failing`` (maybe ``failing``)."""
    target = failing.error
    best = failing
    runs = 0
    tried: set[tuple[int, ...]] = set()

    def attempt(choices: Sequence[int]) -> bool:
        nonlocal best, runs
        key = tuple(choices)
        while key and key[-1] == 0:
            key = key[:-1]
        if key in tried or runs >= max_runs:
            return False
        tried.add(key)
        runs += 1
        record = run(key)
        if (
            record.error is not None
            and same_failure(record.error, target)
            and order_key(record) < order_key(best)
        ):
            best = record
            return True
        return False

    attempt(())
    progress = True
    while progress and runs < max_runs:
        progress = False
        # drop deviations, last first
        for i in range(len(best.choices) - 1, -1, -1):
            choices = list(best.choices)
            if i < len(choices) and choices[i]:
                choices[i] = 0
                progress |= attempt(choices)
        # lower choices
        for i in range(len(best.choices)):
            choices = list(best.choices)
            if i < len(choices) and choices[i] > 1:
                for lower in range(1, choices[i]):
                    choices[i] = lower
                    if attempt(choices):
                        progress = True
                        break
        # move deviations earlier
        for i in range(1, len(best.choices)):
            choices = list(best.choices)
            if i < len(choices) and choices[i] and not choices[i - 1]:
                choices[i - 1], choices[i] = choices[i], 0
                progress |= attempt(choices)
    return best
