"""``explore``, ``replay`` and ``check``: the public entry points (DESIGN §3 and §4).

Exploration runs schedules chosen by a strategy until the budget is spent,
the strategy's bounded space is covered, or (by default) the first failure.
Every failure is *confirmed* before it is reported: its schedule is replayed
and must give the same trace digest and the same error type, otherwise
:class:`NondeterminismError` names the first differing step. It is then
shrunk (``shrink=True``) and the shrunk schedule is confirmed again, so a
reported token always reproduces.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from time import perf_counter as _wall_clock
from typing import Any

from ._alternatives import ChoiceKey
from ._errors import InterleavingError, NondeterminismError
from ._parallel import OK, choose_workers, fingerprint, run_schedules
from ._run import Body, Program, RunRecord
from ._run_config import RunConfig
from ._session import Session, divergence
from .faults import Faults
from .shrink import same_failure, shrink_schedule
from .strategies import Exhaustive, Strategy, by_name
from .tokens import Schedule, harness_version, python_version
from .trace import Event, decode_token, format_timeline


class StopReason(enum.Enum):
    """Why an exploration stopped (the values are the human messages)."""

    BUDGET = "ran the whole schedule budget"
    FAILURE = "stopped at the first failure"
    EXHAUSTED = "covered the strategy's whole bounded schedule space"


@dataclass
class Failure:
    """A confirmed (and, by default, shrunk) failing schedule."""

    token: str
    error: BaseException
    timeline: str
    trace_digest: str
    schedule: int  # 0-based index of the exploration schedule that first failed
    steps: int  # timeline steps (events) of the shrunk schedule
    deviations: int
    faults: tuple[str, ...]
    original_token: str  # the token before shrinking
    events: list[Event] = field(repr=False, default_factory=list)
    notes: dict[str, Any] = field(repr=False, default_factory=dict)

    def __str__(self) -> str:
        return f"{type(self.error).__name__}: {self.error}"


@dataclass
class ExploreResult:
    """What :func:`explore` found."""

    failures: list[Failure]
    schedules_run: int
    exhausted: bool
    stop_reason: StopReason
    distinct_schedules: int
    elapsed: float  # wall seconds in all, confirmation and shrinking included
    strategy: str
    schedules_budget: int = 0
    shrink_seconds: float = 0.0  # wall seconds spent confirming and shrinking failures

    @property
    def failed(self) -> bool:
        return bool(self.failures)

    proved_bound: int | None = None  # exhaustive search: the bound it covered completely
    proved_complete: bool = False  # exhaustive search without a bound covered every schedule
    merged_orders: int = 0  # bounded exhaustive search: points below which the other order was cut

    @property
    def proof(self) -> str | None:
        """What a complete exhaustive search proved ("every schedule with at most 2 …"), or None."""
        if self.failed or not self.exhausted:
            return None
        if self.proved_complete:
            return (
                "every schedule passes (steps that provably commute — statements on different "
                "database files, reads no writer can block, a statement and another "
                "connection's delivery — were explored in one order)"
            )
        if self.proved_bound is None:
            return None
        merged = (
            " (where two adjacent steps provably commute and one order already covered "
            f"the state after them, the other was not searched again: {self.merged_orders} "
            f"time{'' if self.merged_orders == 1 else 's'})"
            if self.merged_orders
            else ""
        )
        return (
            f"every schedule with at most {self.proved_bound} deviation"
            f"{'' if self.proved_bound == 1 else 's'} from the default order passes{merged}"
        )

    @property
    def explore_seconds(self) -> float:
        """Wall seconds spent running exploration schedules (no confirmation, no shrinking)."""
        return max(0.0, self.elapsed - self.shrink_seconds)

    @property
    def schedules_per_second(self) -> float:
        """Exploration throughput: schedules run per second, shrinking excluded."""
        spent = self.explore_seconds
        return self.schedules_run / spent if spent > 0 else 0.0


@dataclass
class Run:
    """The outcome of replaying one token."""

    error: BaseException | None
    timeline: str
    trace_digest: str
    token: str
    steps: int  # timeline steps (events)
    events: list[Event] = field(repr=False, default_factory=list)
    notes: dict[str, Any] = field(repr=False, default_factory=dict)
    note: str = ""  # how the token was replayed when not exactly as recorded (h1; trace differs)

    @property
    def failed(self) -> bool:
        return self.error is not None


def _seed_for(seed: int, index: int) -> int:
    """A schedule's seed: a fixed mix of the exploration seed and the index (no hash())."""
    x = (seed * 0x9E3779B1 + index * 0x85EBCA77 + 0x165667B1) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x2C1B3C6D) & 0xFFFFFFFF
    x ^= x >> 12
    return x & 0x7FFFFFFF


