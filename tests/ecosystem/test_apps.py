"""The libraries users have, under harness: correct apps pass, racy apps are found.

Each app (see ``tests/ecosystem/*_apps.py``) is judged by ``_check.judge``:
a correct app must pass PCT, random and ``Exhaustive(bound=2)`` schedules
(a failure is a false positive); a racy app must be found by PCT with the
error its bug really produces, and its token must replay that error in a
fresh process.
"""

from __future__ import annotations

import pytest

import harness
from tests.ecosystem._check import App, judge
from tests.ecosystem.apps import APPS


@pytest.mark.parametrize("app", APPS, ids=lambda app: app.id)
def test_app_verdict(app: App) -> None:
    verdict = judge(app)
    assert verdict.passed, verdict.detail


def test_every_library_has_a_correct_app_and_both_racy_ones() -> None:
    by_library: dict[str, set[str | None]] = {}
    for app in APPS:
        by_library.setdefault(app.library, set()).add(app.bug)
    assert len(by_library) == 7
    for library, bugs in by_library.items():
        assert bugs == {None, "lost update", "database is locked"}, library


EXHAUSTIVE = [app for app in APPS if app.bug is None and app.exhaustive_cap]


@pytest.mark.slow
@pytest.mark.parametrize("app", EXHAUSTIVE, ids=lambda app: app.id)
def test_correct_app_passes_every_schedule_within_two_deviations(app: App) -> None:
    result = app.explore(schedules=app.exhaustive_cap, strategy=harness.Exhaustive(bound=2))
    assert not result.failed, result.failures[0].error
    assert result.exhausted, f"{result.schedules_run} schedules did not cover bound 2"


LARGE = [app for app in APPS if app.bug is None and not app.exhaustive_cap]


@pytest.mark.slow
@pytest.mark.parametrize("app", LARGE, ids=lambda app: app.id)
def test_correct_app_passes_many_schedules_within_two_deviations(app: App) -> None:
    result = app.explore(schedules=600, strategy=harness.Exhaustive(bound=2))
    assert not result.failed, result.failures[0].error
