"""Schedule fixtures: the fixtures of a harness test that run inside every schedule.

pytest sets a test's fixtures up once, outside any schedule (pytest-asyncio
and anyio on a stock event loop). A harness test runs its body in many
schedules, each on a fresh controlled loop, so an async fixture set up
outside would hand every schedule one connection, bound to another loop and
a real thread. The *schedule fixtures* of a harness test are therefore set up
by each schedule's main task, before the test function runs, and finalised
at the end of the schedule, fresh every schedule:

* every function-scoped async fixture (coroutine or async generator) in the
  test's fixture closure, whichever decorator it carries
  (``@pytest_asyncio.fixture`` in strict mode, ``@pytest.fixture`` in auto
  mode or under anyio);
* every async fixture the test or a schedule fixture requests, whatever its
  scope — a wider scope is refused (below);
* every fixture that requests ``sim`` or a schedule fixture (sync ones too:
  their value depends on the schedule).

Sync fixtures that depend on none of these are pytest's as always (set up
once per test, their values shared by every schedule). Async fixtures of a
wider scope that only ``autouse`` brings in are left to their plugin: their
values never reach the body.

While pytest sets a schedule fixture up, its function is swapped for one
returning a placeholder (the plugin's ``pytest_fixture_setup`` wrapper is
outermost), so neither pytest-asyncio nor anyio runs it on its own loop.

**Refused** with one line naming the fixture and the remedy: a schedule
fixture whose scope is not ``function`` (it cannot be fresh per schedule,
and an object it creates outside the simulation cannot be used inside).

Invariants: the plan depends only on the item's fixture closure; set-up
follows pytest's closure order with each fixture's arguments first;
finalisation runs in reverse (``request.addfinalizer`` callbacks included),
continues past a failing finaliser and raises the first error — unless the
test function itself failed, whose error then wins (the finaliser's is
added as a note).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pytest

from .._thirdparty import pytest as _pytest
from .._thirdparty.pytest_asyncio import INJECTED_ARGNAMES, original_fixture_function

SIM = "sim"
LOOP = "event_loop"  # pytest-asyncio's name for the loop a test runs on: the schedule's loop


@dataclass(frozen=True)
class ScheduleFixture:
    """One fixture to set up inside each schedule."""

    name: str
    function: Callable[..., Any]  # the user's function (pytest-asyncio's wrapper removed)
    argnames: tuple[str, ...]
    scope: str
    parametrized: bool


@dataclass(frozen=True)
class Plan:
    """The schedule fixtures of one test, in set-up order (or why there can be none)."""

    fixtures: tuple[ScheduleFixture, ...] = ()
    refusal: str | None = None
    refused: str | None = None  # the fixture the refusal names

    @property
    def names(self) -> frozenset[str]:
        return frozenset(f.name for f in self.fixtures)


class InSchedule:
    """What pytest holds for a schedule fixture: the value exists only inside a schedule."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<fixture {self.name!r}: set up inside each harness schedule>"


def is_async(function: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function)


def _own_argnames(fixturedef: Any, function: Callable[..., Any]) -> tuple[str, ...]:
    """The fixture's arguments as its own function declares them."""
    names = tuple(fixturedef.argnames)
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):  # pragma: no cover - a builtin as a fixture
        return names
    return tuple(n for n in names if n not in INJECTED_ARGNAMES or n in parameters)


def plan_for(item: pytest.Function) -> Plan:
    """Which of ``item``'s fixtures run inside each schedule (see the module docstring)."""
    definitions = _pytest.fixture_definitions(item)
    closure = [n for n in item.fixturenames if definitions.get(n)]
    found: dict[str, tuple[Any, Callable[..., Any], tuple[str, ...]]] = {}
    for name in closure:
        fixturedef = definitions[name][-1]
        function = original_fixture_function(fixturedef.func)
        found[name] = (fixturedef, function, _own_argnames(fixturedef, function))
    if not found:
        return Plan()

    def arguments(name: str) -> tuple[str, ...]:
        entry = found.get(name)
        return entry[2] if entry is not None and name != SIM else ()

    chosen = {SIM} if SIM in found else set()
    chosen |= {
        n for n, (fd, function, _) in found.items() if is_async(function) and fd.scope == "function"
    }
    requested = _reachable(_pytest.argnames(item), arguments)
    chosen |= {n for n in requested if n in found and is_async(found[n][1])}
    changed = True
    while changed:  # anything that requests a schedule fixture runs in the schedule too
        changed = False
        for name in found:
            if name in chosen:
                continue
            args = arguments(name)
            if any(a in chosen for a in args) or (
                is_async(found[name][1]) and any(name in arguments(c) for c in chosen)
            ):
                chosen.add(name)
                changed = True
    chosen.discard(SIM)
    if not chosen:
        return Plan()
    for name in closure:
        if name in chosen and found[name][0].scope != "function":
            refusal = _refusal(name, found[name][0].scope, found[name][1])
            return Plan(refusal=refusal, refused=name)
    ordered: list[ScheduleFixture] = []
    placed: set[str] = set()

    def place(name: str) -> None:
        if name in placed or name not in chosen:
            return
        placed.add(name)
        fixturedef, function, args = found[name]
        for arg in args:
            if arg != name:
                place(arg)
        if name in args:  # an override that requests the fixture it overrides
            raise _Unsupported(name)
        ordered.append(
            ScheduleFixture(name, function, args, fixturedef.scope, fixturedef.params is not None)
        )

    try:
        for name in closure:
            place(name)
    except _Unsupported as exc:
        return Plan(
            refused=exc.name,
            refusal=f"fixture {exc.name!r} overrides a fixture of the same name and requests "
            "it; harness cannot run that chain inside each schedule: give one of them "
            "another name",
        )
    return Plan(tuple(ordered))


