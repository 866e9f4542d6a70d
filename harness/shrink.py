"""Shrink a failing schedule to a simpler one that fails the same way.

A schedule is its list of choices (index 0 = the default order). Simpler
means, in this order: fewer injected faults, fewer deviations from the default
order, smaller choice indices, fewer steps. The shrinker edits the choice list
and re-runs it in lenient replay (out-of-range choices are clamped, choice
points after the list take the default), keeping an edit only if the run
fails *the same way* — same exception type raised from the same line — and
is strictly simpler.

Why not just drop deviations one by one: a choice is an *index* into the
alternatives offered at a choice point, and which alternatives are offered
depends on everything before. Dropping an early deviation (say, a noise
connection's statement ran early) shifts every later choice point, so the one
deviation that matters now names another alternative, or sits at another
position, and the edit is rejected. Random exploration typically leaves tens
of such incidental deviations around the one that matters. So besides the
local edits there are two passes that re-place the decisive deviation:

1. **defaults** — the empty schedule (no deviation at all). Its run is kept
   even when it passes: its choice points are exactly the positions a
   one-deviation schedule can use (before its single deviation, a schedule
   runs as the default one), so it spans the one-deviation space;
2. **truncate** — keep the schedule up to its *k*-th deviation and take
   defaults after it, for the smallest *k* that still fails: the last kept
   deviation is the decisive one;
2b. **drop by meaning** — each deviation is also known by *what* it took
   (:func:`~harness._alternatives.choice_key`: "execute the 3rd statement of
   app.db#2"); drop one and replay the others by meaning, each at the first
   choice point that offers it. Index shifts do not break this pass, so it
   removes incidental deviations the index-based passes cannot;
3. **drop** each deviation (set its choice to 0), from the last to the first;
4. **re-place** — when more than one deviation is left, try every
   one-deviation schedule (a position of the default run and an alternative
   there), nearest the decisive deviation's position first, lowest index first;
   this is the ``bound=1`` space of :class:`~harness.Exhaustive`, searched in
   the order most likely to hit, and bounded by the run budget;
5. **lower** each remaining choice toward 0;
6. **move** each deviation one choice point earlier (shortens the prefix a
   failure needs, which usually shortens the schedule).

Passes 2 to 6 repeat until none makes progress or the budget is spent.

Invariants: deterministic — the same failing record and body always shrink to
the same result (candidates are generated in a fixed order from the records
alone; no randomness, no clocks, no hash order); every accepted candidate
strictly decreases the order key, so shrinking terminates; the budget
(``max_runs``) bounds the number of runs; the result fails like the input
(``same_failure``) and is never more complex than it.
"""

from __future__ import annotations

import os
import re
import sysconfig
import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from ._alternatives import ChoiceKey, choice_key
from .strategies import ChoicePoint, Decision

if TYPE_CHECKING:
    from ._run import RunRecord


class KeyedReplay:
    """A strategy taking each listed choice, by meaning, where it is first offered.

    Every other choice point takes the default. Used by the shrinker; the run's
    record holds the concrete choices, so its token replays like any other.
    """

    name = "keyed-replay"

    def __init__(self, keys: Sequence[ChoiceKey], *, seed: int) -> None:
        self.keys = list(keys)
        self.seed = seed
        self._next = 0

    def begin(self, seed: int) -> int | None:
        self._next = 0
        return self.seed

    def choose(self, point: ChoicePoint) -> int:
        if self._next < len(self.keys):
            want = self.keys[self._next]
            for index, alt in enumerate(point.alternatives):
                if index and choice_key(alt) == want:
                    self._next += 1
                    return index
        return 0

    def end(self, decisions: Sequence[Decision]) -> None:
        return None


_HARNESS = os.path.dirname(os.path.abspath(__file__)) + os.sep
_BUNDLED = tuple(_HARNESS + name + os.sep for name in ("scenarios", "reference_store"))
_LIBRARIES = tuple(
    {
        os.path.abspath(p) + os.sep
        for p in (sysconfig.get_paths()[k] for k in ("stdlib", "purelib", "platlib"))
    }
)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def _library(path: str) -> bool:
    """harness's own engine, the standard library or an installed package."""
    path = os.path.abspath(path)
    if path.startswith(_HARNESS):
        return not path.startswith(_BUNDLED)
    return path.startswith(_LIBRARIES)


def _origin(error: BaseException) -> tuple[str, int] | None:
    """Where an error reached the user's code: the innermost frame outside any library.

    SQLite's errors are raised inside harness's worker (and ORMs re-raise them
    from their own internals); the frame of the body that awaited the
    statement is what says which failure it is. Falls back to the innermost frame.
    """
    if error.__traceback__ is None:
        return None
    frames = traceback.extract_tb(error.__traceback__)
    for frame in reversed(frames):
        if not _library(frame.filename):
            return frame.filename, frame.lineno or 0
    if not frames:
        return None
    return frames[-1].filename, frames[-1].lineno or 0


def message_shape(error: BaseException) -> str:
    """The message with its values blanked: ``last writer lost: key '…' holds '…'``."""
    return _NUMBER.sub("#", _QUOTED.sub("'…'", str(error)))


def same_failure(a: BaseException | None, b: BaseException | None) -> bool:
    """Whether two errors are the same failure: type, message shape, and where it surfaced."""
    if a is None or b is None:
        return a is b
    return type(a) is type(b) and message_shape(a) == message_shape(b) and _origin(a) == _origin(b)


