"""Example failures for the HTML swimlane: a failing token, shrunk and replayed.

After the stress session, the controller turns the first failing sim token
of each failing cell into an ``example`` (the dict documented in
:class:`harness.report.Cell`) with :func:`harness._explore.shrink_token`.

Invariants: at most one example per cell; the total cost is bounded — each
shrink gets at most :data:`PER_EXAMPLE` seconds of wall time and all of them
together :data:`TOTAL` seconds (a ``SIGALRM`` timer where one is available);
past its budget an example is the *unshrunk* schedule, replayed once; a token
that no longer fails or cannot be replayed gives no example, never an error.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
        }
        for i, e in enumerate(events[:MAX_EVENTS], start=1)
    ]


def example_dict(
    token: str, error: BaseException | str, events: Sequence[Event], command: str, shrunk: bool
) -> dict[str, Any]:
    """The ``example`` of a cell: token, error line, replay command and events."""
    if isinstance(error, BaseException):
        message = " ".join(str(error).split())
        error = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return {
        "token": token,
        "error": error,
        "command": command,
        "shrunk": shrunk,
        "events": events_json(events),
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


def scenario_example(name: str, store: str, token: str, budget: float) -> dict[str, Any] | None:
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
        return example_dict(failure.token, failure.error, failure.events, command, True)
    try:
        run = harness.replay(body, token, recover=recover)
    except (ValueError, harness.HarnessError):
        return None
    if run.error is None:
        return None
    return example_dict(token, run.error, run.events, f"harness replay {token}", False)


def add_examples(cells: Sequence[Any], *, total: float = TOTAL) -> None:
    """Give each failing sim cell (a :class:`harness.report.Cell`) its example, in order."""
    deadline = time.monotonic() + total
    for cell in cells:
        if cell.mode != "sim" or not cell.failures or not cell.tokens or cell.example:
            continue
        left = deadline - time.monotonic()
        cell.example = scenario_example(cell.name, cell.store, cell.tokens[0], left)
