"""harness — deterministic concurrency testing for async Python code on SQLite.

A body ``async def body(sim)`` runs on a controlled asyncio loop with a
virtual clock and a fake aiosqlite whose statements execute on real SQLite at
steps a strategy chooses. See ``README.md`` and ``DESIGN.md`` §3 for the
contract; this module only re-exports. Names are imported on first use, so
``import harness`` (and the pytest plugin, in every pytest session) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import _context as _context  # process-wide state: imported first (see its docstring)

if TYPE_CHECKING:
    from ._errors import DeadlockError as DeadlockError
    from ._errors import EscapeError as EscapeError
    from ._errors import HarnessError as HarnessError
    from ._errors import InterleavingError as InterleavingError
    from ._errors import LivelockError as LivelockError
    from ._errors import NondeterminismError as NondeterminismError
    from ._errors import ScheduleError as ScheduleError
    from ._errors import TokenError as TokenError
    from ._explore import ExploreResult as ExploreResult
    from ._explore import Failure as Failure
    from ._explore import Run as Run
    from ._explore import StopReason as StopReason
    from ._explore import check as check
    from ._explore import explore as explore
    from ._explore import replay as replay
    from ._sim import Sim as Sim
    from .faults import Faults as Faults
    from .strategies import PCT as PCT
    from .strategies import POS as POS
    from .strategies import Exhaustive as Exhaustive
    from .strategies import Portfolio as Portfolio
    from .strategies import Random as Random
    from .strategies import Strategy as Strategy

__version__ = "0.2.0"

_WHERE = {
    "DeadlockError": "._errors",
    "EscapeError": "._errors",
    "HarnessError": "._errors",
    "InterleavingError": "._errors",
    "LivelockError": "._errors",
    "NondeterminismError": "._errors",
    "ScheduleError": "._errors",
    "TokenError": "._errors",
    "Sim": "._sim",
    "ExploreResult": "._explore",
    "Failure": "._explore",
    "Run": "._explore",
    "StopReason": "._explore",
    "check": "._explore",
    "explore": "._explore",
    "replay": "._explore",
    "Faults": ".faults",
    "PCT": ".strategies",
    "POS": ".strategies",
    "Portfolio": ".strategies",
    "Exhaustive": ".strategies",
    "Random": ".strategies",
    "Strategy": ".strategies",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])


__all__ = (
    "PCT",
    "POS",
    "DeadlockError",
    "EscapeError",
    "Exhaustive",
    "ExploreResult",
    "Failure",
    "Faults",
    "HarnessError",
    "InterleavingError",
    "LivelockError",
    "NondeterminismError",
    "Portfolio",
    "Random",
    "Run",
    "ScheduleError",
    "Sim",
    "StopReason",
    "Strategy",
    "TokenError",
    "__version__",
    "check",
    "explore",
    "replay",
)
