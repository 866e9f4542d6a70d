"""pytest's private names the plugin uses (pytest 8.0 through 9.x), in one place.

==================================  =========================================
name                                what for
==================================  =========================================
``Function._fixtureinfo``           a test's argument names, fixture closure
                                    and ``name2fixturedefs``
``Function._request``               the test's ``FixtureRequest`` (a schedule
                                    fixture's ``request`` delegates to it)
``SubRequest._pyfuncitem``          the test a fixture is being set up for
``FixtureDef.func`` / ``argnames``  the fixture function (swapped for a
/ ``scope`` / ``params``            placeholder while pytest sets a schedule
                                    fixture up; public attributes of
                                    ``pytest.FixtureDef``, not documented)
``_pytest._code.code.Repr*``        the failure report as pytest's own
                                    ``--tb=native`` representation
==================================  =========================================
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest


def argnames(item: pytest.Function) -> tuple[str, ...]:
    """The names of the test function's own arguments."""
    return tuple(item._fixtureinfo.argnames)


def fixture_definitions(item: pytest.Function) -> dict[str, Sequence[Any]]:
    """Fixture name -> its ``FixtureDef`` overrides, the closest last."""
    return dict(item._fixtureinfo.name2fixturedefs)


def top_request(item: pytest.Function) -> pytest.FixtureRequest:
    return item._request


def requesting_item(request: Any) -> pytest.Item | None:
    """The test a fixture is being set up for (any scope), or None."""
    item = getattr(request, "_pyfuncitem", None)
    return item if isinstance(item, pytest.Item) else None


@contextlib.contextmanager
def fixture_function(fixturedef: Any, function: Callable[..., Any]) -> Iterator[None]:
    """Let pytest call ``function`` instead of ``fixturedef``'s function, for one set-up."""
    original = fixturedef.func
    fixturedef.func = function
    try:
        yield
    finally:
        fixturedef.func = original


def bind(function: Callable[..., Any], instance: object | None) -> Callable[..., Any]:
    """A fixture function bound to the test's class instance, as pytest binds it."""
    if instance is None:
        return function
    bound_to = getattr(function, "__self__", None)
    if bound_to is not None and not isinstance(instance, type(bound_to)):
        return function  # a fixture of some other class (a plugin object)
    unbound = getattr(function, "__func__", function)
    if unbound is function:
        return function
    return unbound.__get__(instance)  # type: ignore[no-any-return]


def native_longrepr(item: pytest.Item, text: str) -> Any:
    """``text`` as pytest's ``--tb=native`` representation, with ``reprcrash`` its first line.

    A plain string would do, but pytest's short summary then shows the whole
    string on CI (``running_on_ci()``) and with ``-vv``; with a ``reprcrash`` it
    shows the first line — the error — like for any other failure. These
    classes are what pytest and pytest-xdist (de)serialise, so the same holds
    under ``-n``. Falls back to the string if pytest ever moves them.
    """
    try:
        from _pytest._code.code import ReprExceptionInfo, ReprFileLocation, ReprTracebackNative
    except ImportError:  # pragma: no cover - a future pytest
        return text
    path, lineno, _ = item.location
    crash = ReprFileLocation(path, (lineno or 0) + 1, text.split("\n", 1)[0])
    return ReprExceptionInfo(reprtraceback=ReprTracebackNative([text + "\n"]), reprcrash=crash)
