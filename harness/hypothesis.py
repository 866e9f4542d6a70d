"""Schedules drawn from Hypothesis data, so Hypothesis shrinks and stores them.

::

    from hypothesis import given, settings, strategies as st
    from harness.hypothesis import run_schedule

    @settings(deadline=None)
    @given(st.data())
    def test_last_writer_wins(data):
        run_schedule(data, lww_body, mode="parallel")

:class:`HypothesisStrategy` is a :class:`harness.Strategy` whose every
decision is a Hypothesis draw: the ``sim.random`` seed is
``integers(0, 2**32 - 1)`` and each choice point is ``integers(0, count - 1)``.
Index 0 is the default order (DESIGN §3), and Hypothesis shrinks integers
toward 0 and choice sequences toward shorter ones, so its shrinker drives a
failing schedule toward the default order: fewer deviations, earlier ones,
seed 0. A failing example is saved in Hypothesis's example database like any
other and replayed first next time.

Randomness: the strategy draws the seed of the schedule from ``data``, and
harness derives everything random inside a schedule from that seed —
``sim.random`` and the module-level ``random`` (seeded when the schedule
starts, restored after). So every source of randomness a body can see is a
function of Hypothesis's choice sequence; there is no long-lived
``random.Random`` to pass to ``hypothesis.register_random`` (that function is
for instances that outlive an example, which harness never creates).

Draws go through ``data.conjecture_data`` rather than ``data.draw`` so that a
falsifying example does not print one ``Draw n: …`` line per choice point; the
report carries the timeline and the replay token instead. Hypothesis ends an
example by raising out of a draw (``StopTest`` when the choice sequence is used
up); the strategy carries that exception through the engine as a
:class:`~harness.HarnessError`, so the schedule is abandoned cleanly (no
coroutine left un-awaited) and the body never sees it as its own error.

Reporting: Hypothesis minimises the choice sequence shortlex (fewer choice
points first), which can keep an extra deviation that ends a schedule sooner.
For the *final* example only (the one Hypothesis reports), harness's own
shrinker reduces the schedule to the fewest deviations before the report is
written; the searching and shrinking examples pay nothing for it.

Invariants: one call of :func:`run_schedule` runs exactly one schedule; the
same Hypothesis choice sequence gives the same schedule, timeline and token;
a failure raises :class:`harness.InterleavingError` (an ``AssertionError``)
``from`` the body's error, so Hypothesis tells distinct bugs apart by the
body's error type and line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from ._errors import HarnessError, InterleavingError
from ._excerpt import failure_report
from ._explore import Run
from ._run import Body, Program, RunRecord
from ._run_config import RunConfig
from ._session import Session
from .faults import Faults
from .shrink import shrink_schedule
from .strategies import ChoicePoint, Decision
from .trace import format_timeline

__all__ = ("HypothesisStrategy", "run_schedule")

SEED_MAX = 2**32 - 1


class _DrawStopped(HarnessError):
    """Carries an exception Hypothesis raised out of a draw through the engine."""

    def __init__(self, stop: BaseException) -> None:
        super().__init__(f"Hypothesis stopped the example: {type(stop).__name__}")
        self.stop = stop


class HypothesisStrategy:
    """A strategy whose seed and choices are Hypothesis draws (one schedule per object)."""

    name = "hypothesis"

    def __init__(self, data: Any) -> None:
        # `data` is what st.data() gives: draw on its ConjectureData (see the module docstring)
        self._draw_from = getattr(data, "conjecture_data", data)
        self._integers: dict[int, st.SearchStrategy[int]] = {}
        self._started = False

    def __repr__(self) -> str:
        return "HypothesisStrategy()"

    def _draw(self, high: int) -> int:
        strategy = self._integers.get(high)
        if strategy is None:
            strategy = self._integers[high] = st.integers(0, high)
        value: int = self._draw_from.draw(strategy)
        return value

    def begin(self, seed: int) -> int | None:
        if self._started:
            return None  # one schedule per Hypothesis example
        self._started = True
        return self._draw(SEED_MAX)

    def choose(self, point: ChoicePoint) -> int:
        try:
            return self._draw(len(point.alternatives) - 1)
        except BaseException as exc:
            # Hypothesis stops an example by raising out of a draw (StopTest when the
            # choice sequence is used up). The engine must not take that for the body's
            # error: a HarnessError makes it abandon the schedule cleanly and re-raise.
            raise _DrawStopped(exc) from exc

    def end(self, decisions: Sequence[Decision]) -> None:
        return None


def run_schedule(
    data: Any,
    body: Body,
    *,
    mode: str = "fifo",
    faults: Faults | None = None,
    recover: Body | None = None,
    max_steps: int = 100_000,
    patch_aiosqlite: bool = True,
) -> Run:
    """Run ONE schedule of ``body`` chosen by Hypothesis ``data`` (from ``st.data()``).

    Returns the :class:`harness.Run` when the schedule passes. When it fails,
    raises :class:`harness.InterleavingError` carrying ``.token`` (replay it
    with ``harness.replay(body, token)``), ``.timeline`` and ``.error``.
    """
    __tracebackhide__ = True  # pytest: the report is the message, not this function

    if faults is not None and not isinstance(faults, Faults):
        raise TypeError(f"faults must be a harness.Faults, not {faults!r}")
    config = RunConfig(
        mode=mode,
        faults=faults or Faults(),
        max_steps=max_steps,
        patch_aiosqlite=patch_aiosqlite,
    )
    program = Program(body, recover)
    with Session(config) as session:
        try:
            record = session.run(program, HypothesisStrategy(data), 0)
        except _DrawStopped as stopped:
            raise stopped.stop from None
        assert record is not None
        found = session.token(record)
        if record.error is None:
            return Run(
                error=None,
                timeline=format_timeline(record.events),
                trace_digest=record.digest,
                token=found,
                steps=record.steps,
                events=record.events,
                notes=record.notes,
            )
        best = _shrunk(session, program, record) if _is_final() else record
        token = session.token(best)
    assert best.error is not None
    headline = f"harness: a schedule drawn by Hypothesis failed (mode {mode}"
    if best is not record:
        headline += (
            f"; harness shrank it from {record.deviations} to {best.deviations} deviation(s)"
        )
    name = getattr(body, "__qualname__", "body")
    report = failure_report(
        headline=headline + ")",
        error=best.error,
        events=best.events,
        replay=f"harness.replay({name}, {token!r})",
        notes=best.notes,
    )
    error = InterleavingError(
        report, token=token, timeline=format_timeline(best.events), error=best.error
    )
    error.original_token = found  # type: ignore[attr-defined]
    raise error from best.error


def _is_final() -> bool:
    """Whether Hypothesis is running the example it will report (not a search or shrink step)."""
    try:
        from hypothesis.control import current_build_context

        return bool(current_build_context().is_final)
    except Exception:  # outside a Hypothesis test, or another Hypothesis version
        return False


def _shrunk(session: Session, program: Program, record: RunRecord) -> RunRecord:
    """Harness's own shrink of the reported example: fewest deviations, then confirmed.

    Hypothesis minimises the choice *sequence* (shortlex: fewer choice points
    first), which can keep an extra deviation that ends the schedule sooner;
    people read deviations, so the reported schedule is shrunk once more by
    :func:`harness.shrink.shrink_schedule` — only for the final example, so
    Hypothesis's own search and shrink pay nothing for it.
    """

    def attempt(choices: Sequence[int]) -> RunRecord:
        return session.replay(program, choices, record.sim_seed, strict=False)

    best = shrink_schedule(attempt, record)
    if best is record:
        return record
    return session.confirm(program, best)
