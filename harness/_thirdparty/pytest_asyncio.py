"""pytest-asyncio, as the pytest plugin meets it (the only module that knows its internals).

harness never imports pytest-asyncio: it only recognises what pytest-asyncio
did to a test's async fixtures, so that a harness test can run them inside
each schedule (see :mod:`harness._plugin.fixtures`). Test functions need no
knowledge of pytest-asyncio: the plugin keeps the function pytest collected,
before pytest-asyncio's ``runtest`` replaces ``item.obj`` with a synchronous
wrapper (every version below does that, temporarily or for good).

==============  ===========================================================
pytest-asyncio  what it does to an async fixture's ``FixtureDef``
==============  ===========================================================
0.23.5-0.26.x   at collection: ``func`` becomes ``_async_fixture_wrapper`` /
                ``_asyncgen_fixture_wrapper`` (``functools.wraps`` of the
                user's function) and ``argnames`` gains ``"event_loop"`` and
                ``"request"``
1.0.x           the same, without ``"event_loop"``
1.1 - 1.5       nothing at collection; its ``pytest_fixture_setup`` wrapper
                swaps ``func`` only while pytest sets the fixture up — which
                harness's own (outer) wrapper prevents for schedule fixtures
==============  ===========================================================

Supported: 0.23.5 (the oldest release that accepts pytest 8) through 1.5.0
(the newest when this was written); the project's suite runs the newest, and
the lowest-dependency run of ``.ci/run`` the oldest. Strict and auto mode
behave the same for harness tests: harness runs every async fixture a
harness test uses, whichever decorator it carries.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

# the names of pytest-asyncio's collection-time fixture synchronizers (0.23.5 - 1.0.x)
_FIXTURE_WRAPPERS = frozenset({"_async_fixture_wrapper", "_asyncgen_fixture_wrapper"})

# fixture arguments pytest-asyncio adds to ``FixtureDef.argnames`` (0.23.5 - 1.0.x); the
# user's function receives them only when its own signature names them
INJECTED_ARGNAMES = frozenset({"event_loop", "request"})


def _package_dir() -> str | None:
    module = sys.modules.get("pytest_asyncio")
    path = getattr(module, "__file__", None)
    return os.path.dirname(os.path.abspath(path)) if path else None


def is_fixture_wrapper(function: object) -> bool:
    """Whether ``function`` is one of pytest-asyncio's synchronizers of an async fixture."""
    code = getattr(function, "__code__", None)
    if code is None or code.co_name not in _FIXTURE_WRAPPERS:
        return False
    where = _package_dir()
    return where is not None and os.path.abspath(code.co_filename).startswith(where + os.sep)


def original_fixture_function(function: Callable[..., Any]) -> Callable[..., Any]:
    """The user's fixture function behind pytest-asyncio's synchronizer (or ``function``)."""
    while is_fixture_wrapper(function):
        wrapped = getattr(function, "__wrapped__", None)
        if wrapped is None:  # pragma: no cover - a pytest-asyncio that stops using wraps()
            break
        function = wrapped
    return function