def takes_a_sim(function: object, what: str) -> None:
    """Raise a one-line TypeError unless ``function`` can be called as ``function(sim)``."""
    if not callable(function):
        raise TypeError(f"{what} must be an async function taking a harness.Sim, not {function!r}")
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # a builtin or an object without a signature: try it
        return
    try:
        signature.bind(None)
    except TypeError:
        name = getattr(function, "__qualname__", repr(function))
        raise TypeError(
            f"{what} must be an async function taking one argument (the harness.Sim); "
            f"{name}{signature} does not"
        ) from None


def _program(
    body: Body, recover: Body | None, setup: Body | None, teardown: Body | None
) -> Program:
    takes_a_sim(body, "body")
    for name, value in (("recover", recover), ("setup", setup), ("teardown", teardown)):
        if value is not None:
            takes_a_sim(value, f"{name}=")
    return Program(body, recover, setup, teardown)


def _config(
    mode: str, faults: Faults | None, max_steps: int, chaos: bool, patch_aiosqlite: bool
) -> RunConfig:
    if faults is not None and not isinstance(faults, Faults):
        raise TypeError(f"faults must be a harness.Faults, not {faults!r}")
    return RunConfig(
        mode=mode,
        faults=faults or Faults(),
        max_steps=max_steps,
        chaos=chaos,
        patch_aiosqlite=patch_aiosqlite,
    )


