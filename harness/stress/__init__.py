"""Stress runs: scenarios and user tests repeated across pytest-xdist workers.

``harness stress`` (:mod:`.cli`) and ``pytest --harness-stress=N``
(:mod:`._user`) both measure flake rates and write a
:class:`harness.report.Report`. A scenario stress run is a pytest-xdist
session driven by :func:`run_stress`: the plan (:mod:`._spec`) becomes
chunk items (:mod:`._session`), workers run them (:mod:`._worker`), the
controller aggregates and reports (:mod:`._controller`).

This module only re-exports, lazily: ``harness.cli`` imports
:mod:`.cli` for every command, and ``harness list`` should not pay for
importing pytest.
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
