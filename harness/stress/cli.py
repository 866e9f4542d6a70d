"""Command-line entries for stress runs, report merging and the CI gate (DESIGN §7, §8).

``harness.cli`` calls :func:`add_commands` to add the sub-commands and
dispatches ``args.command`` through :data:`COMMANDS`:

* ``harness stress [--scenarios NAME ...] [--stores VARIANT ...] [--runs N]
  [--workers N|auto] [--mode sim|real|both] [--shard I/N] [--out DIR]
  [--seed S] [--strategy random|pct] [--timeout SECONDS] [--tx SPEC ...]``
  — exit 0 when the run completes (rates are the gate's business), 1 when
  the pytest session could not run the plan (its log is named), 130 after
  Ctrl-C (partial report written), 2 on bad input;
* ``harness report merge A.json B.json ... [--out DIR]`` — exit 0, or 2 for
  an unreadable report or incompatible schemas;
* ``harness gate REPORT.json --max-rate R [--confidence C] [--strict]`` —
  exit 0 pass, 1 fail, 2 for bad input, which includes a report that
  measured nothing (no cells, or no runs at all): a stress job that measured
  nothing must not pass CI.

Bad input raises :class:`harness.cli.UsageError` (one line, exit 2).

``--tx`` gateways are passed to pytest-xdist as they are. A remote worker
must have harness installed and must see the plan at the same absolute path
as the controller (``OUT/.harness-stress/``: a shared file system); a worker
that cannot read it fails collection, and pytest-xdist reports that. For
separate machines without a shared file system, prefer ``--shard I/N`` per
machine and ``harness report merge``.
"""

from __future__ import annotations

import argparse
import os
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from ..cli import int_at_least

DEFAULT_RUNS = 100
"""Runs per cell of a bare ``harness stress``: all 30 cells in about a minute on 2 cores."""
DEFAULT_TIMEOUT = 60.0
STORES = ("original", "naive-fix", "reference")


def _usage(message: str) -> Exception:
    from ..cli import UsageError

    return UsageError(message)


_positive_int = int_at_least(1)
_seed = int_at_least(0)


