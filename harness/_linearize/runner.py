"""A scenario as a harness program: body, recover, and the check at the end.

``body(sim)`` opens the store (``spec.setup``), runs the prefix on the main
task, the actors concurrently (one task each, created in order), then the
suffix and the spec's observations on the main task; closes the store
(``spec.teardown``) and checks the recorded history. A violation raises
:class:`NotLinearizable` (an ``AssertionError``), so the engine confirms the
failing schedule by replay and shrinks it like any other failure.

After a crash, ``recover(sim)`` records the crash in the history (which
lives in ``sim.notes``, so the engine carried the client's view across),
reopens the store on the same files, runs the observations and checks the
whole history: durability of acknowledged writes is linearizability across
the crash. Calls an actor had not made when the process died never happen.

The same body runs on real aiosqlite (:func:`run_real`): a stock
``asyncio.run`` loop, real threads, a temporary directory.
"""

from __future__ import annotations

import asyncio
import copy
import os
import random
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiosqlite

from .._errors import HarnessError
from .._explore import ExploreResult, Failure, Run, explore, replay
from ..faults import Faults
from ..strategies import Strategy
from ..trace import decode_token
from .checker import DEFAULT_MAX_NODES, Verdict, check_history
from .explain import Contradiction
from .history import NOTES_KEY, History, Recorder
from .report import failure_text
from .scenario import MAIN, Scenario
from .spec import Call, Spec


class UndecidedError(HarnessError):
    """The checker ran out of its node budget: no verdict (never reported as a violation)."""


class NotLinearizable(AssertionError):
    """A history no order explains (raised inside the schedule; the report is its message).

    The report is written on first use of ``str()`` and kept: schedules that
    fail during confirmation and shrinking never pay for the contradiction search.
    """

    def __init__(self, spec: Spec, scenario: Scenario | None, verdict: Verdict) -> None:
        super().__init__(f"history not linearizable ({len(verdict.history)} operations)")
        self.spec = spec
        self.scenario = scenario
        self.verdict = verdict
        self._text: str | None = None
        self._contradiction: Contradiction | None = None

    @property
    def history(self) -> History:
        return self.verdict.history

    def explain(self) -> tuple[str, Contradiction | None]:
        if self._text is None:
            self._text, self._contradiction = failure_text(
                self.verdict, self.spec.model, name=self.spec.name, scenario=self.scenario
            )
        return self._text, self._contradiction

    @property
    def contradiction(self) -> Contradiction | None:
        return self.explain()[1]

    def __str__(self) -> str:
        return self.explain()[0]

    def __reduce__(self) -> Any:  # pickling keeps the verdict, not just the message
        return (type(self), (self.spec, self.scenario, self.verdict))


@dataclass
class Program:
    """The harness body and recover function of one scenario of one spec."""

    spec: Spec
    scenario: Scenario
    indefinite: tuple[type[BaseException], ...]
    max_nodes: int = DEFAULT_MAX_NODES
    histories: list[History] = field(default_factory=list)  # every history checked

    def __post_init__(self) -> None:
        self.scenario.check_against(self.spec)

    async def _call(self, recorder: Recorder, store: Any, actor: str, call: Call) -> None:
        op = self.spec.operation(call.op)
        op_id = recorder.invoke(actor, call.op, *call.args)
        try:
            if op.timeout is None:
                value = await op.invoke(store, call.args)
            else:
                value = await asyncio.wait_for(op.invoke(store, call.args), op.timeout)
        except TimeoutError as exc:
            if op.timeout is not None:
                recorder.timed_out(op_id)
            else:
                recorder.raised(op_id, exc)
        except asyncio.CancelledError as exc:
            recorder.raised(op_id, exc)
            raise
        except Exception as exc:
            recorder.raised(op_id, exc)
        else:
            recorder.returned(op_id, value)

    async def _sequence(
        self, recorder: Recorder, store: Any, actor: str, calls: Sequence[Call]
    ) -> None:
        for call in calls:
            await self._call(recorder, store, actor, call)

    @staticmethod
    def _recorder(sim: Any) -> Recorder:
        events: list[Any] = sim.notes.setdefault(NOTES_KEY, [])
        return Recorder(events, sim.now)

    async def body(self, sim: Any) -> None:
        recorder = self._recorder(sim)
        store = await self.spec.setup(sim)
        await self._sequence(recorder, store, MAIN, self.scenario.prefix)
        await asyncio.gather(
            *(
                self._sequence(recorder, store, f"actor {i}", calls)
                for i, calls in enumerate(self.scenario.actors, 1)
            )
        )
        await self._sequence(recorder, store, MAIN, (*self.scenario.suffix, *self.spec.observe))
        if self.spec.teardown is not None:
            await self.spec.teardown(store)
        self.verify(recorder)

    async def recover(self, sim: Any) -> None:
        recorder = self._recorder(sim)
        recorder.crash(getattr(sim, "crashes", None))
        store = await self.spec.setup(sim)
        await self._sequence(recorder, store, MAIN, self.spec.observe)
        if self.spec.teardown is not None:
            await self.spec.teardown(store)
        self.verify(recorder)

    def verify(self, recorder: Recorder) -> Verdict:
        history = recorder.history(self.indefinite)
        self.histories.append(history)
        verdict = check_history(history, self.spec.model, max_nodes=self.max_nodes)
        if verdict.undecided:
            raise UndecidedError(
                f"the linearizability checker gave up after {verdict.nodes} search nodes on a "
                f"history of {len(history)} operations (raise max_nodes or shrink the scenario)"
            )
        if not verdict.ok:
            raise NotLinearizable(self.spec, self.scenario, verdict)
        return verdict


