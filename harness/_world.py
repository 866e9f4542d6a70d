"""The environment of one schedule, and the choice points it offers.

The :class:`World` owns everything a schedule can vary: pending operations
(per :class:`~harness._ops.Channel`), pending notification deliveries, the fault
budget left, and the record (choices, events). The controlled loop calls
:meth:`World.step` before it runs each ready callback and whenever it would
block; ``step`` either says "run the callback" or performs one environment
action. Alternatives are offered in a fixed order, so index 0 is the *default
order* (loop first; then the oldest enabled action) and every other index is a
deviation::

    [RUN]            if a callback is ready
    EXEC/DELIVER/NOTIFY  enabled actions, oldest first
    FAULT ...        per enabled EXEC, per fault kind the real world allows there
    CRASH ...        before a write/COMMIT executes; after a COMMIT took effect

A point with one alternative is not a choice and is not recorded.

Virtual time moves only when nothing else can happen: no callback ready and
no operation able to proceed (what is left waits for a lock or a timer). So
operations and callbacks take no virtual time, and a statement waiting for a
lock waits exactly as long as its holder keeps it — the real world can be
slower, but code that is correct on a healthy machine must pass every
schedule, and an arbitrary multi-second stall would fail correct code
(``BEGIN IMMEDIATE`` with a 5 s ``busy_timeout``) for no real bug.

Invariants: the world never looks at wall-clock time, object ids or hash
order; everything it records is derived from the choices and the body's own
deterministic behaviour.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from ._alternatives import ChoiceKey, choice_key, commute
from ._errors import DeadlockError, EscapeError, HarnessError, LivelockError
from ._ops import (
    BLOCKED,
    DONE,
    EXECUTED,
    PENDING,
    SLEEPING,
    CallOp,
    Channel,
    Delivery,
    Op,
)
from ._random import SimRandom
from ._run_config import Abandoned, Crash, RunConfig
from ._stuck import describe_stuck
from ._thirdparty import asyncio as asyncio_compat
from ._thirdparty.anyio import ScopeNumbers
from ._timeline_texts import deliver_text, exec_fields, exec_text, submit_fields, submit_text
from .strategies import Alternative, ChoicePoint, Kind, Strategy
from .strategies._protocol import K_CRASH, K_DELIVER, K_EXEC, K_FAULT, K_NOTIFY, K_RUN
from .tokens import Deviation
from .trace import Fields, RawEvent, short

if TYPE_CHECKING:
    from ._loop import ControlledLoop

_RUN = Alternative(Kind.RUN, "loop")


class World:
    """All state of one schedule (see the module docstring)."""

    def __init__(self, config: RunConfig, strategy: Strategy, sim_seed: int, workdir: str) -> None:
        self.config = config
        self.strategy = strategy
        self.sim_seed = sim_seed
        self.workdir = workdir
        self._random: random.Random | None = None  # sim.random, seeded on first use
        self.decisions: list[tuple[int, int]] = []
        self.decision_keys: list[ChoiceKey] = []  # what each choice took (see choice_key)
        self.deviations: list[Deviation] = []  # the non-default decisions, by meaning
        self.events: list[RawEvent] = []  # Event(*e) for each e: see RunRecord.events
        # anchors of decisions (see harness.tokens): semantic events so far, and choice
        # points / task steps since the last one
        self.semantic_events = 0
        self.offers = 0
        self.turns = 0
        self.helpers: set[asyncio.Task[Any]] = set()  # asyncio's own helper tasks (3.11 wait_for)
        b = config.faults
        self.faults_left = {"busy": b.busy, "ioerror": b.ioerror, "full": b.full, "crash": b.crash}
        self.faults_used: list[str] = []
        self.faulty = bool(config.faults)  # some fault or crash may still be injected
        self.steps = 0
        self.generation = 0
        self.escapes: list[str] = []
        self.harness_errors: list[HarnessError] = []  # misuse seen even if the body swallowed it
        self.abandoning = False  # a crash is closing the old incarnation's tasks
        self.before_idle: list[Callable[[], bool]] = []  # True: it enabled work, don't jump time
        self.pool_job: CallOp | None = None  # the to_thread/executor work running now
        self.scope_numbers = ScopeNumbers()  # anyio cancel scopes' hashes in this schedule
        self.suspects: list[str] = []
        self.loop_errors: list[str] = []
        self.extensions: dict[str, Any] = {}  # per-schedule state of the sqlite layer and bus
        self._next_id = 0
        self._names: dict[str, int] = {}
        self._deliveries: dict[str, int] = {}
        self._enabled: dict[int, Op | Delivery] = {}
        self._version = 0
        self._cache_version = -1
        self._cache: list[Alternative] = []
        self.loop: ControlledLoop | None = None
        self._loops: list[ControlledLoop] = []  # one per incarnation
        self._executor = Channel("pool", serial=False)

    def end(self) -> None:
        """The schedule is over: drop what ties its objects into cycles (loops, extensions).

        Its objects are then freed as their last reference goes, not left for the
        cyclic collector; the record keeps only the timeline and the decisions.
        """
        for loop in self._loops:
            loop.release()
        self._loops = []
        self.loop = None
        self.extensions.clear()
        self.before_idle.clear()

    @property
    def random(self) -> random.Random:
        """``sim.random``: seeded with the schedule's seed when first used (most never are)."""
        rng = self._random
        if rng is None:
            rng = self._random = SimRandom(self.sim_seed, self)
        return rng

    # ----------------------------------------------------------------- naming
    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def unique_name(self, base: str) -> str:
        """``base#1``, ``base#2``… — deterministic actor names for this schedule."""
        n = self._names.get(base, 0) + 1
        self._names[base] = n
        return f"{base}#{n}"

    def now(self) -> float:
        return self.loop._clock if self.loop is not None else 0.0

    def current_actor(self) -> str:
        loop = self.loop
        if loop is None or loop._thread_id is None:  # not running (BaseEventLoop.is_running)
            return "loop"
        task = _current_task(loop)
        if task is None:
            return "loop"
        actor: str | None = getattr(task, "_harness_actor", None)
        return actor or task.get_name()

    def event(
        self,
        actor: str,
        kind: str,
        text: str | Callable[[], str],
        deviation: bool = False,
        fields: Fields | Callable[[], Fields] | None = None,
    ) -> None:
        """Record an event; ``fields`` (what happened, as plain values) make it semantic.

        ``fields`` may be a function computing them on first use (most schedules
        never compute their digest); it must depend only on what cannot change.
        """
        loop = self.loop
        self.events.append(  # an Event's arguments: made an Event when someone reads it
            (loop._clock if loop is not None else 0.0, actor, kind, text, deviation, fields)
        )
        if fields is not None:
            self.semantic_events += 1
            self.offers = self.turns = 0

    # --------------------------------------------------------------- process
    def new_process(self, loop: ControlledLoop) -> None:
        """Start an incarnation of the process (the first one, or after a crash)."""
        self.generation += 1
        self.loop = loop
        self._loops.append(loop)
        self._enabled = {}
        self._executor = Channel("pool", serial=False)
        self._version += 1

    def disable_faults(self) -> None:
        """No more faults or crashes in this schedule (used while shutting down)."""
        for kind in self.faults_left:
            self.faults_left[kind] = 0
        self.faulty = False
        self._version += 1

    def check_alive(self, generation: int) -> None:
        """Refuse use of the simulation by code of a crashed process."""
        if generation != self.generation:
            raise Abandoned("the process crashed; this task was abandoned")

    def escape(self, what: str) -> EscapeError:
        """Record an escape from control and return the error to raise."""
        self.escapes.append(what)
        return EscapeError(f"the body escaped harness's control: {what}")

    # ----------------------------------------------------------- operations
    def submit(self, op: Op) -> None:
        """Queue ``op`` on its channel (called on the loop, by the submitting task)."""
        self._next_id += 1
        op.id = self._next_id
        loop = self.loop
        submitter = "loop"  # self.current_actor(), inline (once per statement)
        if loop is not None and loop._thread_id is not None:
            task = _current_task(loop)
            if task is not None:
                submitter = getattr(task, "_harness_actor", None) or task.get_name()
        op.submitter = submitter
        channel = op.channel
        channel.submitted += 1
        op.ordinal = channel.submitted
        channel.ops.append(op)
        name = channel.name
        semantic = op.semantic
        self.events.append(  # self.event(...), inline
            (  # Event(...)'s arguments, inline
                loop._clock if loop is not None else 0.0,
                submitter,
                "submit",
                partial(submit_text, name, op),
                False,
                partial(submit_fields, name, op) if semantic else None,
            )
        )
        if semantic:
            self.semantic_events += 1
            self.offers = self.turns = 0
        if channel.serial:
            if len(channel.ops) == 1:  # the worker was idle: this op is next
                self._enabled[op.id] = op
                self._version += 1
        else:
            op.actor = f"{name}/{op.id}"
            self.refresh(channel)

    def submit_call(self, label: str, call: Callable[[], Any]) -> asyncio.Future[Any]:
        """Hand ``call`` to the simulated thread pool; return the loop-side future."""
        assert self.loop is not None
        future: asyncio.Future[Any] = self.loop.create_future()
        self.submit(CallOp(self._executor, label, future, call))
        return future

    def refresh(self, channel: Channel) -> None:
        """Re-derive which of ``channel``'s ops are enabled (keeping enable order)."""
        enabled = self._enabled
        now_enabled = {op.id: op for op in channel.enabled()}
        for op in channel.ops:
            if op.id in enabled and op.id not in now_enabled:
                del enabled[op.id]
        for key, op in now_enabled.items():
            if key not in enabled:
                enabled[key] = op
        self._version += 1

    def enable_delivery(self, delivery: Delivery) -> None:
        delivery.id = self.new_id()
        count = self._deliveries.get(delivery.shown, 0) + 1
        self._deliveries[delivery.shown] = delivery.ordinal = count
        delivery.actor = f"{delivery.shown}/{delivery.id}"
        self._enabled[delivery.id] = delivery
        self._version += 1

    def wake(self, op: Op, reason: str) -> None:
        """A blocked op may retry (a lock holder changed state, or its deadline passed)."""
        if op.state is not BLOCKED:
            return
        op.state = PENDING
        op.channel.blocked = None
        self.event(
            op.channel.name,
            "wake",
            lambda: f"{short(op.label, 50)} ({reason})",
            fields=(op.ordinal,),
        )
        # re-enable at the end of the enable order: it is "new" work for the scheduler
        self._enabled.pop(op.id, None)
        self.refresh(op.channel)

    def _wake_sleeper(self, op: Op) -> None:
        if op.state is not SLEEPING:
            return
        op.state = EXECUTED
        self.event(
            op.channel.name,
            "woke",
            lambda: f"{short(op.label, 50)} finished sleeping",
            fields=(op.ordinal,),
        )
        self.refresh(op.channel)

    def _on_deadline(self, op: Op) -> None:
        op.final = True
        op.deadline_handle = None
        self.wake(op, "busy_timeout expired")

    # --------------------------------------------------------- choice points
    def step(self, ready: bool) -> bool:
        """One decision. Return True when the loop should run its next callback."""
        enabled = self._enabled
        if not enabled:
            if ready:
                return True
            self._idle_without_work()
            return False
        if not ready and len(enabled) == 1 and not self.faulty:
            # The only thing that can happen: not a choice, no alternatives to build.
            # Repeat while that stays true (an op executes, then is the only one to deliver).
            ready_queue = self.loop._ready if self.loop is not None else None
            budget = self.config.max_steps
            while len(enabled) == 1 and not ready_queue:
                self.steps += 1
                if self.steps > budget:
                    self.count_step()  # raises LivelockError
                item = next(iter(enabled.values()))
                if isinstance(item, Delivery):
                    self._notify(item, False)
                elif item.state is PENDING:
                    self._execute(item, None, False)
                    if item.channel.blocked is item:  # waits for a lock (and a timer)
                        break
                else:
                    self._deliver(item, False)
            return False
        alts = self._alternatives(ready)
        count = len(alts)
        if count == 1:
            index = 0
        else:
            anchor = (self.semantic_events, self.offers, self.turns)
            try:
                index = self.strategy.choose(
                    ChoicePoint(
                        len(self.decisions),
                        alts,
                        not ready,
                        anchor,
                        commute,
                        choice_key,
                        self.steps,
                    )
                )
            except HarnessError:
                raise
            except Exception as exc:  # never reported as the body's failure
                raise HarnessError(
                    f"strategy {self.strategy!r} failed at choice point "
                    f"{len(self.decisions) + 1}: {type(exc).__name__}: "
                    f"{exc}"
                ) from exc
            if not 0 <= index < count:
                raise HarnessError(
                    f"strategy {self.strategy!r} chose {index!r} among {count} alternatives"
                )
            self.decisions.append((index, count))
            key = choice_key(alts[index])
            self.decision_keys.append(key)
            self.offers += 1
            if index:
                self.record_deviation(anchor, key)
        alt = alts[index]
        if alt.kind is K_RUN:
            return True
        self.count_step()
        self._perform(alt, index != 0)
        return False

    def record_deviation(self, anchor: tuple[int, int, int], key: ChoiceKey) -> None:
        kind, target, ordinal, fault = key
        event, offer, turn = anchor
        self.deviations.append(Deviation(event, offer, turn, kind, target, ordinal, fault))

    def _update_faulty(self) -> None:
        left = self.faults_left
        self.faulty = bool(left["busy"] or left["ioerror"] or left["full"] or left["crash"])

    def count_step(self) -> None:
        self.steps += 1
        if self.steps > self.config.max_steps:
            raise LivelockError(
                f"step budget of {self.config.max_steps} exhausted at virtual "
                f"time {self.now():.3f}s; still running: {self.stuck_tasks()}"
            )

    def _idle_without_work(self) -> None:
        loop = self.loop
        assert loop is not None
        for hook in self.before_idle:
            if hook():
                return
        if loop.next_timer() is not None:
            loop.advance()
            return
        raise DeadlockError(
            f"deadlock at virtual time {self.now():.3f}s: no callback is ready, "
            f"no operation is pending and no timer is set; stuck: "
            f"{self.stuck_tasks()}"
        )

    def _alternatives(self, ready: bool) -> list[Alternative]:
        if ready and self._cache_version == self._version:
            return self._cache
        alts: list[Alternative] = [_RUN] if ready else []
        faults: list[Alternative] = []
        left = self.faults_left
        any_fault = left["busy"] or left["ioerror"] or left["full"]
        crash = left["crash"] > 0
        for item in self._enabled.values():
            if isinstance(item, Op):
                if item.state is PENDING:
                    alts.append(Alternative(K_EXEC, item.actor, None, item))
                    if any_fault and item.write:
                        for kind in item.fault_kinds():
                            if left[kind]:
                                faults.append(Alternative(K_FAULT, item.actor, kind, item))
                    if crash and item.write:
                        faults.append(Alternative(K_CRASH, item.actor, "exec", item))
                else:
                    alts.append(Alternative(K_DELIVER, item.actor, None, item))
                    if crash and item.committed:
                        faults.append(Alternative(K_CRASH, item.actor, "deliver", item))
            else:
                alts.append(Alternative(K_NOTIFY, item.actor, None, item))
        alts.extend(faults)
        if ready:
            self._cache, self._cache_version = alts, self._version
        return alts

    def _perform(self, alt: Alternative, deviation: bool) -> None:
        kind = alt.kind
        target = alt.target
        if kind is K_EXEC:
            assert isinstance(target, Op)
            self._execute(target, None, deviation)
        elif kind is K_DELIVER:
            assert isinstance(target, Op)
            self._deliver(target, deviation)
        elif kind is K_NOTIFY:
            assert isinstance(target, Delivery)
            self._notify(target, deviation)
        elif kind is K_FAULT:
            assert isinstance(target, Op) and alt.fault is not None
            self.faults_left[alt.fault] -= 1
            self.faults_used.append(alt.fault)
            self._update_faulty()
            self._version += 1
            self._execute(target, alt.fault, deviation)
        elif kind is K_CRASH:
            assert isinstance(target, Op)
            self.faults_left["crash"] -= 1
            self.faults_used.append("crash")
            self._update_faulty()
            after = alt.fault == "deliver"
            where = (
                "after it committed, before its result was delivered"
                if after
                else "before it executed"
            )
            self.event(
                target.channel.name,
                "crash",
                lambda: f"process crashes at {short(target.label, 50)} ({where})",
                deviation,
                fields=(target.ordinal, alt.fault),
            )
            raise Crash(target, after)
        else:  # pragma: no cover - RUN is handled by step()
            raise AssertionError(kind)

    def _notify(self, delivery: Delivery, deviation: bool) -> None:
        del self._enabled[delivery.id]
        self._version += 1
        self.event(delivery.shown, "recv", delivery.label, deviation, fields=(delivery.ordinal,))
        delivery.apply()

    def _execute(self, op: Op, fault: str | None, deviation: bool) -> None:
        enabled = self._enabled
        enabled.pop(op.id, None)
        channel = op.channel
        done = op.run(fault)
        if not done:
            op.state = BLOCKED
            channel.blocked = op
            if op.deadline_handle is None and op.deadline is not None:
                assert self.loop is not None
                op.deadline_handle = self.loop.call_at(op.deadline, self._on_deadline, op)
            until = op.deadline or 0.0
            self.event(
                channel.name,
                "block",
                lambda: (
                    f"{short(op.label, 50)} -> database is locked; waits for the lock "
                    f"until {until:.3f}s (busy_timeout)"
                ),
                deviation,
                fields=(op.ordinal, until) if op.semantic else None,
            )
        else:
            op.state = EXECUTED
            if op.deadline_handle is not None:
                op.deadline_handle.cancel()
                op.deadline_handle = None
            delay = op.delay
            if delay > 0 and self.loop is not None:  # the work slept: its result comes later
                op.state = SLEEPING
                self.loop.call_at(self.loop.time() + delay, self._wake_sleeper, op)
            outcome = op.deferred_outcome_key()
            semantic = op.semantic
            loop = self.loop
            self.events.append(  # self.event(...), inline: once per statement
                (  # Event(...)'s arguments, inline
                    loop._clock if loop is not None else 0.0,
                    channel.name,
                    "fault" if fault else "exec",
                    partial(exec_text, op, outcome),
                    deviation,
                    partial(exec_fields, op.ordinal, fault, outcome) if semantic else None,
                )
            )
            if semantic:
                self.semantic_events += 1
                self.offers = self.turns = 0
        if channel.serial and channel.blocked is None:
            enabled[op.id] = op  # re-enabled at the end of the order: now to be delivered
            self._version += 1
        else:
            self.refresh(channel)

    def _deliver(self, op: Op, deviation: bool) -> None:
        op.state = DONE
        channel = op.channel
        ops = channel.ops
        enabled = self._enabled
        enabled.pop(op.id, None)
        if channel.serial and ops[0] is op:
            del ops[0]
            if ops:
                following = ops[0]
                if following.state is PENDING:
                    enabled[following.id] = following
            self._version += 1
        else:
            ops.remove(op)
            self.refresh(channel)
        future = op.future
        dropped = False
        loop = self.loop
        if future is not None:
            dropped = future.cancelled()
            assert loop is not None
            if op.error is not None:
                loop.call_soon(_set_exception, future, op.error)
            else:
                loop.call_soon(_set_result, future, op.value)
        op.future = op.value = None  # handed over: the op must not keep the result alive
        submitter = op.submitter
        semantic = op.semantic
        self.events.append(  # self.event(...), inline: once per statement
            (  # Event(...)'s arguments, inline
                loop._clock if loop is not None else 0.0,
                channel.name,
                "deliver",
                partial(deliver_text, op, submitter, dropped),
                deviation,
                (op.ordinal, submitter, dropped) if semantic else None,
            )
        )
        if semantic:
            self.semantic_events += 1
            self.offers = self.turns = 0

    # ------------------------------------------------------------- reports
    def stuck_tasks(self) -> str:
        """The unfinished tasks, where each waits, and the pending operations."""
        pending = [op for op in self._enabled.values() if isinstance(op, Op)]
        return describe_stuck(self.loop, pending)


_current_task = asyncio_compat.current_task_of


def _set_result(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


def _set_exception(future: asyncio.Future[Any], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)
