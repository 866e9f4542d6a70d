"""``sim.random``: the body's randomness, part of the schedule and shown in the timeline.

A :class:`SimRandom` is a ``random.Random`` seeded from the schedule (its seed
is in the token), so its draws replay exactly. Every draw the body makes
through a public method is recorded as a ``draw`` event — method, arguments
and result — so a timeline shows the random durations or choices that shaped
a failing schedule (a failure "with 0 deviations" often failed because of
them). Draws made inside another draw (``randint`` calls ``randrange``) are
recorded once, as the outer call.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .trace import scrub, short

if TYPE_CHECKING:
    from ._world import World

_DRAWS = (
    "random",
    "uniform",
    "triangular",
    "randint",
    "randrange",
    "choice",
    "choices",
    "sample",
    "shuffle",
    "gauss",
    "normalvariate",
    "lognormvariate",
    "expovariate",
    "vonmisesvariate",
    "gammavariate",
    "betavariate",
    "paretovariate",
    "weibullvariate",
    "binomialvariate",
    "getrandbits",
    "randbytes",
)


def _recorded(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def draw(self: SimRandom, *args: Any, **kwargs: Any) -> Any:
        self._depth += 1
        try:
            result = method(self, *args, **kwargs)
        finally:
            self._depth -= 1
        if not self._depth:
            self._record(name, args, kwargs, args[0] if name == "shuffle" else result)
        return result

    return draw


class SimRandom(random.Random):
    """``sim.random`` (see the module docstring)."""

    def __init__(self, seed: int, world: World) -> None:
        self._world = world
        self._depth = 0
        super().__init__(seed)

    def _record(
        self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any
    ) -> None:
        shown = ", ".join(
            [*(short(repr(a), 30) for a in args), *(f"{k}={v!r}" for k, v in kwargs.items())]
        )
        value = scrub(short(repr(result), 60))
        world = self._world
        world.event(
            world.current_actor(),
            "draw",
            lambda: f"sim.random.{name}({shown}) -> {value}",
            fields=(name, scrub(shown), value),
        )


for _name in _DRAWS:
    _method = getattr(random.Random, _name, None)
    if _method is not None:
        setattr(SimRandom, _name, _recorded(_name, _method))
