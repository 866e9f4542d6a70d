"""A concurrent scenario: a sequential prefix, concurrent actors, a sequential suffix.

The prefix runs first on the main task; then every actor runs its calls one
after another, all actors concurrently (one asyncio task each, started in
order); then the suffix runs on the main task, followed by the spec's
``observe`` calls. The text form is one line per part, and it parses back::

    prefix: put('a', 1)
    actor 1: put('a', 2); get('a')
    actor 2: incr('a')
    suffix: get('a')

Arguments are written with ``repr`` and read back with ``ast.literal_eval``,
so a scenario whose arguments are literals (numbers, strings, tuples, None…)
round-trips through its text exactly.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from .spec import Call, Spec

PREFIX = "prefix"
SUFFIX = "suffix"
MAIN = "main"  # the lane of the prefix, the suffix, observations and recovery


@dataclass(frozen=True)
class Scenario:
    """What each actor calls (see the module docstring)."""

    actors: tuple[tuple[Call, ...], ...]
    prefix: tuple[Call, ...] = ()
    suffix: tuple[Call, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "actors", tuple(tuple(a) for a in self.actors))
        object.__setattr__(self, "prefix", tuple(self.prefix))
        object.__setattr__(self, "suffix", tuple(self.suffix))

    @property
    def calls(self) -> int:
        return len(self.prefix) + sum(len(a) for a in self.actors) + len(self.suffix)

    def __str__(self) -> str:
        lines = []
        if self.prefix:
            lines.append(f"{PREFIX}: {_calls(self.prefix)}")
        for i, calls in enumerate(self.actors, 1):
            lines.append(f"actor {i}: {_calls(calls)}")
        if self.suffix:
            lines.append(f"{SUFFIX}: {_calls(self.suffix)}")
        return "\n".join(lines)

    @classmethod
    def parse(cls, text: str) -> Scenario:
        """Read back :meth:`__str__`'s form (``ValueError`` on anything else)."""
        prefix: tuple[Call, ...] = ()
        suffix: tuple[Call, ...] = ()
        actors: list[tuple[Call, ...]] = []
        for number, line in enumerate(text.strip().splitlines(), 1):
            label, sep, rest = line.partition(":")
            label = label.strip()
            if not sep:
                raise ValueError(f"scenario line {number}: expected 'label: calls', got {line!r}")
            calls = _parse_calls(rest, number)
            if label == PREFIX:
                prefix = calls
            elif label == SUFFIX:
                suffix = calls
            elif label == f"actor {len(actors) + 1}":
                actors.append(calls)
            else:
                raise ValueError(f"scenario line {number}: unexpected label {label!r}")
        return cls(tuple(actors), prefix, suffix)

    def check_against(self, spec: Spec) -> None:
        """``KeyError`` if a call names an operation the spec does not have."""
        for call in (*self.prefix, *(c for a in self.actors for c in a), *self.suffix):
            spec.operation(call.op)


def _calls(calls: Sequence[Call]) -> str:
    return "; ".join(str(c) for c in calls)


def _parse_calls(text: str, number: int) -> tuple[Call, ...]:
    try:
        tree = ast.parse(text.strip(), mode="exec")
    except SyntaxError as exc:
        raise ValueError(f"scenario line {number}: {exc.msg}") from None
    calls = []
    for statement in tree.body:
        node = statement.value if isinstance(statement, ast.Expr) else None
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            raise ValueError(f"scenario line {number}: expected calls like op(1, 'a')")
        if node.keywords:
            raise ValueError(f"scenario line {number}: keyword arguments are not supported")
        try:
            args = tuple(ast.literal_eval(a) for a in node.args)
        except ValueError:
            raise ValueError(
                f"scenario line {number}: arguments of {node.func.id} must be literals"
            ) from None
        calls.append(Call(node.func.id, args))
    return tuple(calls)


Range = int | tuple[int, int]


def _bounds(value: Range, what: str, low: int = 0) -> tuple[int, int]:
    lo, hi = (value, value) if isinstance(value, int) else value
    if not (isinstance(lo, int) and isinstance(hi, int)) or lo < low or hi < lo:
        raise ValueError(f"{what} must be an int >= {low} or a (min, max) pair, not {value!r}")
    return lo, hi


def scenarios(
    spec: Spec,
    *,
    actors: Range = (2, 3),
    calls: Range = (1, 3),
    prefix: Range = (0, 2),
    suffix: Range = (0, 1),
) -> st.SearchStrategy[Scenario]:
    """Scenarios of ``spec``'s generated operations, as a Hypothesis strategy.

    ``actors`` is how many concurrent actors, ``calls`` how many calls each
    makes, ``prefix``/``suffix`` how many sequential calls come before/after;
    each is an int or a ``(min, max)`` range. Hypothesis shrinks toward fewer
    actors and calls, earlier operations in ``spec.operations`` and simpler
    arguments.
    """
    a_lo, a_hi = _bounds(actors, "actors", 1)
    c_lo, c_hi = _bounds(calls, "calls", 1)
    p_lo, p_hi = _bounds(prefix, "prefix")
    s_lo, s_hi = _bounds(suffix, "suffix")
    one = st.one_of(*(op.calls() for op in spec.operations if op.generated))
    return st.builds(
        Scenario,
        actors=st.lists(
            st.lists(one, min_size=c_lo, max_size=c_hi).map(tuple), min_size=a_lo, max_size=a_hi
        ).map(tuple),
        prefix=st.lists(one, min_size=p_lo, max_size=p_hi).map(tuple),
        suffix=st.lists(one, min_size=s_lo, max_size=s_hi).map(tuple),
    )


def describe(value: Any, limit: int = 60) -> str:
    """A short repr for reports."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
