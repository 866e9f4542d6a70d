"""Run one schedule: a body on a fresh controlled loop, crashes and recovery included.

A schedule is one or more *incarnations* of the process. The first runs the
body; if the strategy crashes the process, every task is abandoned where it
stands (its coroutine is closed while the old incarnation refuses any use of
the simulation, so no ``finally`` can reach the database), every open
transaction is rolled back by closing the real connections, and — if a
``recover`` function was given — the next incarnation runs ``recover(sim)`` on
the same database files, with a copy of ``sim.notes`` as it was at the crash.

When the body returns, remaining tasks are cancelled and awaited, as
``asyncio.run`` does (faults are off during that shutdown).

A :class:`Program` is the user's code for one schedule: the body, and the
optional ``recover``, ``setup`` and ``teardown`` functions (each ``async def
f(sim)``). ``setup`` runs at the start of every incarnation (it is "process
start": re-create what a module-level engine or cache holds), ``teardown``
once at the end of the schedule, after the last incarnation's body or
``recover`` finished, whether it passed or failed (dispose of engines there),
with faults off. Neither runs in an incarnation a crash abandoned.

Exceptions that are not ``Exception`` subclasses and not ``asyncio``'s own
(pytest's outcomes ``skip``/``xfail``/``fail``, a pytest-timeout timeout,
``KeyboardInterrupt``, ``SystemExit``) are not schedule failures: they end the
exploration and propagate to the caller unchanged.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ._alternatives import ChoiceKey
from ._errors import EscapeError, HarnessError, ScheduleError
from ._loop import ControlledLoop
from ._patches import enter, leave, resume_gc
from ._run_config import Abandoned, Crash, RunConfig
from ._sim import Sim
from ._world import World
from .sqlite._layer import clean_up, layer_of
from .strategies import Strategy
from .tokens import Deviation
from .trace import Event, RawEvent, digest_of, events_of, format_timeline

Body = Callable[[Sim], Awaitable[Any]]


@dataclass(frozen=True)
class Program:
    """The user's code for a schedule (see the module docstring)."""

    body: Body
    recover: Body | None = None
    setup: Body | None = None
    teardown: Body | None = None


def passes_through(error: BaseException) -> bool:
    """Whether ``error`` ends the exploration instead of failing one schedule."""
    if isinstance(error, Exception | asyncio.CancelledError | BaseExceptionGroup):
        return False
    return not isinstance(error, Crash | Abandoned)


@dataclass
class RunRecord:
    """Everything one schedule produced."""

    error: BaseException | None
    raw_events: list[RawEvent]  # as the world recorded them: see events
    decisions: list[tuple[int, int]]
    sim_seed: int
    steps: int
    faults_used: list[str]
    notes: dict[str, Any]
    crashes: int
    loop_errors: list[str] = field(default_factory=list)
    suspects: list[str] = field(default_factory=list)
    choice_keys: list[ChoiceKey] = field(default_factory=list)  # what each choice took
    semantic: list[Deviation] = field(default_factory=list)  # the deviations, by meaning
    _digest: str = ""
    _events: list[Event] | None = None

    @property
    def events(self) -> list[Event]:
        """The timeline (built from ``raw_events`` on first use; a passing schedule's never is)."""
        events = self._events
        if events is None:
            events = self._events = events_of(self.raw_events)
        return events

    @property
    def choices(self) -> tuple[int, ...]:
        return tuple(c for c, _ in self.decisions)

    @property
    def deviations(self) -> int:
        return sum(1 for c, _ in self.decisions if c)

    @property
    def digest(self) -> str:
        if not self._digest:
            self._digest = digest_of(self.events)
        return self._digest

    @property
    def timeline(self) -> str:
        return format_timeline(self.events)


def run_schedule(
    program: Program, config: RunConfig, strategy: Strategy, seed: int, workdir: str
) -> RunRecord | None:
    """Run one schedule chosen by ``strategy``; None when the strategy is exhausted."""
    try:
        return _run_schedule(program, config, strategy, seed, workdir)
    finally:
        resume_gc()  # the schedule's world is garbage now: one collection frees it


def _run_schedule(
    program: Program, config: RunConfig, strategy: Strategy, seed: int, workdir: str
) -> RunRecord | None:
    sim_seed = strategy.begin(seed)
    if sim_seed is None:
        return None
    world = World(config, strategy, sim_seed, workdir)
    notes: dict[str, Any] = {}
    crashes = 0
    enter(world)
    try:
        error, notes, crashes = _run_incarnations(world, program)
    finally:
        leave()
        clean_up(world)
        world.end()
    if world.escapes:
        raise EscapeError(f"the body escaped harness's control: {world.escapes[0]}")
    if world.harness_errors:
        raise world.harness_errors[0]
    strategy.end(world.decisions)
    return RunRecord(
        error=error,
        raw_events=world.events,
        decisions=world.decisions,
        sim_seed=sim_seed,
        steps=world.steps,
        faults_used=world.faults_used,
        notes=notes,
        crashes=crashes,
        loop_errors=world.loop_errors,
        suspects=world.suspects,
        choice_keys=world.decision_keys,
        semantic=world.deviations,
    )


