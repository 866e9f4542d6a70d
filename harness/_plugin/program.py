"""A harness test as explore's program: its body, ``setup`` and ``teardown``.

The body calls the test function pytest collected (not the synchronous
wrapper pytest-asyncio puts in ``item.obj``) with ``sim``, the schedule
fixtures of :mod:`harness._plugin.fixtures` and the test's other fixtures.
Without schedule fixtures the test's own coroutine is the schedule's main
task, exactly as a plain body, so tokens do not depend on the plugin.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

from .._thirdparty import pytest as _pytest
from . import fixtures as _fixtures

FUNCTION = pytest.StashKey[Callable[..., Any]]()  # item.obj as collected
PLAN = pytest.StashKey[_fixtures.Plan]()


def collected_function(item: pytest.Function) -> Callable[..., Any]:
    """The test function as collected (pytest-asyncio swaps ``item.obj`` for a sync wrapper)."""
    current = item.obj
    if inspect.iscoroutinefunction(current):
        return current  # type: ignore[no-any-return]
    collected = item.stash.get(FUNCTION, None)
    if collected is not None and inspect.iscoroutinefunction(collected):
        return collected
    return current  # type: ignore[no-any-return]


def _arguments(item: pytest.Function) -> tuple[str, ...]:
    return _pytest.argnames(item)


def schedule_program(item: pytest.Function, o: dict[str, Any]) -> dict[str, Any]:
    """``body``, ``setup`` and ``teardown`` for explore/replay (schedule fixtures included).

    Schedule fixtures are set up at the start of the body and finalised in the
    schedule's teardown (with faults off), before ``o["teardown"]``.
    """
    function = collected_function(item)
    plan = item.stash.get(PLAN, None) or _fixtures.Plan()
    names = _arguments(item)
    funcargs = item.funcargs
    if not plan.fixtures and _fixtures.LOOP not in names:

        def plain(sim: Any) -> Any:
            # the test's own coroutine is the schedule's main task: the timeline names it
            return function(**{n: sim if n == "sim" else funcargs[n] for n in names})

        plain.__qualname__ = function.__qualname__
        return {"body": plain, "setup": o["setup"], "teardown": o["teardown"]}
    live: dict[int, _fixtures.RunningFixtures] = {}
    user_teardown = o["teardown"]

    async def body(sim: Any) -> Any:
        live.clear()  # an earlier incarnation's fixtures died with its process
        running = live[id(sim)] = _fixtures.RunningFixtures(item, plan, sim)
        await running.set_up()
        try:
            return await function(**{n: running.value(n) for n in names})
        except Exception as exc:
            running.error = exc
            raise

    async def teardown(sim: Any) -> None:
        running = live.pop(id(sim), None)
        live.clear()
        try:
            if running is not None:
                await running.finish()
        finally:
            if user_teardown is not None:
                await user_teardown(sim)

    body.__qualname__ = function.__qualname__
    return {"body": body, "setup": o["setup"], "teardown": teardown}
