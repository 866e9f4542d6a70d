"""Scheduling strategies, one per module, behind :class:`Strategy`.

Strategies are looked up by name (``"portfolio"``, the default, ``"pct"``,
``"random"``, ``"pos"``, ``"exhaustive"``) or passed as objects. A strategy
object is stateful: use a fresh one per exploration.
"""

from __future__ import annotations

from ._protocol import ORDINARY, Alternative, ChoicePoint, Decision, Kind, Strategy
from .exhaustive import Exhaustive
from .pct import PCT
from .portfolio import Portfolio
from .pos import POS
from .random import Random
from .replay import Replay
from .semantic import SemanticReplay

__all__ = (
    "ORDINARY",
    "PCT",
    "POS",
    "Alternative",
    "ChoicePoint",
    "Decision",
    "Exhaustive",
    "Kind",
    "Portfolio",
    "Random",
    "Replay",
    "SemanticReplay",
    "Strategy",
    "by_name",
)

NAMES = ("random", "pct", "exhaustive", "pos", "portfolio")


def by_name(strategy: str | Strategy) -> Strategy:
    """Return a fresh strategy for a name, or the object itself."""
    if isinstance(strategy, str):
        if strategy == "random":
            return Random()
        if strategy == "pct":
            return PCT()
        if strategy == "exhaustive":
            return Exhaustive()
        if strategy == "pos":
            return POS()
        if strategy == "portfolio":
            return Portfolio()
        raise ValueError(f"unknown strategy {strategy!r} (choose from {', '.join(NAMES)})")
    if not isinstance(strategy, Strategy):
        raise TypeError(f"strategy must be a name or a Strategy object, not {strategy!r}")
    return strategy