def _run_incarnations(
    world: World, program: Program
) -> tuple[BaseException | None, dict[str, Any], int]:
    notes: dict[str, Any] = {}
    entry = program.body
    recover = program.recover
    crashes = 0
    while True:
        loop = ControlledLoop(world, start_time=world.now())
        world.new_process(loop)
        sim = Sim(world, notes, crashes)
        try:
            return _run_body(world, loop, program, entry, sim), sim.notes, crashes
        except Crash:
            crashes += 1
            try:
                notes = copy.deepcopy(sim.notes)  # the client's view at the instant of the crash
            except Exception:
                notes = dict(sim.notes)
            _abandon(world, loop)
            if recover is None:
                world.event("process", "end", "crashed (no recover function given)")
                return None, notes, crashes
            world.event("process", "recover", "restart: recover(sim) on the same database files")
            entry = recover


def _run_body(
    world: World, loop: ControlledLoop, program: Program, entry: Body, sim: Sim
) -> BaseException | None:
    if program.setup is None and program.teardown is None:
        awaitable = entry(sim)
        coro = awaitable if asyncio.iscoroutine(awaitable) else _as_coroutine(awaitable)
    else:
        coro = _incarnation(world, program, entry, sim)
        coro.__qualname__ = getattr(entry, "__qualname__", "body")  # type: ignore[attr-defined]
    main = loop.create_task(coro, name="main")
    error: BaseException | None = None
    try:
        loop.run_until_complete(main)
    except Crash:
        raise  # the caller records the client's view (notes) before abandoning
    except (HarnessError, KeyboardInterrupt, SystemExit, GeneratorExit):
        _abandon_quietly(world, loop)
        raise
    except ScheduleError as exc:
        _abandon(world, loop)
        return exc
    except BaseException as exc:  # the body's own failure, CancelledError included
        if passes_through(exc):
            _abandon_quietly(world, loop)
            raise
        error = exc
    return _shut_down(world, loop, error)


async def _as_coroutine(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


async def _incarnation(world: World, program: Program, entry: Body, sim: Sim) -> Any:
    """One incarnation's main task: setup, the body (or recover), teardown."""
    generation = world.generation
    if program.setup is not None:
        await program.setup(sim)
    try:
        return await entry(sim)
    finally:
        # not in an incarnation a crash abandoned (its coroutines are being closed)
        if program.teardown is not None and world.generation == generation:
            world.disable_faults()
            await program.teardown(sim)


def _shut_down(
    world: World, loop: ControlledLoop, error: BaseException | None
) -> BaseException | None:
    """Cancel what is left, as asyncio.run does; then close the loop."""
    world.disable_faults()
    try:
        tasks = [t for t in loop.created_tasks() if not t.done()]
        if tasks:
            for task in tasks:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        if loop._asyncgens:
            loop.run_until_complete(loop.shutdown_asyncgens())
    except ScheduleError as exc:
        _abandon(world, loop)
        return error if error is not None else exc
    except (Crash, HarnessError):
        _abandon_quietly(world, loop)
        raise
    loop.close()
    return error


def _abandon(world: World, loop: ControlledLoop) -> None:
    """Stop an incarnation where it stands: no task resumes, nothing reaches the database."""
    world.generation += 1  # the old incarnation may no longer touch the simulation
    world.abandoning = True
    # first the connections (as the OS does for a dead process; the layer keeps their
    # aiosqlite objects, so closing the tasks below does not make aiosqlite warn)
    layer_of(world).close_all()
    for task in loop.created_tasks():
        task._log_destroy_pending = False  # type: ignore[attr-defined]
    # while their coroutines close, the loop is the thread's current one: a finally block
    # that calls asyncio.get_event_loop() (aiosqlite does, before it reaches the simulation
    # and stops there) must not make asyncio create, and leak, a stock event loop
    outside = asyncio._get_running_loop() is None
    if outside:
        asyncio._set_running_loop(loop)
    try:
        for task in loop.created_tasks():
            if not task.done():
                try:
                    task.get_coro().close()
                except (Exception, Abandoned):
                    pass
    finally:
        world.abandoning = False
        if outside:
            asyncio._set_running_loop(None)
    loop._ready.clear()
    loop._scheduled.clear()
    if not loop.is_running():
        loop.close()


def _abandon_quietly(world: World, loop: ControlledLoop) -> None:
    try:
        _abandon(world, loop)
    except Exception:  # pragma: no cover - best effort while another error propagates
        pass
