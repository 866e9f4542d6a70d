"""Reusable history checks: state your store's invariants the way the scenarios do.

Each check takes plain data recorded by a test (a Jepsen-style history: what
was submitted, acknowledged, delivered, stored) and raises :class:`Violation`
— an ``AssertionError`` — with a message that names the invariant and the
offending items. They are pure functions: no I/O, no clock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

K = TypeVar("K", bound=Hashable)


class Violation(AssertionError):
    """An invariant does not hold."""


def _show(items: Iterable[Any], limit: int = 8) -> str:
    items = list(items)
    text = ", ".join(repr(i) for i in items[:limit])
    return text + (f", … ({len(items)} in all)" if len(items) > limit else "")


def last_writer_wins(writes: Sequence[tuple[K, Any, bool]], stored: Mapping[K, Any]) -> None:
    """Per key, the stored value is that of the last *successful* write in submission order.

    ``writes`` is ``(key, value, succeeded)`` in submission order. A key with no
    successful write is not checked (its value may be anything older).
    """
    last: dict[K, Any] = {}
    for key, value, ok in writes:
        if ok:
            last[key] = value
    for key, value in last.items():
        if key not in stored or stored[key] != value:
            raise Violation(
                f"last writer lost: key {key!r} holds {stored.get(key)!r}, but the "
                f"last successful write submitted was {value!r}"
            )


def independent_failures(
    outcomes: Sequence[tuple[Hashable, BaseException | None]], faults: int
) -> None:
    """At most ``faults`` operations may fail when at most ``faults`` faults were injected.

    Catches one failure being propagated to (or dropping) unrelated operations.
    """
    failed = [name for name, error in outcomes if error is not None]
    if len(failed) > faults:
        raise Violation(
            f"{len(failed)} operations failed ({_show(failed)}) but at most "
            f"{faults} fault(s) struck: one failure dropped other work"
        )


def exactly_once(
    delivered: Sequence[Hashable], expected: Collection[Hashable], *, what: str = "item"
) -> None:
    """Every expected item is delivered once: none missing, none twice, nothing else."""
    counts = Counter(delivered)
    missing = [i for i in expected if i not in counts]
    twice = [i for i, n in counts.items() if n > 1]
    extra = [i for i in counts if i not in expected]
    problems = []
    if missing:
        problems.append(f"never delivered: {_show(missing)}")
    if twice:
        problems.append(f"delivered more than once: {_show(twice)}")
    if extra:
        problems.append(f"not expected: {_show(extra)}")
    if problems:
        raise Violation(f"exactly-once delivery of each {what} broken: " + "; ".join(problems))


def above_floor(delivered: Iterable[int], floor: int, *, what: str = "item") -> None:
    """Nothing at or below the client's floor is delivered."""
    below = [i for i in delivered if i <= floor]
    if below:
        raise Violation(f"{what}s at or below the floor {floor} were delivered: {_show(below)}")


def no_duplicates(rows: Sequence[Hashable], *, what: str = "row") -> None:
    twice = [r for r, n in Counter(rows).items() if n > 1]
    if twice:
        raise Violation(f"duplicate {what}s stored: {_show(twice)}")


def ordered_prefix(rows: Sequence[Any], expected: Sequence[Any], *, what: str = "row") -> None:
    """The stored rows are exactly the first ``len(rows)`` expected ones, in order."""
    no_duplicates([repr(r) for r in rows], what=what)
    if list(rows) != list(expected[: len(rows)]):
        raise Violation(
            f"stored {what}s are not an in-order prefix of what was written: "
            f"stored {_show(rows)}; expected a prefix of {_show(expected)}"
        )


def acknowledged_durable(acked: Iterable[Hashable], stored: Collection[Hashable]) -> None:
    """Everything acknowledged to a client is in the database (after crash and recovery)."""
    lost = [a for a in acked if a not in stored]
    if lost:
        raise Violation(f"acknowledged but not durable: {_show(lost)}")


def all_or_nothing(
    groups: Mapping[K, Collection[Any]], stored: Mapping[K, Collection[Any]]
) -> None:
    """Each group's rows are stored completely or not at all."""
    partial = {
        g: (len(stored.get(g, ())), len(rows))
        for g, rows in groups.items()
        if stored.get(g) and set(stored[g]) != set(rows)
    }
    if partial:
        text = ", ".join(f"{g!r} ({have} of {want} rows)" for g, (have, want) in partial.items())
        raise Violation(f"groups stored partially: {text}")


def within(latencies: Iterable[tuple[str, float, float]], bound: float) -> None:
    """Latency bound in virtual time: each ``(label, due, actual)`` is at most ``bound`` late."""
    late = [(label, actual - due) for label, due, actual in latencies if actual - due > bound]
    if late:
        text = ", ".join(f"{label} {delay:.3f}s late" for label, delay in late)
        raise Violation(f"latency bound of {bound:.3f}s exceeded: {text}")
