"""Hypothesis draws scenarios and shrinks them; harness explores and shrinks schedules.

:func:`explore` asks Hypothesis (``hypothesis.find``, seeded, no example
database) for a scenario of the spec whose exploration fails: each scenario
Hypothesis draws is explored under ``schedules`` schedules of the chosen
strategy, fault budget and mode, stopping at the first failing schedule and
without shrinking it. When one fails, Hypothesis shrinks the *scenario*
(fewer actors and calls, earlier operations, simpler arguments) by exploring
smaller candidates the same way; the minimal scenario is then explored once
more with harness's schedule shrinking, and that failure is reported.

Invariants: a scenario's exploration is a function of (scenario, options) —
the same seed gives the same schedules — so Hypothesis sees a deterministic
test and the whole search (scenarios, shrinking, the report) repeats exactly
for the same arguments. Results are memoised per scenario, so a candidate
Hypothesis reaches twice is explored once.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, find, settings
from hypothesis.errors import NoSuchExample

from .._explore import Run
from ..faults import Faults
from .checker import DEFAULT_MAX_NODES, Verdict, check_history
from .history import History
from .runner import NotLinearizable, Outcome, StrategyArg, explore_scenario, replay_scenario
from .scenario import Range, Scenario
from .scenario import scenarios as scenario_strategy
from .spec import Spec


@dataclass
class Options:
    """How each scenario is explored (everything but the scenario)."""

    schedules: int = 40
    strategy: StrategyArg = "pct"
    seed: int = 0
    mode: str = "fifo"
    faults: Faults | None = None
    max_steps: int = 100_000
    max_nodes: int = DEFAULT_MAX_NODES

    def describe(self) -> str:
        faults = self.faults
        budget = (
            ", ".join(
                f"{k}={getattr(faults, k)}"
                for k in ("busy", "ioerror", "full", "crash")
                if getattr(faults, k)
            )
            if faults
            else "none"
        )
        strategy = self.strategy if isinstance(self.strategy, str) else repr(self.strategy)
        return (
            f"strategy {strategy}, mode {self.mode}, faults {budget}, "
            f"{self.schedules} schedules per scenario, seed {self.seed}"
        )

    def explore(self, spec: Spec, scenario: Scenario, *, shrink: bool) -> Outcome:
        return explore_scenario(
            spec,
            scenario,
            schedules=self.schedules,
            strategy=self.strategy,
            seed=self.seed,
            mode=self.mode,
            faults=self.faults,
            shrink=shrink,
            max_steps=self.max_steps,
            max_nodes=self.max_nodes,
        )


@dataclass
class Result:
    """What :func:`explore` found: the minimal failing scenario and its shrunk schedule."""

    spec: Spec
    options: Options
    outcome: Outcome | None  # the reported exploration (None: nothing failed)
    scenarios_run: int = 0  # scenario explorations, shrinking candidates included
    schedules_run: int = 0
    first_failing: Scenario | None = None  # the scenario that failed before shrinking
    _report: str | None = field(default=None, repr=False)

    @property
    def failed(self) -> bool:
        return self.outcome is not None and self.outcome.failed

    @property
    def scenario(self) -> Scenario | None:
        return self.outcome.scenario if self.failed and self.outcome is not None else None

    @property
    def token(self) -> str | None:
        failure = self.outcome.failure if self.outcome is not None else None
        return failure.token if failure is not None else None

    @property
    def error(self) -> BaseException | None:
        return self.outcome.error if self.outcome is not None else None

    @property
    def history(self) -> History | None:
        return self.outcome.history if self.outcome is not None else None

    @property
    def timeline(self) -> str:
        failure = self.outcome.failure if self.outcome is not None else None
        return failure.timeline if failure is not None else ""

    @property
    def report(self) -> str:
        """The whole failure report: scenario, lanes, contradiction, schedule, replay."""
        if self._report is None:
            self._report = failure_report(self) if self.failed else "no violation found"
        return self._report


def _pytest_command() -> str | None:
    current = os.environ.get("PYTEST_CURRENT_TEST")
    if not current:
        return None
    node = current.rsplit(" (", 1)[0]
    return f"pytest '{node}'"


def failure_report(result: Result) -> str:
    outcome = result.outcome
    assert outcome is not None and outcome.failure is not None
    failure = outcome.failure
    error = failure.error
    if isinstance(error, NotLinearizable):
        text = str(error)
    else:
        text = (
            f"the scenario failed before its history could be checked: "
            f"{type(error).__name__}: {error}\n\nscenario:\n"
            + "\n".join("  " + line for line in str(outcome.scenario).splitlines())
            + f"\n\nharness timeline:\n{failure.timeline}"
        )
    shrunk = f"{failure.deviations} deviation(s) from the default order"
    faults = f", faults struck: {', '.join(failure.faults)}" if failure.faults else ""
    lines = [
        text,
        "",
        f"schedule: {shrunk}{faults} ({result.options.describe()}; "
        f"{result.scenarios_run} scenario(s) and {result.schedules_run} schedule(s) explored)",
        "replay:",
        f"  harness.linearizability.replay(spec, {str(outcome.scenario)!r}, {failure.token!r})",
    ]
    command = _pytest_command()
    if command is not None:
        lines.append(f"  {command}   # the same seed finds the same scenario and schedule")
    return "\n".join(lines)


class LinearizabilityError(AssertionError):
    """Raised by :func:`check`: the store's history contradicts its model (or a schedule failed).

    Carries ``result`` (:class:`Result`), ``token``, ``scenario`` and ``history``;
    the message is the whole report.
    """

    def __init__(self, result: Result) -> None:
        super().__init__(result.report)
        self.result = result
        self.token = result.token
        self.scenario = result.scenario
        self.history = result.history

    def __reduce__(self) -> Any:
        return (AssertionError, (str(self),))


def explore(
    spec: Spec,
    *,
    scenarios: int = 25,
    schedules: int = 40,
    strategy: StrategyArg = "pct",
    seed: int = 0,
    mode: str = "fifo",
    faults: Faults | None = None,
    actors: Range = (2, 3),
    calls: Range = (1, 3),
    prefix: Range = (0, 2),
    suffix: Range = (0, 1),
    shrink: bool = True,
    max_steps: int = 100_000,
    max_nodes: int = DEFAULT_MAX_NODES,
    progress: Callable[[int, int, bool], None] | None = None,
) -> Result:
    """Search up to ``scenarios`` drawn scenarios for a violation (see the module docstring).

    Each scenario runs under up to ``schedules`` schedules of ``strategy``
    (a name, or a Strategy object used as a template: copied per scenario)
    in ``mode`` with the ``faults`` budget (crashes run the spec's recovery).
    ``progress(scenarios_run, schedules_run, failed)`` is called after each
    scenario, shrinking candidates included.
    """
    if not isinstance(scenarios, int) or isinstance(scenarios, bool) or scenarios < 1:
        raise ValueError(f"scenarios must be a positive int, not {scenarios!r}")
    opts = Options(schedules, strategy, seed, mode, faults, max_steps, max_nodes)
    result = Result(spec, opts, None)
    fails = _Trial(spec, opts, result, progress)
    config = settings(
        max_examples=scenarios,
        deadline=None,
        database=None,
        derandomize=False,
        phases=(Phase.generate, Phase.shrink) if shrink else (Phase.generate,),
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        report_multiple_bugs=False,
    )
    drawn = scenario_strategy(spec, actors=actors, calls=calls, prefix=prefix, suffix=suffix)
    try:
        minimal = find(drawn, fails, settings=config, random=random.Random(seed))
    except NoSuchExample:
        return result
    result.outcome = opts.explore(spec, minimal, shrink=shrink)
    result.schedules_run += result.outcome.explored.schedules_run
    return result


class _Trial:
    """Hypothesis's condition: does exploring this scenario fail? (memoised, counted)."""

    def __init__(
        self,
        spec: Spec,
        options: Options,
        result: Result,
        progress: Callable[[int, int, bool], None] | None,
    ) -> None:
        self.spec = spec
        self.options = options
        self.result = result
        self.progress = progress
        self.memo: dict[Scenario, bool] = {}

    def __call__(self, scenario: Scenario) -> bool:
        try:
            known = self.memo.get(scenario)
        except TypeError:  # unhashable arguments: no memo
            known = None
        if known is not None:
            return known
        outcome = self.options.explore(self.spec, scenario, shrink=False)
        result = self.result
        result.scenarios_run += 1
        result.schedules_run += outcome.explored.schedules_run
        if outcome.failed and result.first_failing is None:
            result.first_failing = scenario
        if self.progress is not None:
            self.progress(result.scenarios_run, result.schedules_run, outcome.failed)
        try:
            self.memo[scenario] = outcome.failed
        except TypeError:
            pass
        return outcome.failed


def check(spec: Spec, **options: Any) -> Result:
    """:func:`explore`, raising :class:`LinearizabilityError` with the report on a violation."""
    __tracebackhide__ = True
    result = explore(spec, **options)
    if result.failed:
        raise LinearizabilityError(result)
    return result


def explore_one(
    spec: Spec,
    scenario: Scenario | str,
    *,
    schedules: int = 100,
    strategy: StrategyArg = "pct",
    seed: int = 0,
    mode: str = "fifo",
    faults: Faults | None = None,
    shrink: bool = True,
    max_steps: int = 100_000,
    max_nodes: int = DEFAULT_MAX_NODES,
) -> Result:
    """Explore one given scenario (or its text form) under up to ``schedules`` schedules."""
    if isinstance(scenario, str):
        scenario = Scenario.parse(scenario)
    opts = Options(schedules, strategy, seed, mode, faults, max_steps, max_nodes)
    outcome = opts.explore(spec, scenario, shrink=shrink)
    return Result(spec, opts, outcome, 1, outcome.explored.schedules_run)


def check_one(spec: Spec, scenario: Scenario | str, **options: Any) -> Result:
    """:func:`explore_one`, raising :class:`LinearizabilityError` on a violation."""
    __tracebackhide__ = True
    result = explore_one(spec, scenario, **options)
    if result.failed:
        raise LinearizabilityError(result)
    return result


@dataclass
class Replayed:
    """One replayed schedule of a scenario: the harness run, its history and the verdict."""

    run: Run
    history: History
    verdict: Verdict
    scenario: Scenario

    @property
    def failed(self) -> bool:
        return self.run.failed

    @property
    def error(self) -> BaseException | None:
        return self.run.error

    @property
    def timeline(self) -> str:
        return self.run.timeline

    @property
    def report(self) -> str:
        if isinstance(self.run.error, NotLinearizable):
            return str(self.run.error)
        if self.run.error is not None:
            return f"{type(self.run.error).__name__}: {self.run.error}"
        return "linearizable"


def replay(
    spec: Spec, scenario: Scenario | str, token: str, *, max_nodes: int = DEFAULT_MAX_NODES
) -> Replayed:
    """Replay the schedule ``token`` of ``scenario`` (as printed in a report)."""
    if isinstance(scenario, str):
        scenario = Scenario.parse(scenario)
    run, history = replay_scenario(spec, scenario, token, max_nodes=max_nodes)
    verdict = check_history(history, spec.model, max_nodes=max_nodes)
    return Replayed(run, history, verdict, scenario)
