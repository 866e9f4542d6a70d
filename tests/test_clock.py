"""The virtual wall clock: ``time`` and ``datetime`` in a body, and module globals swapped.

Each test reads the time through a module created for it (its own globals, as
application code has them) and checks the virtual value inside a schedule and
the real one outside; the swap of ``datetime`` globals is checked across
explorations, since what a module holds is remembered between them.
"""

from __future__ import annotations

import asyncio
import datetime
import sys
import types
from collections.abc import Iterator

import pytest

import harness

EPOCH = datetime.datetime(2026, 1, 1)


@pytest.fixture
def app_module() -> Iterator[types.ModuleType]:
    """A module ``app_clock`` that did ``from datetime import datetime`` at import time."""
    module = types.ModuleType("app_clock")
    exec("from datetime import datetime, date\nimport datetime as dt\n", module.__dict__)
    sys.modules["app_clock"] = module
    yield module
    del sys.modules["app_clock"]


def _explore_reading(read: object) -> list[object]:
    seen: list[object] = []

    async def body(sim: harness.Sim) -> None:
        seen.append(read())  # type: ignore[operator]
        await asyncio.sleep(90)
        seen.append(read())  # type: ignore[operator]

    assert harness.explore(body, schedules=2, workers=1).failures == []
    assert seen[:2] == seen[2:]  # every schedule reads the same virtual times
    return seen[:2]


def test_time_and_datetime_read_the_virtual_clock_in_a_body() -> None:
    import time

    seen: list[object] = []

    async def body(sim: harness.Sim) -> None:
        seen.append((time.time(), datetime.datetime.now(), datetime.date.today()))
        await asyncio.sleep(3600)
        seen.append((time.time(), datetime.datetime.now(), datetime.date.today()))

    assert harness.explore(body, schedules=1, workers=1).failures == []
    (t0, now0, today0), (t1, now1, _today1) = seen
    assert t1 - t0 == 3600
    assert now0 == EPOCH and now1 == EPOCH + datetime.timedelta(hours=1)
    assert today0 == EPOCH.date()
    assert type(now0) is datetime.datetime  # values keep their real type
    # outside the simulation this module's global is the real module again (not its proxy)
    assert globals()["datetime"] is sys.modules["datetime"]


def test_a_module_global_is_swapped_in_every_exploration_and_restored_after(
    app_module: types.ModuleType,
) -> None:
    for _ in range(3):  # the second and later explorations use what the first scan found
        first, later = _explore_reading(lambda: app_module.datetime.now())
        assert first == EPOCH
        assert later == EPOCH + datetime.timedelta(seconds=90)
        assert app_module.datetime is datetime.datetime
        assert app_module.date is datetime.date
        assert app_module.dt is datetime


def test_a_global_bound_after_an_earlier_exploration_is_swapped_in_the_next(
    app_module: types.ModuleType,
) -> None:
    _explore_reading(lambda: app_module.datetime.now())  # the module is scanned here
    exec("from datetime import datetime as stamp_clock\n", app_module.__dict__)
    first, _ = _explore_reading(lambda: app_module.stamp_clock.now())
    assert first == EPOCH
    assert app_module.stamp_clock is datetime.datetime


def test_a_new_module_under_a_known_name_is_scanned_again(
    app_module: types.ModuleType,
) -> None:
    _explore_reading(lambda: app_module.datetime.now())
    replacement = types.ModuleType("app_clock")
    # as many globals as the first module had, under other names: only identity tells
    exec("from datetime import datetime as clock\nx = 1\ny = 2\n", replacement.__dict__)
    assert len(replacement.__dict__) == len(app_module.__dict__)
    sys.modules["app_clock"] = replacement
    first, _ = _explore_reading(lambda: replacement.clock.now())
    assert first == EPOCH
    assert replacement.clock is datetime.datetime


def test_objects_whose_hash_or_equality_raise_are_left_alone() -> None:
    class Hostile:
        def __hash__(self) -> int:
            raise RuntimeError("hash called")

        def __eq__(self, other: object) -> bool:
            raise RuntimeError("eq called")

    module = types.ModuleType("app_hostile")
    module.thing = Hostile()  # type: ignore[attr-defined]
    module.datetime = datetime.datetime  # type: ignore[attr-defined]
    sys.modules["app_hostile"] = module
    try:
        first, _ = _explore_reading(lambda: module.datetime.now())  # type: ignore[attr-defined]
        assert first == EPOCH
        assert isinstance(module.thing, Hostile)  # type: ignore[attr-defined]
    finally:
        del sys.modules["app_hostile"]
