"""The ``--harness-stress-timeout`` option (a pytest plugin of its own, ``pytest11``).

It belongs with ``--harness-stress`` and ``--harness-report`` in the
``harness`` option group; it lives here so that the stress runner owns its
own option. Importing this module imports nothing but pytest.
"""

from __future__ import annotations

import argparse

import pytest

DEFAULT_TIMEOUT = 60.0


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 86_400:
        raise argparse.ArgumentTypeError(
            f"expected a number of seconds between 0 and 86400, got {text!r}"
        )
    return value


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "harness: deterministic schedules for async SQLite code")
    group.addoption(
        "--harness-stress-timeout",
        type=_seconds,
        metavar="SECONDS",
        help="with --harness-stress: per-run timeout, enforced from outside the worker "
        f"process; a run past it is killed and counts as timed out (default: "
        f"{DEFAULT_TIMEOUT:g})",
    )