StrategyArg = str | Strategy


def fresh(strategy: StrategyArg) -> StrategyArg:
    """A strategy for one exploration: names as they are, objects copied (they keep state)."""
    return strategy if isinstance(strategy, str) else copy.deepcopy(strategy)


@dataclass
class Outcome:
    """What exploring one scenario found."""

    scenario: Scenario
    explored: ExploreResult
    program: Program

    @property
    def failed(self) -> bool:
        return self.explored.failed

    @property
    def failure(self) -> Failure | None:
        return self.explored.failures[0] if self.explored.failures else None

    @property
    def error(self) -> BaseException | None:
        f = self.failure
        return None if f is None else f.error

    @property
    def history(self) -> History | None:
        """The failing schedule's history (as recorded in its notes)."""
        error = self.error
        if isinstance(error, NotLinearizable):
            return error.history
        return None


def explore_scenario(
    spec: Spec,
    scenario: Scenario,
    *,
    schedules: int = 100,
    strategy: StrategyArg = "pct",
    seed: int = 0,
    mode: str = "fifo",
    faults: Faults | None = None,
    shrink: bool = True,
    max_steps: int = 100_000,
    max_nodes: int = DEFAULT_MAX_NODES,
) -> Outcome:
    """Run ``scenario`` under up to ``schedules`` schedules; stop at the first violation."""
    program = Program(spec, scenario, spec.indefinite_errors(faults), max_nodes)
    explored = explore(
        program.body,
        recover=program.recover,
        schedules=schedules,
        strategy=fresh(strategy),
        seed=seed,
        mode=mode,
        faults=faults,
        shrink=shrink,
        max_steps=max_steps,
    )
    return Outcome(scenario, explored, program)


def replay_scenario(
    spec: Spec, scenario: Scenario, token: str, *, max_nodes: int = DEFAULT_MAX_NODES
) -> tuple[Run, History]:
    """Replay one schedule of a scenario; the run and the history it recorded."""
    faults = decode_token(token).faults
    program = Program(spec, scenario, spec.indefinite_errors(faults), max_nodes)
    run = replay(program.body, token, recover=program.recover)
    events = run.notes.get(NOTES_KEY, [])
    history = Recorder(list(events)).history(program.indefinite)
    return run, history


class RealSim:
    """What ``spec.setup`` receives on real aiosqlite: ``connect``, ``notes``, ``random``, ``now``.

    ``connect(name, **kwargs)`` is ``aiosqlite.connect`` on ``name`` inside a
    private directory (absolute paths and ``:memory:`` are passed through).
    """

    kind = "real"
    crashes = 0

    def __init__(self, directory: str, seed: int = 0) -> None:
        self.directory = directory
        self.notes: dict[str, Any] = {}
        self.random = random.Random(seed)
        self._start: float | None = None

    def connect(self, database: str, **kwargs: Any) -> aiosqlite.Connection:
        name = os.fspath(database)
        if not (name.startswith(":") or name.startswith("file:") or os.path.isabs(name)):
            name = os.path.join(self.directory, name)
        return aiosqlite.connect(name, **kwargs)

    def now(self) -> float:
        """Seconds on the running loop's clock since the run started (for display only)."""
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        return loop.time() - self._start


def run_real(
    spec: Spec,
    scenario: Scenario,
    *,
    runs: int = 1,
    seed: int = 0,
    directory: str | None = None,
    max_nodes: int = DEFAULT_MAX_NODES,
    sim_factory: Callable[[str, int], Any] = RealSim,
) -> list[History]:
    """Run ``scenario`` ``runs`` times on real aiosqlite; raise NotLinearizable on a violation."""
    if not isinstance(runs, int) or runs < 1:
        raise ValueError(f"runs must be a positive int, not {runs!r}")
    program = Program(spec, scenario, spec.indefinite_errors(None), max_nodes)
    for i in range(runs):
        with tempfile.TemporaryDirectory(prefix="harness-lin-", dir=directory) as d:
            asyncio.run(program.body(sim_factory(d, seed + i)))
    return list(program.histories)
