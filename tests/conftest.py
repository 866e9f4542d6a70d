from __future__ import annotations

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


# Inner pytest runs (pytester, in-process and in a subprocess) see the plugins installed with
# the test extra. They keep their files' order (pytest-randomly is off unless a test turns it on
# with `-p randomly`) and stay quiet about pytest-asyncio's unset default loop scope.
INNER_RUN_OPTIONS = '-p no:randomly -W "ignore:The configuration option:DeprecationWarning"'
os.environ["PYTEST_ADDOPTS"] = INNER_RUN_OPTIONS  # pytest runs the stress runner starts


@pytest.fixture(autouse=True)
def _inner_runs_as_configured(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    if "pytester" in request.fixturenames:
        request.getfixturevalue("pytester")  # it clears PYTEST_ADDOPTS when it starts
        monkeypatch.setenv("PYTEST_ADDOPTS", INNER_RUN_OPTIONS)
