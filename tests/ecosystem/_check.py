"""How an ecosystem app is judged: correct apps pass, racy apps are found (and replay).

An :class:`App` is a body written the way a library's users write it, plus
what it is: *correct* (concurrent writers serialised properly: it must pass
PCT, random and bounded-exhaustive schedules — a failure is a false
positive) or *racy* (it must be found, failing with the error its bug
really produces, and the token must replay the same failure in a fresh
process).

``python -m tests.ecosystem.verdicts`` runs every app and prints the verdict
table (library x app x verdict x schedules to find).
"""

from __future__ import annotations

import importlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import harness

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
Body = Callable[[harness.Sim], Awaitable[Any]]

LOST_UPDATE = "lost update"
LOCKED = "database is locked"


def lost_update(n: int, expected: int = 2) -> None:
    """The invariant every counter app checks: each increment survived."""
    assert n == expected, f"{LOST_UPDATE}: n = {n}, expected {expected}"


@dataclass(frozen=True)
class App:
    """One application: a body and what it is (see the module docstring)."""

    library: str
    name: str
    module: str  # where ``body`` is defined (importable from a fresh process)
    attr: str
    bug: str | None = None  # None: correct; LOST_UPDATE or LOCKED: the failure it must show
    mode: str = "fifo"
    exhaustive_budget: int = 150  # Exhaustive(bound=2) schedules run in the fast suite
    exhaustive_cap: int = 0  # a budget within which Exhaustive(bound=2) completes (0: too big)

    @property
    def body(self) -> Body:
        return getattr(importlib.import_module(self.module), self.attr)  # type: ignore[no-any-return]

    @property
    def id(self) -> str:
        return f"{self.library}:{self.name}"

    def explore(self, **options: Any) -> harness.ExploreResult:
        return harness.explore(self.body, mode=self.mode, label=self.id, **options)


@dataclass
class Verdict:
    app: App
    passed: bool
    detail: str
    schedules: dict[str, int] = field(default_factory=dict)  # strategy -> schedules run / to find
    exhausted: bool | None = None
    token: str = ""


def sqlite_cause(error: BaseException) -> sqlite3.Error | None:
    """The sqlite3 error behind a library's exception.

    Followed: ``__cause__``, ``__context__``, SQLAlchemy's ``.orig`` and the
    members of an exception group (anyio's task groups raise one).
    """
    seen: set[int] = set()
    stack: list[BaseException | None] = [error]
    while stack:
        exc = stack.pop()
        if exc is None or id(exc) in seen:
            continue
        seen.add(id(exc))
        if isinstance(exc, sqlite3.Error):
            return exc
        orig = getattr(exc, "orig", None)
        stack += [exc.__cause__, exc.__context__, orig if isinstance(orig, BaseException) else None]
        if isinstance(exc, BaseExceptionGroup):
            stack += list(exc.exceptions)
    return None


def is_the_bug(app: App, error: BaseException | None) -> bool:
    """Whether ``error`` is the failure the racy app's bug really produces."""
    if error is None:
        return False
    if app.bug == LOST_UPDATE:
        return isinstance(error, AssertionError) and LOST_UPDATE in str(error)
    if app.bug == LOCKED:
        cause = sqlite_cause(error)
        return (
            isinstance(cause, sqlite3.OperationalError)
            and LOCKED in str(cause)
            and getattr(cause, "sqlite_errorname", "").startswith("SQLITE_BUSY")
        )
    return False


def check_correct(app: App, schedules: int = 25, exhaustive_budget: int | None = None) -> Verdict:
    """PCT, random and Exhaustive(bound=2) schedules: every one must pass."""
    budget = app.exhaustive_budget if exhaustive_budget is None else exhaustive_budget
    runs: dict[str, int] = {}
    exhausted = None
    for strategy, count in (
        ("pct", schedules),
        ("random", schedules),
        (harness.Exhaustive(bound=2), budget),
    ):
        result = app.explore(schedules=count, strategy=strategy, seed=3)
        name = strategy if isinstance(strategy, str) else "exhaustive"
        runs[name] = result.schedules_run
        if result.failed:
            failure = result.failures[0]
            return Verdict(
                app,
                False,
                f"false positive under {name}: {type(failure.error).__name__}: {failure.error}\n"
                f"{failure.timeline}",
                runs,
                token=failure.token,
            )
        if name == "exhaustive":
            exhausted = result.exhausted
    return Verdict(app, True, "passes every schedule", runs, exhausted)


def check_racy(app: App, schedules: int = 200) -> Verdict:
    """PCT must find the bug, with the right error (random too, where it finds it at all).

    Every failure found must be the bug; the first token must replay it in a
    fresh process. ``schedules`` maps each strategy to the schedule that
    first failed, or 0 when it found nothing within the budget.
    """
    found: dict[str, int] = {}
    token = ""
    for strategy in ("pct", "random"):
        result = app.explore(schedules=schedules, strategy=strategy, seed=3)
        if not result.failed:
            found[strategy] = 0
            continue
        failure = result.failures[0]
        if not is_the_bug(app, failure.error):
            return Verdict(
                app,
                False,
                f"{strategy} found the wrong error: {type(failure.error).__name__}: "
                f"{failure.error}\n{failure.timeline}",
                found,
                token=failure.token,
            )
        found[strategy] = failure.schedule + 1
        token = token or failure.token
    if not found["pct"]:
        return Verdict(app, False, f"PCT did not find it in {schedules} schedules", found)
    replayed = replay_in_fresh_process(app, token)
    if replayed != "the bug":
        return Verdict(app, False, f"token {token} replays as {replayed}", found, token=token)
    return Verdict(app, True, "found; replays in a fresh process", found, token=token)


_REPLAY = """
import sys
from tests.ecosystem._check import App, is_the_bug
import harness
app = App(**{args!r})
run = harness.replay(app.body, {token!r})
print("the bug" if is_the_bug(app, run.error) else repr(run.error))
"""


def replay_in_fresh_process(app: App, token: str) -> str:
    """Replay ``token`` in a new interpreter; "the bug" if it fails as the app's bug does."""
    args = {
        "library": app.library,
        "name": app.name,
        "module": app.module,
        "attr": app.attr,
        "bug": app.bug,
        "mode": app.mode,
    }
    done = subprocess.run(
        [sys.executable, "-c", _REPLAY.format(args=args, token=token)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,  # a hang guard, not an assertion
    )
    if done.returncode != 0:
        return f"exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}"
    return done.stdout.strip().splitlines()[-1]


def judge(app: App, **options: Any) -> Verdict:
    return check_correct(app, **options) if app.bug is None else check_racy(app, **options)
