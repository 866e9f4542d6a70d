"""How one schedule runs, and the two exceptions that end a simulated process.

Invariant: a :class:`RunConfig` is immutable and holds everything about a
schedule except the strategy's choices, so a token (seed, strategy, choices)
plus the config reproduces the schedule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .faults import Faults

if TYPE_CHECKING:
    from ._ops import Op


class Crash(BaseException):
    """Raised out of the loop when the strategy crashes the process (never seen by the body)."""

    def __init__(self, op: Op, after_commit: bool) -> None:
        super().__init__("crash")
        self.op = op
        self.after_commit = after_commit


class Abandoned(BaseException):
    """Raised into code of a crashed process that tries to use the simulation again."""


@dataclass(frozen=True)
class RunConfig:
    """How one schedule runs (everything but the choices)."""

    mode: str = "fifo"
    faults: Faults = field(default_factory=Faults)
    max_steps: int = 100_000
    chaos: bool = False
    patch_aiosqlite: bool = True

    def __post_init__(self) -> None:
        if self.mode not in ("fifo", "parallel"):
            raise ValueError(f"mode must be 'fifo' or 'parallel', not {self.mode!r}")
        if self.max_steps < 1:
            raise ValueError("max_steps must be positive")
