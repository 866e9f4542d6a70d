"""Timeline texts and semantic fields of the three events of every operation.

They are computed on first read (the world records ``functools.partial`` of
these, not closures: no cells to build on the hot path, and a passing
schedule's timeline is never rendered). Invariant: each is a pure function of
the operation and its recorded outcome.
"""

from __future__ import annotations

from collections.abc import Callable

from ._ops import Op, describe_result
from .trace import Fields, short


def submit_text(name: str, op: Op) -> str:
    return f"{name}: {op.label}"


def submit_fields(name: str, op: Op) -> Fields:
    return (name, op.ordinal, op.signature())


def exec_text(op: Op, outcome: Callable[[], tuple[object, ...]]) -> str:
    return f"{op.label} -> {describe_result(outcome())}"


def exec_fields(
    ordinal: int, fault: str | None, outcome: Callable[[], tuple[object, ...]]
) -> Fields:
    return (ordinal, fault, outcome())


def deliver_text(op: Op, submitter: str, dropped: bool) -> str:
    dropped_note = " (dropped: the awaiting task was cancelled)" if dropped else ""
    return f"{short(op.label, 50)} -> {submitter}{dropped_note}"
