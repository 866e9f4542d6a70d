"""Command-line entries for stress runs, report merging and the CI gate (DESIGN §7, §8).

``harness.cli`` calls :func:`add_commands` to add the sub-commands and
dispatches ``args.command`` through :data:`COMMANDS`. Every option's
default and every exit status is in the commands' ``--help``
(:data:`STRESS_EXIT`, :data:`MERGE_EXIT`, :data:`GATE_EXIT`). Bad input
raises :class:`harness.cli.UsageError` (one line, exit 2) before anything
runs — including an output directory that cannot be written.

``--tx`` gateways are pytest-xdist's (``socket=HOST:PORT``, ``ssh=HOST``,
``N*SPEC``); the plan is sent to them as data, so a remote machine needs
only harness installed (the same version) — no shared file system, no
rsync roots.
"""

from __future__ import annotations

import argparse
import dataclasses
import fnmatch
import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from .._args import int_at_least

DEFAULT_RUNS = 100
"""Runs per cell of a bare ``harness stress``: all 30 cells in about a minute on 2 cores."""
DEFAULT_TIMEOUT = 60.0
DEFAULT_CONFIDENCE = 0.95
WORKERS_PER_CPU = 8
"""``--workers`` at most this many per CPU (at least 16): more only thrash."""
STORES = ("original", "naive-fix", "reference")
STRESS_EXIT = """exit status:
  0    every planned run was measured and the report written (judge it with 'harness gate')
  1    the run could not measure: no run ended, or planned runs never ran (see the warnings)
  2    bad input (unknown scenario, bad option, unusable --out); nothing ran
  129, 130, 143
       interrupted by SIGHUP, SIGINT or SIGTERM: the partial report (marked interrupted,
       with what never ran) was written"""
MERGE_EXIT = """exit status:
  0    merged and written
  2    bad input: an unreadable report, reports of different plans, a shard given twice,
       overlapping shards, a report without a plan (schema 1) — unless --force"""
GATE_EXIT = """exit status:
  0    the gate passed
  1    the gate failed: a simulated cell has a confirmed failing (or crashed) schedule, a real
       cell's flake rate is proven above --max-rate, or (--strict) a cell is unproven
  2    bad input, or a report that cannot be judged as a whole: interrupted, a cell with runs
       that never ran, one shard of a sharded plan, a merge forced with --force
       (--allow-partial judges what is there), or a report that measured nothing"""


def _usage(message: str) -> Exception:
    from .._args import UsageError

    return UsageError(message)


_positive_int = int_at_least(1)
_seed = int_at_least(0)


