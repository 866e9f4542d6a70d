"""What a passing harness test says about itself: how many schedules, what was proven.

Each passing harness test carries a one-line summary in its call report's
``user_properties`` as ``("harness_summary", text)``, e.g. ``200 schedules
(pct), 187 distinct: no failure`` or ``exhausted: all 6 schedules within 2
deviations pass``. It travels with the report (through pytest-xdist, into
``--junitxml``) and is shown

* in a ``harness`` section after the tests, one line per passing harness test
  (``node id: summary``), at the default verbosity and with ``-v`` (``-q``
  leaves it out; the test's own status word stays ``PASSED``, so the short
  summary and tools that parse it are unchanged);
* with ``-rP``, as the ``Captured harness call`` section (the long form, with
  the mode, the test seed and why the exploration stopped).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .._explore import ExploreResult

KEY = "harness_summary"


def explored(result: ExploreResult, strategy: object, mode: str, seed: int) -> tuple[str, str]:
    """The (long, short) summary of a passing exploration."""
    where = "" if mode == "fifo" else f", mode {mode}"
    long = (
        f"{result.schedules_run} schedules ({result.strategy}, mode {mode}, test seed {seed}), "
        f"{result.distinct_schedules} distinct: no failure; {result.stop_reason.value}"
    )
    bound = getattr(strategy, "bound", None)
    within = f" within {bound} deviations" if isinstance(bound, int) else ""
    if result.exhausted and result.proved_complete:
        short = (
            f"exhausted: every schedule passes ({result.schedules_run} run: each order of "
            "steps that commute once)"
        )
        if mode != "fifo":
            short += f" (mode {mode})"
    elif result.exhausted:
        short = f"exhausted: all {result.schedules_run} schedules{within} pass"
        if mode != "fifo":
            short += f" (mode {mode})"
    else:
        short = (
            f"{result.schedules_run} schedules ({result.strategy}{where}), "
            f"{result.distinct_schedules} distinct: no failure"
        )
        if within:
            short += f" (budget spent before every schedule{within} ran)"
    return long, short


def short_summary(report: pytest.TestReport) -> str | None:
    for key, value in report.user_properties:
        if key == KEY and isinstance(value, str):
            return value
    return None


class SummaryReporter:
    """Shows the summaries (see the module docstring); registered by the plugin."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.lines: list[str] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" and report.passed and not hasattr(report, "wasxfail"):
            text = short_summary(report)
            if text is not None:
                self.lines.append(f"{report.nodeid}: {text}")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.lines or hasattr(self.config, "workerinput"):
            return
        if self.config.get_verbosity() < 0:  # -q
            return
        terminalreporter.write_sep("-", "harness")
        for line in self.lines:
            terminalreporter.write_line(line)