def explore(
    body: Body,
    *,
    schedules: int = 200,
    strategy: str | Strategy = "portfolio",
    seed: int = 0,
    mode: str = "fifo",
    faults: Faults | None = None,
    recover: Body | None = None,
    setup: Body | None = None,
    teardown: Body | None = None,
    stop_on_first: bool = True,
    shrink: bool = True,
    patch_aiosqlite: bool = True,
    chaos: bool = False,
    max_steps: int = 100_000,
    label: str = "",
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> ExploreResult:
    """Run up to ``schedules`` schedules of ``body`` and report confirmed failures.

    ``workers``: processes to explore on (``None``: the CPUs available, see
    :func:`harness._parallel.choose_workers`); the failures, tokens and counts
    are those of a run on one process.
    """
    if not isinstance(schedules, int) or isinstance(schedules, bool) or schedules < 1:
        raise ValueError(f"schedules must be a positive int, not {schedules!r}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, not {seed!r}")
    strat = by_name(strategy)
    config = _config(mode, faults, max_steps, chaos, patch_aiosqlite)
    program = _program(body, recover, setup, teardown)
    processes = choose_workers(workers, schedules, strat)
    failures: list[Failure] = []
    seen: set[Any] = set()
    ran = 0
    exhausted = False
    started = _wall_clock()
    shrink_seconds = 0.0

    def seeds(index: int) -> int:
        return _seed_for(seed, index)

    with Session(config, label) as session:

        def tally(index: int, record: RunRecord) -> bool:
            """Count a schedule that ran; report it if it failed. True: stop exploring."""
            nonlocal ran, shrink_seconds
            ran += 1
            seen.add(fingerprint(record))  # as the forked processes count them
            if progress is not None:
                progress(ran, len(failures) + (record.error is not None))
            if record.error is None:
                return False
            reported = _wall_clock()
            failures.append(_report(session, program, record, index, shrink))
            shrink_seconds += _wall_clock() - reported
            return stop_on_first

        first = 0
        calibrate = getattr(strat, "calibrate", None)
        if calibrate is not None:  # schedule 0 is the default order; PCT learns its length
            record = session.replay(program, (), seeds(0), strict=False)
            calibrate(record.decisions)
            first = 1
            if tally(0, record):
                first = schedules
        if processes > 1 and first < schedules:
            outcomes = run_schedules(
                config, label, program, strat, seeds, range(first, schedules), processes,
                stop_on_first, progress,
            )  # fmt: skip
            ran += len(outcomes)
            seen.update(o.fingerprint for o in outcomes)
            for outcome in outcomes:
                if outcome.kind == OK:
                    continue
                rerun = session.run(program, strat, seeds(outcome.index))  # re-raises, if it did
                assert rerun is not None and rerun.error is not None
                record = rerun
                reported = _wall_clock()
                failures.append(_report(session, program, record, outcome.index, shrink))
                shrink_seconds += _wall_clock() - reported
                if stop_on_first:
                    break
        else:
            for index in range(first, schedules):
                ran_one = session.run(program, strat, seeds(index))
                if ran_one is None:
                    exhausted = True
                    break
                if tally(index, ran_one):
                    break
    exhausted = exhausted or bool(getattr(strat, "exhausted", False))
    if failures and stop_on_first:
        reason = StopReason.FAILURE
    elif exhausted:
        reason = StopReason.EXHAUSTED
    else:
        reason = StopReason.BUDGET
    return ExploreResult(
        failures=failures,
        schedules_run=ran,
        exhausted=exhausted,
        stop_reason=reason,
        distinct_schedules=len(seen),
        elapsed=_wall_clock() - started,
        strategy=getattr(strat, "name", type(strat).__name__),
        schedules_budget=schedules,
        shrink_seconds=shrink_seconds,
        proved_bound=getattr(strat, "bound", None) if exhausted else None,
        proved_complete=exhausted and isinstance(strat, Exhaustive) and strat.bound is None,
        merged_orders=strat.pruned_points if exhausted and isinstance(strat, Exhaustive) else 0,
    )


def _report(
    session: Session, program: Program, record: RunRecord, index: int, shrink: bool
) -> Failure:
    session.confirm(program, record)
    original = session.token(record)
    best = record
    if shrink:

        def attempt(choices: Sequence[int]) -> RunRecord:
            return session.replay(program, choices, record.sim_seed, strict=False)

        def attempt_keys(keys: Sequence[ChoiceKey]) -> RunRecord:
            return session.replay_keys(program, keys, record.sim_seed)

        best = shrink_schedule(attempt, record, run_keys=attempt_keys)
        if best is not record:
            best = session.confirm(program, best)
            if not same_failure(best.error, record.error):  # pragma: no cover - guarded above
                best = record
    assert best.error is not None
    return Failure(
        token=session.token(best),
        error=best.error,
        timeline=best.timeline,
        trace_digest=best.digest,
        schedule=index,
        steps=len(best.events),
        deviations=best.deviations,
        faults=tuple(best.faults_used),
        original_token=original,
        events=best.events,
        notes=best.notes,
    )


def _config_of(schedule: Schedule, *, max_steps: int, patch_aiosqlite: bool) -> RunConfig:
    """How a token's schedule must run: its mode, faults and chaos come from the token."""
    return RunConfig(
        mode=schedule.mode,
        faults=schedule.faults,
        max_steps=max_steps,
        chaos=schedule.chaos,
        patch_aiosqlite=patch_aiosqlite,
    )


def replay(
    body: Body,
    token: str,
    *,
    recover: Body | None = None,
    setup: Body | None = None,
    teardown: Body | None = None,
    patch_aiosqlite: bool = True,
    max_steps: int = 100_000,
) -> Run:
    """Re-run the schedule a token describes (mode and faults come from the token)."""
    schedule = decode_token(token)
    config = _config_of(schedule, max_steps=max_steps, patch_aiosqlite=patch_aiosqlite)
    program = _program(body, recover, setup, teardown)
    with Session(config, schedule.label) as session:
        if schedule.format == 1:
            record, note = _replay_h1(session, program, schedule)
        else:
            record, note = _replay_h2(session, program, schedule)
    return Run(
        error=record.error,
        timeline=format_timeline(record.events),
        trace_digest=record.digest,
        token=token.strip(),
        steps=len(record.events),
        events=record.events,
        notes=record.notes,
        note=note,
    )


def _cause(schedule: Schedule) -> str:
    """Why a token may run differently here than where it was made (never "a leak")."""
    differences = schedule.differences()
    if differences:
        return (
            f"the token comes from {schedule.made_by} and {'; '.join(differences)}: "
            "asyncio and SQLite may run a body differently across versions; run explore here "
            "for a token of this environment"
        )
    if schedule.harness != harness_version():
        from . import __version__

        return (
            f"the token comes from {schedule.made_by} and this is harness {__version__}; if "
            "the body and its data did not change, please report this as a harness bug"
        )
    return (
        "the body, the test or its data changed since the token was made, or the body "
        "depends on its process (sets of strings follow PYTHONHASHSEED); run explore "
        "again for a token of the code as it is now"
    )


def _replay_h2(session: Session, program: Program, schedule: Schedule) -> tuple[RunRecord, str]:
    """An h2 token: its deviations, exactly where recorded — or, failing that, by task step.

    Exact replay counts choice points, which asyncio's internal callbacks and
    harness's own choice-offering decide; on another Python (or after a harness
    change that offers choices differently) the deviations are taken by task
    step instead. The replay should reproduce the recorded digest. When every
    deviation was taken where it was recorded, the run is the same in this
    process (it replays to itself) and it fails, but its trace differs from the
    recording, the failure is returned with a note (the second value) saying
    so: what differs is how the body ran in this process — typically SQL or
    values built by iterating a set of strings, whose order follows
    PYTHONHASHSEED — not the schedule. A passing run is never accepted so.
    """
    attempts = [True, False] if schedule.python in ((0, 0), python_version()) else [False]
    failure = ""
    differing: RunRecord | None = None
    for exact in attempts:
        try:
            record = session.replay_steps(program, schedule.steps, schedule.seed, exact=exact)
        except NondeterminismError as exc:
            failure = failure or str(exc)
            continue
        if not schedule.digest or record.digest[:8] == schedule.digest:
            return record, ""
        again = session.replay_steps(program, schedule.steps, schedule.seed, exact=exact)
        if again.digest != record.digest:
            raise divergence(record, again)  # not even equal to itself: a leak, here
        if differing is None and record.error is not None:
            differing = record
        failure = failure or (
            f"this token replays to a different trace than where it was recorded (digest "
            f"{record.digest[:8]}, recorded {schedule.digest})"
        )
    if differing is not None:
        return differing, (
            f"every recorded decision was taken and the schedule fails, but its trace differs "
            f"from where the token was made (digest {differing.digest[:8]}, recorded "
            f"{schedule.digest}): the body ran differently in this process — e.g. SQL or "
            "values built from a set of strings, whose order follows PYTHONHASHSEED (set "
            "PYTHONHASHSEED to one value where you explore and replay for identical traces); "
            f"otherwise {_cause(schedule)}"
        )
    raise NondeterminismError(f"{failure}; {_cause(schedule)}")


def _replay_h1(session: Session, program: Program, schedule: Schedule) -> tuple[RunRecord, str]:
    """An h1 token (harness 0.1): choices by index; the wording digest is not compared."""
    note = ""
    try:
        record = session.replay(program, schedule.choices, schedule.seed)
    except NondeterminismError as exc:
        # h1 choice points depend on the Python that made it (harness 0.1 ran on 3.11)
        record = session.replay(program, schedule.choices, schedule.seed, strict=False)
        if record.error is None:
            raise NondeterminismError(
                f"{exc}; the token comes from harness 0.1 (format h1), whose choices depend on "
                f"the Python version it was made on (3.11) and on the body: run explore again "
                "for a token of this version (format h2)",
                step=exc.step,
            ) from None
        note = (
            "replayed leniently: this h1 token's choice points did not all exist here "
            f"({exc}); the schedule still fails"
        )
    if record.error is not None:
        again = session.replay(program, schedule.choices, schedule.seed, strict=not note)
        if again.digest != record.digest:
            raise divergence(record, again)
    return record, note


def shrink_token(
    body: Body,
    token: str,
    *,
    recover: Body | None = None,
    setup: Body | None = None,
    teardown: Body | None = None,
    patch_aiosqlite: bool = True,
    max_steps: int = 100_000,
) -> Failure:
    """Replay a failing token, shrink its schedule, and report it like :func:`explore`.

    Used to turn a raw failure found elsewhere (a stress worker, another
    machine) into a minimal, confirmed one. Raises ``ValueError`` if the token's
    schedule does not fail.
    """
    schedule = decode_token(token)
    config = _config_of(schedule, max_steps=max_steps, patch_aiosqlite=patch_aiosqlite)
    program = _program(body, recover, setup, teardown)
    with Session(config, schedule.label) as session:
        if schedule.format == 1:
            record, _ = _replay_h1(session, program, schedule)
        else:
            record, _ = _replay_h2(session, program, schedule)
        if record.error is None:
            raise ValueError("this token's schedule does not fail: nothing to shrink")
        return _report(session, program, record, 0, True)


def check(body: Body, **options: Any) -> ExploreResult:
    """:func:`explore`, raising :class:`InterleavingError` if any schedule fails."""
    result = explore(body, **options)
    if result.failed:
        f = result.failures[0]
        name = getattr(body, "__qualname__", "body")
        message = (
            f"schedule {f.schedule + 1} failed (budget {result.schedules_budget} schedules, "
            f"{result.stop_reason.value}): "
            f"{type(f.error).__name__}: {f.error}\n\n{f.timeline}\n\n"
            f"replay: harness.replay({name}, {f.token!r})"
        )
        raise InterleavingError(
            message, token=f.token, timeline=f.timeline, error=f.error
        ) from f.error
    return result