def order_key(record: RunRecord) -> tuple[int, int, int, int]:
    """Smaller is simpler: faults, deviations, sum of choices, steps."""
    choices = record.choices
    return (len(record.faults_used), record.deviations, sum(choices), record.steps)


def _deviations(choices: Sequence[int]) -> list[int]:
    return [i for i, c in enumerate(choices) if c]


def _one_deviation(counts: Sequence[int], center: int) -> Iterator[tuple[int, ...]]:
    """Every one-deviation schedule over ``counts``, nearest ``center`` first."""
    positions = sorted(
        (p for p, n in enumerate(counts) if n > 1), key=lambda p: (abs(p - center), p)
    )
    for p in positions:
        for value in range(1, counts[p]):
            yield (0,) * p + (value,)


class _Shrinker:
    """One shrink: the best record so far, the budget, and what was tried."""

    def __init__(
        self,
        run: Callable[[Sequence[int]], RunRecord],
        failing: RunRecord,
        max_runs: int,
        run_keys: Callable[[Sequence[ChoiceKey]], RunRecord] | None = None,
    ) -> None:
        self.run = run
        self.run_keys = run_keys
        self.tried_keys: set[tuple[ChoiceKey, ...]] = set()
        self.target = failing.error
        self.best = failing
        self.max_runs = max_runs
        self.runs = 0
        self.tried: set[tuple[int, ...]] = set()
        self.default_counts: tuple[int, ...] = ()

    @property
    def spent(self) -> bool:
        return self.runs >= self.max_runs

    def attempt(self, choices: Sequence[int]) -> bool:
        """Run ``choices``; adopt the run if it fails the same way and is simpler."""
        key = tuple(choices)
        while key and key[-1] == 0:
            key = key[:-1]
        if key in self.tried or self.spent:
            return False
        self.tried.add(key)
        self.runs += 1
        record = self.run(key)
        if not key:
            self.default_counts = tuple(n for _, n in record.decisions)
        return self._adopt(record)

    def _adopt(self, record: RunRecord) -> bool:
        if (
            record.error is not None
            and same_failure(record.error, self.target)
            and order_key(record) < order_key(self.best)
        ):
            self.best = record
            return True
        return False

    def deviation_keys(self) -> list[ChoiceKey]:
        best = self.best
        return [k for (c, _), k in zip(best.decisions, best.choice_keys, strict=True) if c]

    def attempt_keys(self, keys: Sequence[ChoiceKey]) -> bool:
        key = tuple(keys)
        if self.run_keys is None or key in self.tried_keys or self.spent:
            return False
        self.tried_keys.add(key)
        self.runs += 1
        return self._adopt(self.run_keys(key))

    def drop_by_meaning(self) -> bool:
        keys = self.deviation_keys()
        if len(keys) < 2:
            return False
        return any(
            self.attempt_keys(keys[:i] + keys[i + 1 :]) for i in range(len(keys) - 1, -1, -1)
        )

    def truncate(self) -> bool:
        choices = self.best.choices
        return any(self.attempt(choices[: i + 1]) for i in _deviations(choices)[:-1])

    def drop(self) -> bool:
        progress = False
        for i in range(len(self.best.choices) - 1, -1, -1):
            choices = list(self.best.choices)
            if i < len(choices) and choices[i]:
                choices[i] = 0
                progress |= self.attempt(choices)
        return progress

    def replace(self) -> bool:
        positions = _deviations(self.best.choices)
        if len(positions) < 2 or not self.default_counts:
            return False
        for candidate in _one_deviation(self.default_counts, positions[-1]):
            if self.spent:
                return False
            if self.attempt(candidate):
                return True
        return False

    def lower(self) -> bool:
        progress = False
        for i in range(len(self.best.choices)):
            choices = list(self.best.choices)
            if i < len(choices) and choices[i] > 1:
                for lower in range(1, choices[i]):
                    choices[i] = lower
                    if self.attempt(choices):
                        progress = True
                        break
        return progress

    def move_earlier(self) -> bool:
        progress = False
        for i in range(1, len(self.best.choices)):
            choices = list(self.best.choices)
            if i < len(choices) and choices[i] and not choices[i - 1]:
                choices[i - 1], choices[i] = choices[i], 0
                progress |= self.attempt(choices)
        return progress


def shrink_schedule(
    run: Callable[[Sequence[int]], RunRecord],
    failing: RunRecord,
    *,
    max_runs: int = 600,
    run_keys: Callable[[Sequence[ChoiceKey]], RunRecord] | None = None,
) -> RunRecord:
    """Return the simplest record found that fails like ``failing`` (maybe ``failing``).

    ``run(choices)`` must run one schedule in lenient replay and return its record;
    ``run_keys(keys)``, if given, runs one with :class:`KeyedReplay`.
    """
    shrinker = _Shrinker(run, failing, max_runs, run_keys)
    shrinker.attempt(())
    passes = (
        shrinker.truncate,
        shrinker.drop_by_meaning,
        shrinker.drop,
        shrinker.replace,
        shrinker.lower,
        shrinker.move_earlier,
    )
    progress = True
    while progress and not shrinker.spent:
        progress = False
        for shrink_pass in passes:
            # each pass runs even after another made progress: `|` does not short-circuit
            progress = shrink_pass() | progress
    return shrinker.best