def available_cpus() -> int:
    """CPUs this process may run on (``--workers auto``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def max_workers() -> int:
    return max(16, WORKERS_PER_CPU * available_cpus())


def _workers(text: str) -> int:
    if text == "auto":
        return available_cpus()
    try:
        value = _seed(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected a number of workers or 'auto', got {text!r}"
        ) from None
    if value > max_workers():
        raise argparse.ArgumentTypeError(
            f"{value} workers is too many for this machine ({available_cpus()} CPUs: at most "
            f"{max_workers()}); use --tx for other machines"
        )
    return value


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


def _tx(text: str) -> str:
    """A pytest-xdist gateway spec: ``[N*]popen|ssh=HOST|socket=HOST:PORT[//key=value...]``."""
    import execnet

    head, star, rest = text.partition("*")
    spec = rest if star and head.isdigit() else text
    try:
        parsed = execnet.XSpec(spec)
    except Exception:
        parsed = None
    kinds = ("popen", "ssh", "socket", "vagrant_ssh")
    if parsed is None or not any(getattr(parsed, k, None) for k in kinds):
        raise argparse.ArgumentTypeError(
            f"expected a gateway like socket=HOST:PORT, ssh=HOST or 2*popen, got {text!r}"
        )
    socket = getattr(parsed, "socket", None)
    if socket and not socket.rpartition(":")[2].isdigit():
        raise argparse.ArgumentTypeError(f"socket= needs HOST:PORT, got {text!r}")
    return text


def _expand_tx(specs: list[str]) -> list[str]:
    """``2*ssh=h`` -> two gateways (what pytest-xdist does with ``--tx``)."""
    out = []
    for spec in specs:
        head, star, rest = spec.partition("*")
        out += [rest] * int(head) if star and head.isdigit() else [spec]
    return out


def add_commands(sub: Any) -> None:
    """Add ``stress``, ``report`` and ``gate`` to the ``harness`` sub-command parsers."""
    _add_stress(sub)
    _add_report(sub)
    _add_gate(sub)


def _add_stress(sub: Any) -> None:
    st = sub.add_parser(
        "stress",
        help="flake-rate report: scenarios x stores x modes, N runs each",
        description="Run every chosen scenario x store variant x mode N times across "
        "pytest-xdist workers (local processes and --tx gateways); write report.json, "
        "report.md and report.html. Every planned run ends as passed, failed, crashed, "
        "timed out or never ran. Judge the report with 'harness gate'.",
        epilog=STRESS_EXIT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    st.add_argument(
        "--scenarios", nargs="+", metavar="NAME", help="default: all (see 'harness list')"
    )
    st.add_argument(
        "--stores", nargs="+", metavar="VARIANT", choices=STORES,
        help=f"default: all three ({', '.join(STORES)})",
    )  # fmt: skip
    st.add_argument(
        "--runs", type=_positive_int, default=None, metavar="N",
        help=f"runs per cell (default: {DEFAULT_RUNS}); with --until-decided the budget per "
        "cell (default: twice the clean runs that would prove --max-rate)",
    )  # fmt: skip
    st.add_argument(
        "--workers", type=_workers, default=None, metavar="N|auto",
        help="local worker processes (default: auto = one per CPU; 0 with --tx: remote only)",
    )  # fmt: skip
    st.add_argument(
        "--mode", choices=("sim", "real", "both"), default="both",
        help="simulated schedules, real aiosqlite runs, or both (default: both)",
    )  # fmt: skip
    st.add_argument(
        "--shard", type=_shard, default=None, metavar="I/N",
        help="run only shard I of N (default: the whole plan); merge the shards with "
        "'harness report merge'",
    )  # fmt: skip
    st.add_argument("--out", default="reports", metavar="DIR", help="default: reports")
    st.add_argument("--seed", type=_seed, default=0, metavar="S", help="base seed (default: 0)")
    st.add_argument(
        "--strategy", choices=("portfolio", "pct", "random", "pos"), default="portfolio",
        help="strategy of the simulated cells (default: portfolio)",
    )  # fmt: skip
    st.add_argument(
        "--timeout", type=_seconds, default=DEFAULT_TIMEOUT, metavar="SECONDS",
        help="per-run timeout, enforced from outside the worker: a run past it is killed "
        f"with its worker and counts as timed out (default: {DEFAULT_TIMEOUT:g})",
    )  # fmt: skip
    st.add_argument(
        "--tx", action="append", default=[], type=_tx, metavar="SPEC",
        help="a pytest-xdist gateway to run workers on, e.g. socket=HOST:PORT or ssh=HOST "
        "(repeatable; default: none)",
    )  # fmt: skip
    _add_stress_decision(st)


def _add_stress_decision(st: Any) -> None:
    st.add_argument(
        "--until-decided", action="store_true",
        help="run real cells only until the gate's verdict at --max-rate is certain, and "
        "simulated cells until their first failure (default: off: every cell runs --runs)",
    )  # fmt: skip
    st.add_argument(
        "--max-rate", type=_rate, default=None, metavar="R",
        help="the flake rate --until-decided decides against, e.g. 0.001 or 0.1%% (default: "
        "none; required with --until-decided)",
    )  # fmt: skip
    st.add_argument(
        "--confidence", type=_confidence, default=DEFAULT_CONFIDENCE, metavar="C",
        help=f"confidence of --until-decided's verdicts (default: {DEFAULT_CONFIDENCE:g})",
    )  # fmt: skip


def _add_report(sub: Any) -> None:
    rp = sub.add_parser(
        "report",
        help="work with flake-rate reports (merge)",
        description="Work with flake-rate reports.",
        epilog="exit status: as its action's",
    )
    actions = rp.add_subparsers(dest="action", metavar="ACTION", parser_class=type(rp))
    merge = actions.add_parser(
        "merge",
        help="merge the shards of one plan into one report",
        description="Merge the reports of the shards of one plan (--shard 1/N ... N/N, on "
        "CI-matrix jobs or machines) into one report whose counts add up. Refuses reports of "
        "different plans, a shard given twice and overlapping shards.",
        epilog=MERGE_EXIT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    merge.add_argument("reports", nargs="+", metavar="REPORT.json")
    merge.add_argument("--out", default="reports", metavar="DIR", help="default: reports")
    merge.add_argument(
        "--force", action="store_true",
        help="merge even reports that cannot be checked or do not fit together "
        "(default: refuse; the reasons are kept in meta.merge_forced, and 'harness gate' "
        "refuses such a report unless --allow-partial)",
    )  # fmt: skip


def _add_gate(sub: Any) -> None:
    gt = sub.add_parser(
        "gate",
        help="CI gate on a report",
        description="Judge a report. Simulated cells are verdicts: a confirmed failing "
        "schedule fails the gate whatever --max-rate says (its replay command is printed), a "
        "clean one passes and shows its coverage. Real cells are flake rates judged by their "
        "Wilson interval: fail when the lower bound is above --max-rate, unproven when only "
        "the upper bound is. Crashed and timed-out runs count as failures. The verdict is "
        "written into the report (report.json, .md, .html).",
        epilog=GATE_EXIT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    gt.add_argument("report", metavar="REPORT.json")
    gt.add_argument(
        "--max-rate", type=_rate, required=True, metavar="R",
        help="the highest acceptable flake rate of a real cell, e.g. 0.001 or 0.1%% (required)",
    )  # fmt: skip
    gt.add_argument(
        "--confidence", type=_confidence, default=DEFAULT_CONFIDENCE, metavar="C",
        help=f"confidence of the Wilson interval (default: {DEFAULT_CONFIDENCE:g})",
    )  # fmt: skip
    gt.add_argument("--strict", action="store_true", help="unproven cells fail (default: off)")
    gt.add_argument(
        "--allow-crashes", action="store_true",
        help="do not count crashed and timed-out runs as failures (default: they count)",
    )  # fmt: skip
    gt.add_argument(
        "--allow-partial", action="store_true",
        help="judge an interrupted, incomplete or single-shard report as it is (default: "
        "refuse it, exit 2)",
    )  # fmt: skip
    gt.add_argument(
        "--cells", nargs="+", metavar="GLOB",
        help="judge only cells whose NAME/STORE/MODE matches a glob, e.g. '*/reference/*' "
        "(default: every cell; a scenario report also holds the deliberately buggy variants)",
    )  # fmt: skip
    gt.add_argument(
        "--no-write", action="store_true",
        help="do not write the verdict into the report (default: write it)",
    )  # fmt: skip


def _command_line(args: argparse.Namespace, names: list[str], stores: list[str], runs: int) -> str:
    """The canonical command that repeats this run."""
    parts = ["harness", "stress", "--scenarios", *names, "--stores", *stores]
    parts += ["--runs", str(runs), "--mode", args.mode, "--seed", str(args.seed)]
    parts += ["--strategy", args.strategy, "--timeout", f"{args.timeout:g}"]
    if args.workers is not None:
        parts += ["--workers", str(args.workers)]
    if args.shard:
        parts += ["--shard", f"{args.shard[0]}/{args.shard[1]}"]
    for tx in args.tx:
        parts += ["--tx", tx]
    if args.until_decided:
        parts += ["--until-decided", "--max-rate", f"{args.max_rate:g}"]
        parts += ["--confidence", f"{args.confidence:g}"]
    parts += ["--out", args.out]
    return shlex.join(parts)


def _stress_options(args: argparse.Namespace) -> Any:
    from harness import scenarios

    from ._controller import StressOptions
    from ._decide import default_budget

    names = list(dict.fromkeys(args.scenarios or scenarios.REGISTRY))
    for name in names:
        if name not in scenarios.REGISTRY:
            raise _usage(f"unknown scenario {name!r} (known: {', '.join(scenarios.REGISTRY)})")
    stores = list(dict.fromkeys(args.stores or STORES))
    modes = ["sim", "real"] if args.mode == "both" else [args.mode]
    tx = _expand_tx(args.tx)
    workers = args.workers
    if workers is None and not tx:
        workers = available_cpus()
    if workers == 0 and not tx:
        raise _usage("--workers 0 needs at least one --tx gateway")
    if args.until_decided and args.max_rate is None:
        raise _usage("--until-decided needs --max-rate R (the rate to decide against)")
    if args.max_rate is not None and not args.until_decided:
        raise _usage("--max-rate belongs to --until-decided here (or to 'harness gate')")
    if args.until_decided and args.shard:
        raise _usage("--until-decided decides on the whole plan: it cannot run one --shard")
    runs = args.runs
    if runs is None:
        runs = (
            default_budget(args.max_rate, args.confidence) if args.until_decided else DEFAULT_RUNS
        )
    return StressOptions(
        scenarios=names,
        stores=stores,
        modes=modes,
        runs=runs,
        workers=workers or None,
        out=Path(args.out),
        seed=args.seed,
        strategy=args.strategy,
        timeout=args.timeout,
        shard=args.shard,
        tx=tx,
        command=_command_line(args, names, stores, runs),
        until_decided=args.max_rate if args.until_decided else None,
        confidence=args.confidence,
    )


def cmd_stress(args: argparse.Namespace, out: TextIO) -> int:
    from ..report import ReportError
    from ._controller import run_stress
    from ._summary import summary

    options = _stress_options(args)
    try:
        outcome = run_stress(options)
    except ReportError as exc:
        raise _usage(str(exc)) from None
    report = outcome.report
    print(summary(report.cells), file=out)
    example = next((c for c in report.cells if c.failures and c.examples), None)
    if example is not None:
        first = example.examples[0]
        print(f"\nfirst failure ({example.name}/{example.store}/{example.mode}):", file=out)
        print(f"  {first.get('error', '')}: {first.get('message', '')}", file=out)
        if first.get("command"):
            print(f"  {first['command']}", file=out)
    for line in outcome.warnings:
        print(f"warning: {line}", file=out)
    if outcome.interrupted:
        print(
            f"interrupted by {outcome.interrupted_by}: the report holds what was measured; "
            f"{report.never_ran:,} planned run(s) never ran",
            file=out,
        )
    print(f"\nwall time {outcome.wall_time:.1f} s", file=out)
    for kind, path in outcome.paths.items():
        print(f"{kind:<8} {path}", file=out)
    if outcome.status == 1:
        ran = sum(c.runs for c in report.cells)
        reason = (
            "the workers ran nothing"
            if not ran
            else f"{report.never_ran:,} planned run(s) never ran"
        )
        print(f"harness: error: {reason}; the session log: {outcome.log}", file=sys.stderr)
    return outcome.status


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
    from ..report._json import check_out_path

    try:
        check_out_path(args.out)
    except ReportError as exc:
        raise _usage(str(exc)) from None
    reports = [_load(p) for p in args.reports]
    try:
        merged = merge(reports, force=args.force, names=args.reports)
        paths = write_reports(merged, args.out)
    except ReportError as exc:
        raise _usage(str(exc)) from None
    runs = sum(c.runs for c in merged.cells)
    shard = merged.plan.shard if merged.plan is not None else None
    held = "" if shard is None else f" (shards {shard['indices']} of {shard['count']})"
    print(
        f"merged {len(reports)} reports{held}: {len(merged.cells)} cells, "
        f"{runs:,} of {merged.planned:,} planned runs",
        file=out,
    )
    for line in merged.meta.get("merge_forced", []):
        print(f"warning: forced: {line}", file=out)
    for kind, path in paths.items():
        print(f"{kind:<8} {path}", file=out)
    return 0


def cmd_gate(args: argparse.Namespace, out: TextIO) -> int:
    from ..report import PartialReport, ReportError, gate
    from ..report.write import write_beside

    report = _load(args.report)
    judged = report
    if args.cells:
        chosen = [
            c
            for c in report.cells
            if any(fnmatch.fnmatchcase("/".join(c.key), glob) for glob in args.cells)
        ]
        if not chosen:
            raise _usage(f"no cell of {args.report} matches {' '.join(args.cells)}")
        judged = dataclasses.replace(report, cells=chosen)
    if not judged.cells:
        raise _usage(f"{args.report} has no cells: a report that measured nothing cannot pass")
    if sum(c.runs for c in judged.cells) == 0:
        raise _usage(
            f"{args.report} has no runs at all: a report that measured nothing cannot pass"
        )
    try:
        result = gate(
            judged,
            args.max_rate,
            args.confidence,
            args.strict,
            allow_crashes=args.allow_crashes,
            allow_partial=args.allow_partial,
        )
    except PartialReport as exc:
        raise _usage(f"{args.report}: {exc}") from None
    print(result.render(), file=out)
    if not args.no_write:
        report.gate = result.to_json()
        if args.cells:
            report.gate["cells_selected"] = list(args.cells)
        try:
            write_beside(report, args.report)
        except ReportError as exc:
            print(f"harness: warning: verdict not written into the report: {exc}", file=sys.stderr)
    return 0 if result.passed else 1


COMMANDS: dict[str, Callable[[argparse.Namespace, TextIO], int]] = {
    "stress": cmd_stress,
    "report": cmd_report,
    "gate": cmd_gate,
}
