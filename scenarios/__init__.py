"""The five real bugs, as scenarios (see ``../shared/SCENARIOS.md``).

``REGISTRY`` maps CLI names to :class:`Scenario` objects, in a fixed order.
"""

from __future__ import annotations

if __name__ != "harness.scenarios":  # installed in harness's namespace only (see pyproject)
    raise ImportError(f"import harness.scenarios, not {__name__}")

from ._base import VARIANTS as VARIANTS
from ._base import Scenario as Scenario
from .flush_cursor import SCENARIO as _flush_cursor
from .hook_batch import SCENARIO as _hook_batch
from .metadata_lww import SCENARIO as _metadata_lww
from .subscribe_gap import SCENARIO as _subscribe_gap
from .writer_contention import SCENARIO as _writer_contention

REGISTRY: dict[str, Scenario] = {
    s.name: s
    for s in (_metadata_lww, _writer_contention, _subscribe_gap, _flush_cursor, _hook_batch)
}

__all__ = ("REGISTRY", "VARIANTS", "Scenario", "get")


def get(name: str) -> Scenario:
    """The scenario called ``name``; ``KeyError`` with the known names otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown scenario {name!r} (known: {', '.join(REGISTRY)})") from None
