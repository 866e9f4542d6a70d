"""Stress runs: scenarios and user tests repeated across pytest-xdist workers.

``harness stress`` (:mod:`.cli`, :mod:`._controller`) and ``pytest
--harness-stress=N`` (:mod:`._user`) both measure and write a
:class:`harness.report.Report` in which every planned run is accounted for.
The pieces, each in its own module:

* :mod:`._spec` — the plan: cells, chunks of runs, seeds, shards, plan id;
* :mod:`._session` — the workers' pytest plugin: the plan (sent as data)
  becomes chunk items;
* :mod:`._worker` — running a chunk run by run, reporting each run;
* :mod:`._watchdog` — the per-run timeout, enforced from outside the worker;
* :mod:`._ledger` — the controller's record of how every run ended;
* :mod:`._signals` — SIGINT/SIGTERM/SIGHUP: stop, write what was measured;
* :mod:`._decide` — ``--until-decided``;
* :mod:`._xdist` — the one place that touches pytest-xdist's and execnet's
  internals;
* :mod:`._examples`, :mod:`._tracebacks` — what a report shows of a failure.

This module only re-exports, lazily: ``harness.cli`` imports :mod:`.cli` for
every command, and ``harness list`` should not pay for importing pytest.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._controller import StressOptions as StressOptions
    from ._controller import StressOutcome as StressOutcome
    from ._controller import run_stress as run_stress

__all__ = ("StressOptions", "StressOutcome", "run_stress")


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("._controller", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