class _Unsupported(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _reachable(start: Iterable[str], arguments: Callable[[str], tuple[str, ...]]) -> set[str]:
    seen: set[str] = set()
    todo = list(start)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(arguments(name))
    return seen


def _refusal(name: str, scope: str, function: Callable[..., Any]) -> str:
    kind = "async fixture" if is_async(function) else "fixture"
    return (
        f"{kind} {name!r} has scope {scope!r}, but harness sets a test's async fixtures up "
        f"inside each schedule (fresh per schedule, on its loop); make {name!r} "
        "function-scoped, or create what it holds in @pytest.mark.harness(setup=...)"
    )


class ScheduleRequest:
    """The ``request`` a schedule fixture receives: the test's request, plus its own param."""

    def __init__(self, fixtures: RunningFixtures, fixture: ScheduleFixture) -> None:
        self._fixtures = fixtures
        self._fixture = fixture
        self._request = _pytest.top_request(fixtures.item)
        self.fixturename = fixture.name
        self.scope = "function"

    @property
    def param(self) -> Any:
        callspec = getattr(self._fixtures.item, "callspec", None)
        if not self._fixture.parametrized or callspec is None:
            raise AttributeError(f"fixture {self._fixture.name!r} is not parametrized")
        return callspec.params[self._fixture.name]

    def addfinalizer(self, finalizer: Callable[[], object]) -> None:
        self._fixtures.finalizers.append((self._fixture.name, finalizer))

    def getfixturevalue(self, name: str) -> Any:
        return self._fixtures.value(name)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._request, name)


class RunningFixtures:
    """The schedule fixtures of one schedule: their values and their finalisers."""

    def __init__(self, item: pytest.Function, plan: Plan, sim: Any) -> None:
        self.item = item
        self.plan = plan
        self.sim = sim
        self.values: dict[str, Any] = {}
        self.finalizers: list[tuple[str, Callable[[], object]]] = []
        self.error: BaseException | None = None  # the test function's own failure

    def value(self, name: str) -> Any:
        """An argument's value in this schedule."""
        if name == SIM:
            return self.sim
        if name in self.values:
            return self.values[name]
        if name == LOOP:
            return asyncio.get_running_loop()
        if name == "request":
            return _pytest.top_request(self.item)
        return self.item.funcargs[name]

    async def set_up(self) -> None:
        instance = getattr(self.item, "instance", None)
        for fixture in self.plan.fixtures:
            request = ScheduleRequest(self, fixture)
            kwargs = {a: request if a == "request" else self.value(a) for a in fixture.argnames}
            function = _pytest.bind(fixture.function, instance)
            self.values[fixture.name] = await self._call(fixture.name, function, kwargs)

    async def _call(self, name: str, function: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
        if inspect.isasyncgenfunction(function):
            agen = function(**kwargs)
            value = await agen.__anext__()
            self.finalizers.append((name, lambda: _finish_async(name, agen)))
            return value
        if inspect.iscoroutinefunction(function):
            return await function(**kwargs)
        if inspect.isgeneratorfunction(function):
            gen = function(**kwargs)
            value = next(gen)
            self.finalizers.append((name, lambda: _finish_sync(name, gen)))
            return value
        return function(**kwargs)

    async def finish(self) -> None:
        """Finalise in reverse order; raise the first error unless the test had failed."""
        first: BaseException | None = None
        while self.finalizers:
            name, finalizer = self.finalizers.pop()
            try:
                result = finalizer()
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:
                if first is None:
                    first = exc
                    exc.add_note(f"(while finalising fixture {name!r} at the end of the schedule)")
        if first is not None:
            if self.error is None:
                raise first
            self.error.add_note(
                f"and then finalising a fixture failed: {type(first).__name__}: {first}"
            )


async def _finish_async(name: str, agen: Any) -> None:
    try:
        await agen.__anext__()
    except StopAsyncIteration:
        return
    raise ValueError(f"fixture {name!r} yielded more than once")


def _finish_sync(name: str, gen: Any) -> None:
    try:
        next(gen)
    except StopIteration:
        return
    raise ValueError(f"fixture {name!r} yielded more than once")