def _workers(text: str) -> int:
    if text == "auto":
        return available_cpus()
    try:
        return _seed(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected a number of workers or 'auto', got {text!r}"
        ) from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _shard(text: str) -> tuple[int, int]:
    from ._spec import parse_shard

    try:
        return parse_shard(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _rate(text: str) -> float:
    """A rate in [0, 1]: ``0.01`` or ``1%``."""
    raw = text.strip()
    scale = 100.0 if raw.endswith("%") else 1.0
    try:
        value = float(raw.rstrip("%").strip()) / scale
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(
            f"expected a rate between 0 and 1 (or 0-100 %), got {text!r}"
        )
    return value


def _confidence(text: str) -> float:
    value = _rate(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(
            f"expected a confidence strictly between 0 and 1, got {text!r}"
        )
    return value


def available_cpus() -> int:
    """CPUs this process may run on (``--workers auto``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def add_commands(sub: Any) -> None:
    """Add ``stress``, ``report`` and ``gate`` to the ``harness`` sub-command parsers."""
    st = sub.add_parser(
        "stress",
        help="flake-rate report: scenarios x stores x modes, N runs each",
        description="Run every chosen scenario x store variant x mode N times across "
        "pytest-xdist workers; write report.json, report.md and report.html. Exit 0 when "
        "the run completes (use 'harness gate' to judge the rates).",
    )
    st.add_argument("--scenarios", nargs="+", metavar="NAME", help="default: all (harness list)")
    st.add_argument(
        "--stores", nargs="+", metavar="VARIANT", choices=STORES, help="default: all three"
    )
    st.add_argument(
        "--runs", type=_positive_int, default=DEFAULT_RUNS, metavar="N",
        help=f"runs per cell (default: {DEFAULT_RUNS})",
    )  # fmt: skip
    st.add_argument(
        "--workers", type=_workers, default=None, metavar="N|auto",
        help="local worker processes (default: auto = one per CPU; 0 local with --tx)",
    )  # fmt: skip
    st.add_argument("--mode", choices=("sim", "real", "both"), default="both")
    st.add_argument(
        "--shard", type=_shard, default=None, metavar="I/N",
        help="run only shard I of N (merge the shards with 'harness report merge')",
    )  # fmt: skip
    st.add_argument("--out", default="reports", metavar="DIR", help="default: reports")
    st.add_argument("--seed", type=_seed, default=0, metavar="S", help="base seed (default: 0)")
    st.add_argument("--strategy", choices=("random", "pct"), default="pct")
    st.add_argument(
        "--timeout", type=_seconds, default=DEFAULT_TIMEOUT, metavar="SECONDS",
        help=f"per-run timeout; a run past it counts as failed (default: {DEFAULT_TIMEOUT:g})",
    )  # fmt: skip
    st.add_argument(
        "--tx", action="append", default=[], metavar="SPEC",
        help="extra pytest-xdist gateway, e.g. ssh=host//python=python3 (repeatable)",
    )  # fmt: skip

    rp = sub.add_parser(
        "report", help="work with flake-rate reports", description="Work with reports."
    )
    actions = rp.add_subparsers(dest="action", metavar="ACTION", parser_class=type(rp))
    merge = actions.add_parser(
        "merge",
        help="merge shards into one report",
        description="Merge reports of shards or machines (same schema) into one report.",
    )
    merge.add_argument("reports", nargs="+", metavar="REPORT.json")
    merge.add_argument("--out", default="reports", metavar="DIR", help="default: reports")

    gt = sub.add_parser(
        "gate",
        help="CI gate on a report's flake rates",
        description="Judge every cell by its Wilson interval: fail when the lower bound is "
        "above --max-rate, unproven when only the upper bound is. Exit 0 pass, 1 fail.",
    )
    gt.add_argument("report", metavar="REPORT.json")
    gt.add_argument(
        "--max-rate", type=_rate, required=True, metavar="R", help="e.g. 0.001 or 0.1%%"
    )
    gt.add_argument("--confidence", type=_confidence, default=0.95, metavar="C")
    gt.add_argument("--strict", action="store_true", help="unproven cells fail too")
    gt.add_argument(
        "--cells",
        nargs="+",
        metavar="GLOB",
        help="judge only cells whose NAME/STORE/MODE matches a glob, e.g. '*/reference/*' "
        "(a scenario report also holds the deliberately buggy variants)",
    )


def _command_line(args: argparse.Namespace, names: list[str], stores: list[str]) -> str:
    """The canonical command that repeats this run."""
    parts = ["harness", "stress", "--scenarios", *names, "--stores", *stores]
    parts += ["--runs", str(args.runs), "--mode", args.mode, "--seed", str(args.seed)]
    parts += ["--strategy", args.strategy, "--timeout", f"{args.timeout:g}"]
    if args.workers is not None:
        parts += ["--workers", str(args.workers)]
    if args.shard:
        parts += ["--shard", f"{args.shard[0]}/{args.shard[1]}"]
    for tx in args.tx:
        parts += ["--tx", tx]
    parts += ["--out", args.out]
    return shlex.join(parts)


def cmd_stress(args: argparse.Namespace, out: TextIO) -> int:
    from harness import scenarios

    from ._controller import StressOptions, run_stress
    from ._summary import summary

    names = list(dict.fromkeys(args.scenarios or scenarios.REGISTRY))
    for name in names:
        if name not in scenarios.REGISTRY:
            raise _usage(f"unknown scenario {name!r} (known: {', '.join(scenarios.REGISTRY)})")
    stores = list(dict.fromkeys(args.stores or STORES))
    modes = ["sim", "real"] if args.mode == "both" else [args.mode]
    workers = args.workers
    if workers is None and not args.tx:
        workers = available_cpus()
    if workers == 0 and not args.tx:
        raise _usage("--workers 0 needs at least one --tx gateway")
    if workers == 0:
        workers = None
    options = StressOptions(
        scenarios=names,
        stores=stores,
        modes=modes,
        runs=args.runs,
        workers=workers,
        out=Path(args.out),
        seed=args.seed,
        strategy=args.strategy,
        timeout=args.timeout,
        shard=args.shard,
        tx=list(args.tx),
        command=_command_line(args, names, stores),
    )
    outcome = run_stress(options)
    report = outcome.report
    print(summary(report.cells), file=out)
    example = next((c for c in report.cells if c.example), None)
    if example is not None and example.example is not None:
        print(f"\nfirst failure ({example.name}/{example.store}/{example.mode}):", file=out)
        print(f"  {example.example.get('error', '')}", file=out)
        print(f"  {example.example.get('command', '')}", file=out)
    for line in outcome.warnings:
        print(f"warning: {line}", file=out)
    if outcome.interrupted:
        print("interrupted: the report holds what was measured so far", file=out)
    print(f"\nwall time {outcome.wall_time:.1f} s", file=out)
    for kind, path in outcome.paths.items():
        print(f"{kind:<8} {path}", file=out)
    if outcome.interrupted:
        return 130
    return 0 if outcome.completed else 1


def _load(path: str) -> Any:
    from ..report import ReportError, load

    try:
        return load(path)
    except ReportError as exc:
        raise _usage(str(exc)) from None


def cmd_report(args: argparse.Namespace, out: TextIO) -> int:
    from ..report import ReportError, merge, write_reports

    if args.action != "merge":
        raise _usage("missing action (try 'harness report merge A.json B.json --out DIR')")
    reports = [_load(p) for p in args.reports]
    try:
        merged = merge(reports)
    except ReportError as exc:
        raise _usage(str(exc)) from None
    paths = write_reports(merged, args.out)
    runs = sum(c.runs for c in merged.cells)
    print(f"merged {len(reports)} reports: {len(merged.cells)} cells, {runs:,} runs", file=out)
    for kind, path in paths.items():
        print(f"{kind:<8} {path}", file=out)
    return 0


def cmd_gate(args: argparse.Namespace, out: TextIO) -> int:
    from ..report import gate

    report = _load(args.report)
    if args.cells:
        import dataclasses
        import fnmatch

        chosen = [
            c
            for c in report.cells
            if any(fnmatch.fnmatchcase("/".join(c.key), glob) for glob in args.cells)
        ]
        if not chosen:
            raise _usage(f"no cell of {args.report} matches {' '.join(args.cells)}")
        report = dataclasses.replace(report, cells=chosen)
    if not report.cells:
        raise _usage(f"{args.report} has no cells: a report that measured nothing cannot pass")
    if sum(c.runs for c in report.cells) == 0:
        raise _usage(
            f"{args.report} has no runs at all: a report that measured nothing cannot pass"
        )
    result = gate(report, args.max_rate, args.confidence, args.strict)
    print(result.render(), file=out)
    return 0 if result.passed else 1


COMMANDS: dict[str, Callable[[argparse.Namespace, TextIO], int]] = {
    "stress": cmd_stress,
    "report": cmd_report,
    "gate": cmd_gate,
}
