"""The ``harness`` command line (DESIGN §7).

Exit codes: 0 success / nothing found; 1 a failure was found (explore,
replay) or the gate failed; 2 bad input — unknown scenario, malformed token,
bad option — always as one line on stderr, never a traceback; 128 + N after
signal N (130 on Ctrl-C; ``harness stress`` writes its partial report
first); 141 when the reader of the output went away (``harness list | head
-1``), quietly. Every command's ``--help`` shows its defaults and its exit
codes.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from time import perf_counter as _wall_clock
from typing import Any, NoReturn, TextIO

from ._args import DEFAULT_STRATEGY, STRATEGY_NAMES
from ._args import Parser as _Parser
from ._args import UsageError as UsageError
from ._args import int_at_least as int_at_least
from ._args import workers as workers_arg

_STRATEGIES = STRATEGY_NAMES


_RAW = argparse.RawDescriptionHelpFormatter
LIST_EXIT = """exit status:
  0    listed
  2    bad input"""
EXPLORE_EXIT = """exit status:
  0    no failure within the budget (or the bounded space was exhausted)
  1    a failure was found: its shrunk timeline is printed, the last line replays it
  2    bad input: unknown scenario, bad option"""
REPLAY_EXIT = """exit status:
  0    the schedule passes (a real-run id: no failure in --runs runs)
  1    it fails
  2    bad input: a malformed or foreign token, a token of another harness or body"""


_positive = int_at_least(1)
_seed = int_at_least(0)


def _bound(text: str) -> int | None:
    """``--bound``: a deviation bound, or ``none`` for the complete search."""
    if text.strip().lower() == "none":
        return None
    try:
        return _seed(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected a non-negative integer or 'none', got {text!r}"
        ) from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="harness",
        description="Deterministic concurrency testing for async "
        "Python code on SQLite: explore interleavings, replay failures, measure "
        "flake rates.",
        epilog="exit status: 0 success, 1 a failure found or the gate failed, 2 bad input, "
        "128+N after signal N; each command's --help has its own",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    sub.add_parser(
        "list",
        help="the bundled scenarios and their store variants",
        description="List the bundled scenarios: source pull request, mode, fault "
        "budget, invariants and store variants.",
        epilog=LIST_EXIT,
        formatter_class=_RAW,
    )

    _add_explore(sub)
    _add_replay(sub)

    from .stress.cli import add_commands

    add_commands(sub)
    return parser


def _add_explore(sub: Any) -> None:
    ex = sub.add_parser(
        "explore",
        help="explore a scenario's schedules; print the first failure",
        description="Explore SCENARIO's schedules. On failure print the shrunk "
        "schedule's timeline; the last line is the command that replays it. "
        "Exit 1 if a failure was found, else 0. Schedules per second exclude the time "
        "spent confirming and shrinking the failure, which is shown apart.",
        epilog=EXPLORE_EXIT,
        formatter_class=_RAW,
    )
    ex.add_argument("scenario", metavar="SCENARIO", help="a name from 'harness list'")
    ex.add_argument(
        "--store",
        default="original",
        choices=("original", "naive-fix", "reference"),
        help="store variant (default: original)",
    )
    ex.add_argument(
        "--strategy",
        default=DEFAULT_STRATEGY,
        choices=_STRATEGIES,
        help=f"scheduling strategy (default: {DEFAULT_STRATEGY})",
    )
    ex.add_argument(
        "--workers",
        type=workers_arg,
        default=None,
        metavar="N|auto",
        help="processes to explore on; the results are those of one process (default: auto, "
        "the CPUs available)",
    )
    ex.add_argument(
        "--schedules",
        type=_positive,
        default=None,
        help="schedule budget (default: the scenario's, 500)",
    )
    ex.add_argument("--seed", type=_seed, default=0, help="exploration seed (default: 0)")
    ex.add_argument(
        "--mode",
        choices=("fifo", "parallel"),
        default=None,
        help="statement ordering (default: the scenario's)",
    )
    ex.add_argument(
        "--bound",
        type=_bound,
        default=2,
        help="deviation bound for --strategy exhaustive (default: 2); 'none': every schedule, "
        "each order of commuting steps once",
    )
    ex.add_argument(
        "--no-shrink", action="store_true", help="report the failure unshrunk (default: shrink)"
    )
    ex.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="print the full timeline, not just the steps that matter (default: off)",
    )


def _add_replay(sub: Any) -> None:
    rp = sub.add_parser(
        "replay",
        help="replay a scenario token; print its timeline",
        description="Replay the schedule a token describes and print its "
        "timeline. Exit 1 if it fails, 0 if it passes. A real-run id from a stress report "
        "(real:NAME/STORE#SEED) re-runs that case on real aiosqlite with that seed: real "
        "threads and timing, so it may pass this time (--runs re-runs it up to N times).",
        epilog=REPLAY_EXIT,
        formatter_class=_RAW,
    )
    rp.add_argument(
        "token",
        metavar="TOKEN",
        help="a token printed by 'harness explore', or a real-run id (real:NAME/STORE#SEED)",
    )
    rp.add_argument(
        "-q", "--quiet", action="store_true", help="print only the verdict (default: off)"
    )
    rp.add_argument(
        "--runs",
        type=_positive,
        default=1,
        metavar="N",
        help="real-run ids: re-run up to N times, stop at the first failure (default: 1)",
    )


def _scenario(name: str) -> Any:
    from harness import scenarios

    try:
        return scenarios.get(name)
    except KeyError as exc:
        raise UsageError(str(exc.args[0])) from None


def cmd_list(args: argparse.Namespace, out: TextIO) -> int:
    from harness import scenarios

    for s in scenarios.REGISTRY.values():
        faults = s.faults
        budget = ", ".join(
            f"{k}={getattr(faults, k)}"
            for k in ("busy", "ioerror", "full", "crash")
            if faults is not None and getattr(faults, k)
        )
        print(f"{s.name:<18} {s.source}", file=out)
        print(f"  {s.summary}", file=out)
        print(
            f"  mode {s.mode}; faults {budget or 'none'}; stores: {', '.join(scenarios.VARIANTS)}",
            file=out,
        )
        for invariant in s.invariants:
            print(f"  - {invariant}", file=out)
        print(file=out)
    return 0


class _Progress:
    """A live count on stderr for long runs (only when stderr is a terminal)."""

    def __init__(self, label: str, total: int, stream: TextIO) -> None:
        self.label = label
        self.total = total
        self.stream = stream
        self.live = stream.isatty()
        self.last = 0.0

    def __call__(self, done: int, failures: int) -> None:
        now = _wall_clock()
        if self.live and (now - self.last > 0.2 or done == self.total):
            self.last = now
            self.stream.write(f"\r{self.label}: {done}/{self.total} schedules, {failures} failing")
            self.stream.flush()

    def close(self) -> None:
        if self.live and self.last:
            self.stream.write("\n")


def cmd_explore(args: argparse.Namespace, out: TextIO) -> int:
    import harness

    from ._excerpt import excerpt

    scenario = _scenario(args.scenario)
    schedules = args.schedules or scenario.schedules
    strategy: Any = args.strategy
    if strategy == "exhaustive":
        strategy = harness.Exhaustive(args.bound)
    options: dict[str, Any] = {
        "strategy": strategy,
        "schedules": schedules,
        "seed": args.seed,
        "shrink": not args.no_shrink,
        "workers": args.workers,
    }
    if args.mode:
        options["mode"] = args.mode
    label = scenario.label(args.store)
    progress = _Progress(f"explore {label}", schedules, sys.stderr)
    print(
        f"exploring {label} ({scenario.source}): strategy {args.strategy}, up to "
        f"{schedules} schedules, seed {args.seed}, mode {options.get('mode', scenario.mode)}",
        file=out,
    )
    try:
        result = scenario.explore(args.store, progress=progress, **options)
    finally:
        progress.close()
    rate = result.schedules_per_second
    if not result.failed:
        print(
            f"no failure in {result.schedules_run} schedules ({result.stop_reason.value}; "
            f"{rate:,.0f} schedules/s)",
            file=out,
        )
        if result.proof is not None:
            print(f"proved: {result.proof}", file=out)
        return 0
    failure = result.failures[0]
    print(
        f"FAILED after {failure.schedule + 1} schedule(s) ({rate:,.0f} schedules/s; "
        f"confirming and shrinking took {result.shrink_seconds:.2f} s): "
        f"{type(failure.error).__name__}: {failure.error}",
        file=out,
    )
    print(
        f"shrunk schedule: {failure.deviations} deviation(s) from the default order, "
        f"{len(failure.faults)} fault(s), {failure.steps} steps",
        file=out,
    )
    print(file=out)
    print(failure.timeline if args.verbose else excerpt(failure.events), file=out)
    print(file=out)
    print(f"harness replay {failure.token}", file=out)
    return 1


def cmd_replay(args: argparse.Namespace, out: TextIO) -> int:
    from harness import scenarios

    from .trace import decode_token

    if args.token.startswith("real:"):
        return _replay_real(args.token, args.runs, out)
    schedule = decode_token(args.token)
    if not schedule.label:
        raise UsageError(
            "this token was recorded from a Python body, not a bundled scenario: "
            "replay it with harness.replay(body, token)"
        )
    name, _, store = schedule.label.partition("/")
    scenario = _scenario(name)
    if store not in scenarios.VARIANTS:
        raise UsageError(f"token names an unknown store {store!r}")
    run = scenario.replay(store, args.token)
    if not args.quiet:
        print(
            f"replaying {schedule.label} ({scenario.source}): mode {schedule.mode}, "
            f"{schedule.deviations} deviation(s)",
            file=out,
        )
        print(run.timeline, file=out)
        print(file=out)
    if run.note:
        print(f"note: {run.note}", file=out)
    if run.error is None:
        print("PASSED: this schedule satisfies every invariant", file=out)
        return 0
    print(f"FAILED: {type(run.error).__name__}: {run.error}", file=out)
    return 1


def _replay_real(token: str, runs: int, out: TextIO) -> int:
    """Re-run a real-mode case (``real:NAME/STORE#SEED``) on real aiosqlite with its seed."""
    from harness import scenarios

    from .stress._tracebacks import describe

    label, _, seed = token.removeprefix("real:").partition("#")
    name, _, store = label.partition("/")
    if not seed.isdigit() or store not in scenarios.VARIANTS:
        raise UsageError(f"malformed real-run id {token!r} (expected real:NAME/STORE#SEED)")
    scenario = _scenario(name)
    print(
        f"re-running {label} on real aiosqlite with seed {seed} (up to {runs} time(s)): real "
        f"threads and real timing, so this is not a deterministic replay",
        file=out,
    )
    for attempt in range(1, runs + 1):
        try:
            scenario.run_real(store, seed=int(seed))
        except Exception as exc:  # the workload's failure, whatever its type
            detail = describe(exc)
            print(f"FAILED (run {attempt}): {detail['error']}: {detail['message']}", file=out)
            for frame in detail["traceback"]:
                print(f"  {frame}", file=out)
            return 1
    print(
        f"PASSED {runs} time(s) (a real-mode failure depends on timing; 'harness explore "
        f"{name} --store {store}' finds its schedule deterministically)",
        file=out,
    )
    return 0


def _commands() -> dict[str, Callable[[argparse.Namespace, TextIO], int]]:
    from .stress.cli import COMMANDS

    return {"list": cmd_list, "explore": cmd_explore, "replay": cmd_replay, **COMMANDS}


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the CLI; return the exit status (see the module docstring)."""
    from ._errors import EscapeError, NondeterminismError, TokenError

    stream = out or sys.stdout
    try:
        args = build_parser().parse_args(argv)
        if args.version:
            from . import __version__

            print(f"harness {__version__}", file=stream)
            return 0
        if not args.command:
            raise UsageError("missing command (try 'harness --help')")
        status = _commands()[args.command](args, stream)
        stream.flush()
        return status
    except BrokenPipeError:
        _silence(stream)
        return 141
    except UsageError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return 2
    except (TokenError, NondeterminismError, EscapeError, ValueError) as exc:
        message = " ".join(str(exc).split())
        print(f"harness: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("harness: interrupted", file=sys.stderr)
        return 130


def _silence(stream: TextIO) -> None:
    """The reader went away: send the rest of the output (and the final flush) nowhere."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def run() -> NoReturn:
    sys.exit(main())
