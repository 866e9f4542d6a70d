"""Replay a recorded schedule: the choices come from a list, not from chance.

In ``strict`` mode (replaying a token) the schedule must follow the record
exactly: a recorded choice that is out of range, or a choice point after the
record ends, raises :class:`harness.NondeterminismError` naming the step. In
lenient mode (used by the shrinker to try edited schedules) an out-of-range
choice is clamped and choice points after the record take the default.
"""

from __future__ import annotations

from collections.abc import Sequence

from .._errors import NondeterminismError
from ._protocol import ChoicePoint, Decision


class Replay:
    """Take the choices of a recorded schedule."""

    name = "replay"

    def __init__(self, choices: Sequence[int], *, seed: int, strict: bool = True) -> None:
        self.choices = list(choices)
        self.seed = seed
        self.strict = strict
        self._pos = 0

    def __repr__(self) -> str:
        return f"Replay({len(self.choices)} choices)"

    def begin(self, seed: int) -> int | None:
        self._pos = 0
        return self.seed

    def choose(self, point: ChoicePoint) -> int:
        pos = self._pos
        self._pos += 1
        count = len(point.alternatives)
        if pos >= len(self.choices):
            if self.strict:
                raise NondeterminismError(
                    f"replay diverged at choice point {pos + 1}: the recorded schedule ended "
                    f"after {len(self.choices)} choice points but the body offered another "
                    f"({count} alternatives)",
                    step=pos + 1,
                )
            return 0
        choice = self.choices[pos]
        if choice >= count:
            if self.strict:
                raise NondeterminismError(
                    f"replay diverged at choice point {pos + 1}: recorded choice {choice} but "
                    f"only {count} alternatives were offered",
                    step=pos + 1,
                )
            return count - 1
        return choice

    def end(self, decisions: Sequence[Decision]) -> None:
        if self.strict and len(decisions) < len(self.choices):
            raise NondeterminismError(
                f"replay diverged: the body finished after {len(decisions)} choice points, "
                f"the record has {len(self.choices)}",
                step=len(decisions) + 1,
            )
