"""Example failures of simulated cells: the first failing schedule, shrunk and replayed.

After the stress sessions, the controller turns the first failing token (by
run index) of each failing simulated cell into the cell's first example (the
dict the report schema documents) with :func:`harness._explore.shrink_token`,
so the report's token, its "replay it" command and its swimlane are one and
the same shrunk schedule.

Invariants: at most one shrunk example per cell; the total cost is bounded —
each shrink gets at most :data:`PER_EXAMPLE` seconds of wall time and all of
them together :data:`TOTAL` seconds (a ``SIGALRM`` timer where one is
available); past its budget an example is the *unshrunk* schedule, replayed
once (``"shrunk": false``); a token that no longer fails or cannot be
replayed gives no example, never an error.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

from ..report.model import MAX_EXAMPLES
from ._tracebacks import describe

if TYPE_CHECKING:
    from ..report import Cell
    from ..trace import Event

PER_EXAMPLE = 20.0
TOTAL = 60.0
MAX_EVENTS = 400
"""Events kept in an example (the swimlane of a longer schedule is cut at the end)."""


class OutOfTime(Exception):
    pass


def events_json(events: Sequence[Event]) -> list[dict[str, Any]]:
    """Timeline events as the example's ``events`` list (steps numbered from 1)."""
    return [
        {
            "step": i,
            "time": round(e.time, 6),
            "actor": e.actor,
            "kind": e.kind,
            "text": e.text,
            "deviation": bool(e.deviation),
            "op": getattr(e, "op", None),
        }
        for i, e in enumerate(events[:MAX_EVENTS], start=1)
    ]


def example_dict(
    token: str,
    error: BaseException,
    events: Sequence[Event],
    command: str,
    shrunk: bool,
    run: int | None = None,
) -> dict[str, Any]:
    """A simulated example: token, error, message, traceback, command and events."""
    return {
        "token": token,
        **describe(error),
        "seed": None,
        "command": command,
        "crash": None,
        "events": events_json(events),
        "run": run,
        "shrunk": shrunk,
    }


def with_budget(seconds: float, work: Callable[[], Any]) -> Any:
    """``work()``, interrupted by :class:`OutOfTime` after ``seconds`` (main thread only)."""
    if seconds <= 0:
        raise OutOfTime
    if (
        not hasattr(signal, "setitimer")
        or threading.current_thread() is not threading.main_thread()
    ):
        return work()

    def fire(signum: int, frame: FrameType | None) -> None:
        raise OutOfTime

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return work()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def scenario_example(
    name: str, store: str, token: str, budget: float, run: int | None = None
) -> dict[str, Any] | None:
    """Shrink ``token`` of scenario ``name``/``store`` within ``budget`` seconds."""
    import harness
    from harness import scenarios
    from harness._explore import shrink_token

    scenario = scenarios.get(name)
    body, recover = scenario.body(store), scenario.recover_body(store)
    try:
        failure = with_budget(
            min(budget, PER_EXAMPLE), lambda: shrink_token(body, token, recover=recover)
        )
    except OutOfTime:
        failure = None
    except (ValueError, harness.HarnessError):
        return None  # no longer fails, or diverges: nothing trustworthy to draw
    if failure is not None:
        command = f"harness replay {failure.token}"
        return example_dict(failure.token, failure.error, failure.events, command, True, run)
    try:
        replayed = harness.replay(body, token, recover=recover)
    except (ValueError, harness.HarnessError):
        return None
    if replayed.error is None:
        return None
    command = f"harness replay {token}"
    return example_dict(token, replayed.error, replayed.events, command, False, run)


def add_examples(
    cells: Sequence[Cell],
    first_tokens: Callable[[Cell], tuple[int, str] | None],
    *,
    total: float = TOTAL,
) -> None:
    """Give each failing simulated cell its shrunk first example (and its token), in order."""
    deadline = time.monotonic() + total
    for cell in cells:
        first = first_tokens(cell) if cell.simulated and cell.failures else None
        if first is None:
            continue
        run, token = first
        example = scenario_example(cell.name, cell.store, token, deadline - time.monotonic(), run)
        if example is not None:
            cell.examples = [example, *cell.examples][:MAX_EXAMPLES]
            cell.tokens = [example["token"]]
