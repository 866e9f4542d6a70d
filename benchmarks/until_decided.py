"""What ``harness stress --until-decided`` saves against a fixed budget, on the bundled scenarios.

    python -m benchmarks.until_decided            # all 30 cells, R = 5 % (~5 minutes, 2 cores)
    python -m benchmarks.until_decided --quick    # two scenarios
    python -m benchmarks.until_decided --max-rate 0.02

Runs the same plan twice in one process, minutes apart: once with the fixed
budget (every cell ``B`` runs, ``B`` = ``--until-decided``'s default budget
for ``R``) and once with ``--until-decided --max-rate R`` and the same
budget. Reports runs and wall time of both, the share saved, and whether
``harness gate --max-rate R`` gives every cell the same verdict on both
reports. Runs saved are exact counts; wall times are one measurement each on
a shared machine (ratios, not absolutes, are what compare). Writes
``benchmarks/until_decided.json``.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import scenarios
from harness.report import Report, gate
from harness.stress import StressOptions, run_stress
from harness.stress._decide import default_budget
from harness.stress.cli import available_cpus

HERE = Path(__file__).resolve().parent


def _run(names: list[str], budget: int, out: Path, until: float | None) -> tuple[Report, float]:
    options = StressOptions(
        scenarios=names,
        stores=list(scenarios.VARIANTS),
        modes=["sim", "real"],
        runs=budget,
        workers=available_cpus(),
        out=out,
        until_decided=until,
        examples=False,
    )
    started = time.perf_counter()
    outcome = run_stress(options, stderr=io.StringIO())
    return outcome.report, time.perf_counter() - started


def measure(names: list[str], max_rate: float) -> dict[str, Any]:
    budget = default_budget(max_rate, 0.95)
    with tempfile.TemporaryDirectory(prefix="harness-bench-") as tmp:
        fixed, fixed_s = _run(names, budget, Path(tmp, "fixed"), None)
        decided, decided_s = _run(names, budget, Path(tmp, "decided"), max_rate)
    verdicts_fixed = {v.cell.key: v.verdict.value for v in gate(fixed, max_rate).verdicts}
    verdicts_decided = {v.cell.key: v.verdict.value for v in gate(decided, max_rate).verdicts}
    cells = []
    for cell in decided.cells:
        key = cell.key
        cells.append(
            {
                "cell": "/".join(key),
                "fixed_runs": next(c.runs for c in fixed.cells if c.key == key),
                "decided_runs": cell.runs,
                "stopped": cell.stopped,
                "verdict_fixed": verdicts_fixed[key],
                "verdict_decided": verdicts_decided[key],
            }
        )
    fixed_runs = sum(c["fixed_runs"] for c in cells)
    decided_runs = sum(c["decided_runs"] for c in cells)
    real = [c for c in cells if c["cell"].endswith("/real")]
    return {
        "max_rate": max_rate,
        "budget_per_cell": budget,
        "workers": available_cpus(),
        "python": platform.python_version(),
        "fixed": {"runs": fixed_runs, "wall_s": round(fixed_s, 1)},
        "decided": {"runs": decided_runs, "wall_s": round(decided_s, 1)},
        "runs_saved": 1 - decided_runs / fixed_runs,
        "real_runs_saved": 1
        - sum(c["decided_runs"] for c in real) / sum(c["fixed_runs"] for c in real),
        "wall_saved": 1 - decided_s / fixed_s,
        "same_verdicts": sum(c["verdict_fixed"] == c["verdict_decided"] for c in cells),
        "cells": cells,
    }


def table(result: dict[str, Any]) -> str:
    lines = [
        f"--until-decided --max-rate {result['max_rate']:.0%} vs a fixed budget of "
        f"{result['budget_per_cell']} runs per cell ({result['workers']} workers)",
        f"    {'cell':<36}{'fixed':>7}{'decided':>9}  stopped          verdict (fixed/decided)",
    ]
    for c in result["cells"]:
        verdict = c["verdict_fixed"] + ("" if c["verdict_fixed"] == c["verdict_decided"] else
                                        f" / {c['verdict_decided']}")  # fmt: skip
        lines.append(
            f"    {c['cell']:<36}{c['fixed_runs']:>7,}{c['decided_runs']:>9,}  "
            f"{c['stopped'] or '-':<16} {verdict}"
        )
    f, d = result["fixed"], result["decided"]
    lines += [
        f"    runs: {f['runs']:,} fixed, {d['runs']:,} until decided: "
        f"{result['runs_saved']:.0%} saved ({result['real_runs_saved']:.0%} of the real runs)",
        f"    wall time: {f['wall_s']:.1f} s fixed, {d['wall_s']:.1f} s until decided: "
        f"{result['wall_saved']:.0%} saved",
        f"    same gate verdict on {result['same_verdicts']} of {len(result['cells'])} cells",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.until_decided")
    parser.add_argument("--quick", action="store_true", help="two scenarios only")
    parser.add_argument("--max-rate", type=float, default=0.05, help="default: 0.05")
    args = parser.parse_args(argv)
    names = ["metadata-lww", "flush-cursor"] if args.quick else list(scenarios.REGISTRY)
    result = measure(names, args.max_rate)
    (HERE / "until_decided.json").write_text(json.dumps(result, indent=1) + "\n")
    print(table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
