"""harness — deterministic concurrency testing for async Python code on SQLite.

A body ``async def body(sim)`` runs on a controlled asyncio loop with a
virtual clock and a fake aiosqlite whose statements execute on real SQLite at
steps a strategy chooses. See ``README.md`` and ``DESIGN.md`` §3 for the
contract; this module only re-exports.
"""

from __future__ import annotations

from ._errors import DeadlockError as DeadlockError
from ._errors import EscapeError as EscapeError
from ._errors import HarnessError as HarnessError
from ._errors import InterleavingError as InterleavingError
from ._errors import LivelockError as LivelockError
from ._errors import NondeterminismError as NondeterminismError
from ._errors import ScheduleError as ScheduleError
from ._errors import TokenError as TokenError
from ._sim import Sim as Sim
from .explore import ExploreResult as ExploreResult
from .explore import Failure as Failure
from .explore import Run as Run
from .explore import StopReason as StopReason
from .explore import check as check
from .explore import explore as explore
from .explore import replay as replay
from .faults import Faults as Faults
from .strategies import PCT as PCT
from .strategies import Exhaustive as Exhaustive
from .strategies import Random as Random
from .strategies import Strategy as Strategy

__version__ = "0.1.0"

__all__ = (
    "PCT",
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
