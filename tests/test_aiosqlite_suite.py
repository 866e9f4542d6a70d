"""Conformance: aiosqlite's own shipped test suite passes under the fake (DESIGN §3a).

The suite is imported from the *installed* aiosqlite (``aiosqlite.tests.smoke``,
shipped in its wheel; it differs between 0.19 and 0.22), never copied. Every
test method's coroutine runs as a harness body under a few random and PCT
schedules, in ``fifo`` and ``parallel`` mode, and must end as it does when
unittest runs it on the stock loop with real aiosqlite: passed, or skipped
for the same reason (e.g. ``test_enable_load_extension`` skips itself where
Python's sqlite3 was built without extension loading).

``IMPOSSIBLE`` names the tests that cannot run inside a simulation by design,
each with the reason; ``test_what_cannot_run_is_refused_as_the_reason_says``
checks the reason still holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import threading
import unittest
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosqlite.tests import smoke

import harness


def suite() -> type[unittest.TestCase]:
    """The suite's TestCase (not bound at module level: pytest would collect it itself)."""
    case: type[unittest.TestCase] = smoke.SmokeTest
    return case


NAMES = list(unittest.TestLoader().getTestCaseNames(suite()))

IMPOSSIBLE = {
    "test_multi_loop_usage": (
        "starts real threads, each running its own event loop on the connection: a "
        "simulation is one controlled loop on one thread, so a real thread is an escape"
    ),
    "test_stop_after_event_loop_closed": (
        "a synchronous test that creates, runs and closes its own event loop (0.22): "
        "it has no coroutine to run as a body"
    ),
}
CONFIGS = [(strategy, mode) for strategy in ("random", "pct") for mode in ("fifo", "parallel")]
SCHEDULES = 4  # per strategy and mode
RUNNABLE = [name for name in NAMES if name not in IMPOSSIBLE]


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """aiosqlite 0.19-0.20's suite uses ``test.db`` in the working directory."""
    monkeypatch.chdir(tmp_path)


@contextlib.contextmanager
def prepared(name: str) -> Iterator[unittest.TestCase]:
    """A test case after ``setUp`` (outside any loop, as unittest calls it); cleaned up after.

    ``setUp`` registers cleanups (0.22: its TemporaryDirectory) with
    ``addCleanup``; IsolatedAsyncioTestCase would run them on its own loop
    runner, which a harness body does not have, so they are collected here.
    """
    case = suite()(name)
    cleanups = contextlib.ExitStack()
    case.addCleanup = cleanups.callback  # type: ignore[method-assign]
    with cleanups:
        case.setUp()
        try:
            yield case
        finally:
            case.tearDown()


def outcome_on_real_aiosqlite(name: str) -> tuple[str, str]:
    """What unittest reports for the test on the stock loop: ("passed" | "skipped", reason)."""
    result = unittest.TestResult()
    before = set(threading.enumerate())
    previous = threading.excepthook

    def hook(args: Any) -> None:
        # a real worker thread may post its last result after the test closed its loop
        # (test_connect_error does not wait for it): a race in the suite, not a failure
        if not (
            isinstance(args.exc_value, RuntimeError) and "loop is closed" in str(args.exc_value)
        ):
            previous(args)

    threading.excepthook = hook
    try:
        with warnings.catch_warnings():
            # unittest reports a ResourceWarning without failing (3.13: test_backup_sqlite
            # leaves a sqlite3 connection unclosed); here it would fail the comparison
            warnings.simplefilter("ignore", ResourceWarning)
            suite()(name).run(result)
            for thread in set(threading.enumerate()) - before:
                thread.join(timeout=60)  # a hang guard
            gc.collect()
    finally:
        threading.excepthook = previous
    problems = result.errors + result.failures
    assert not problems, f"{name} fails on real aiosqlite: {problems[0][1]}"
    if result.skipped:
        return "skipped", str(result.skipped[0][1])
    return "passed", ""


def _body(case: unittest.TestCase, name: str) -> harness.Sim:
    method = getattr(case, name)

    async def body(sim: harness.Sim) -> None:
        await case.asyncSetUp()  # type: ignore[attr-defined]
        try:
            await method()
        finally:
            await case.asyncTearDown()  # type: ignore[attr-defined]

    return body  # type: ignore[return-value]


def outcome_under_harness(name: str, strategy: str, mode: str) -> tuple[str, str]:
    method = getattr(suite(), name)
    if getattr(method, "__unittest_skip__", False):  # a skip decorator: unittest never calls it
        return "skipped", str(method.__unittest_skip_why__)
    assert asyncio.iscoroutinefunction(method), f"{name} is not a coroutine: list it in IMPOSSIBLE"
    with prepared(name) as case:
        result = harness.explore(
            _body(case, name),  # type: ignore[arg-type]
            schedules=SCHEDULES,
            strategy=strategy,
            mode=mode,
            seed=len(name),
            shrink=False,
        )
    if not result.failed:
        assert result.schedules_run == SCHEDULES
        return "passed", ""
    failure = result.failures[0]
    if isinstance(failure.error, unittest.SkipTest):
        return "skipped", str(failure.error)
    raise AssertionError(
        f"{name} fails under harness ({strategy}, {mode}): "
        f"{type(failure.error).__name__}: {failure.error}\n{failure.timeline}\n{failure.token}"
    )


@pytest.mark.parametrize("name", RUNNABLE)
def test_aiosqlite_own_test_passes_under_the_fake(name: str) -> None:
    expected = outcome_on_real_aiosqlite(name)
    for strategy, mode in CONFIGS:
        assert outcome_under_harness(name, strategy, mode) == expected, (strategy, mode)


def test_the_suite_is_the_installed_one_and_mostly_runs() -> None:
    assert os.path.dirname(smoke.__file__).endswith(os.path.join("aiosqlite", "tests"))
    assert len(NAMES) >= 20
    excluded = [name for name in NAMES if name in IMPOSSIBLE]
    assert len(excluded) <= 2 and len(RUNNABLE) == len(NAMES) - len(excluded)


def test_what_cannot_run_is_refused_as_the_reason_says() -> None:
    present = [name for name in IMPOSSIBLE if name in NAMES]
    assert "test_multi_loop_usage" in present  # in every supported version
    for name in present:
        method = getattr(suite(), name)
        if not asyncio.iscoroutinefunction(method):
            assert "synchronous" in IMPOSSIBLE[name]
            continue
        assert "real thread" in IMPOSSIBLE[name]
        with prepared(name) as case, pytest.raises(harness.EscapeError, match="a real thread"):
            harness.explore(_body(case, name), schedules=1, shrink=False)  # type: ignore[arg-type]
