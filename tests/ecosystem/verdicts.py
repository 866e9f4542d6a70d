"""Print the ecosystem verdict table: ``python -m tests.ecosystem.verdicts [--full]``.

One row per app: library, app, correct or racy (and the bug), the verdict,
and the schedules it took — for a correct app the schedules that passed per
strategy (``--full``: Exhaustive(bound=2) run to completion where it
completes), for a racy app the schedule at which PCT and random first found
it (``-``: not within the budget).
"""

from __future__ import annotations

import argparse
import sys

import harness
from tests.ecosystem._check import App, Verdict, judge
from tests.ecosystem.apps import APPS


def _row(app: App, verdict: Verdict, full: bool) -> str:
    kind = "correct" if app.bug is None else f"racy ({app.bug})"
    runs = verdict.schedules
    if app.bug is None:
        exhaustive = f"exhaustive {runs.get('exhaustive', 0)}"
        if full and app.exhaustive_cap:
            result = app.explore(schedules=app.exhaustive_cap, strategy=harness.Exhaustive(bound=2))
            exhaustive = f"exhaustive {result.schedules_run}"
            verdict.exhausted = result.exhausted and not result.failed
        exhaustive += " (complete)" if verdict.exhausted else " (budget)"
        found = f"pct {runs.get('pct', 0)}, random {runs.get('random', 0)}, {exhaustive} passed"
    else:
        found = ", ".join(f"{s} {runs[s] or '-'}" for s in ("pct", "random") if s in runs)
    outcome = (
        "pass" if verdict.passed and app.bug is None else "found" if verdict.passed else "FAIL"
    )
    return f"| {app.library} | {app.name} | {kind} | {outcome} | {found} |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="run Exhaustive(bound=2) to the end")
    args = parser.parse_args(argv)
    print("| library | app | kind | verdict | schedules |")
    print("| --- | --- | --- | --- | --- |")
    failed = 0
    for app in APPS:
        verdict = judge(app)
        print(_row(app, verdict, args.full), flush=True)
        if not verdict.passed:
            failed += 1
            print(verdict.detail, file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
