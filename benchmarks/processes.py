"""Benchmarks that start processes: (h) start-up, (i) fresh-process detection vs real runs.

Part of ``python -m benchmarks.run`` (see its docstring); kept apart because
these time whole interpreters and real repetition, not code in this process.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from typing import Any

from harness import scenarios

wall = time.perf_counter


# --------------------------------------------------------------------- (h)
def _harness_cli(*args: str) -> tuple[float, str]:
    started = wall()
    done = subprocess.run(
        [sys.executable, "-m", "harness", *args], capture_output=True, text=True, check=False
    )
    return wall() - started, done.stdout + done.stderr


def _import_microseconds(module: str) -> int:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=True,
    )
    total = 0
    for line in done.stderr.splitlines():  # "import time: self | cumulative | name"
        parts = line.split("|")
        if len(parts) == 3 and not parts[2].startswith("  "):  # top-level imports only
            try:
                total += int(parts[1])
            except ValueError:
                continue
    return total


def bench_startup(quick: bool) -> dict[str, Any]:
    rounds = 3 if quick else 5
    version = [_harness_cli("--version")[0] for _ in range(rounds)]
    explore = []
    shrink = []
    for _ in range(rounds):
        seconds, text = _harness_cli("explore", "metadata-lww", "--seed", "1")
        explore.append(seconds)
        marker = "confirming and shrinking took "
        if marker in text:
            shrink.append(float(text.split(marker, 1)[1].split(" s", 1)[0]))
    return {
        "import_harness_cli_ms": _import_microseconds("harness.cli") / 1e3,
        "import_harness_ms": _import_microseconds("harness") / 1e3,
        "harness_version_s_median": statistics.median(version),
        "explore_metadata_lww_s_median": statistics.median(explore),
        "explore_shrink_s_median": statistics.median(shrink) if shrink else None,
    }


# --------------------------------------------------------------------- (i)
class CpuLoad:
    """One busy process per CPU for at most ``seconds``; each stops by itself."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.procs: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> CpuLoad:
        code = (
            f"import time\nend = time.monotonic() + {self.seconds}\n"
            "while time.monotonic() < end: pass"
        )
        count = os.cpu_count() or 1
        self.procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(count)]
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in self.procs:
            proc.terminate()
            proc.wait()


def _real_until_failure(
    scenario: Any, variant: str, cap: float, first_seed: int
) -> tuple[int, float, bool]:
    runs, started = 0, wall()
    while wall() - started < cap:
        runs += 1
        try:
            scenario.run_real(variant, seed=first_seed + runs)
        except AssertionError:
            return runs, wall() - started, True
    return runs, wall() - started, False


def _spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def bench_fresh(quick: bool) -> dict[str, Any]:
    reps = 3 if quick else 5
    cap = 10.0 if quick else 30.0
    out: dict[str, Any] = {}
    for name, scenario in scenarios.REGISTRY.items():
        for variant in ("original", "naive-fix"):
            runs = [
                _harness_cli("explore", name, "--store", variant, "--seed", str(seed))
                for seed in range(reps)
            ]
            fresh = [seconds for seconds, _ in runs]
            quiet = [_real_until_failure(scenario, variant, cap, 1000 * r) for r in range(reps)]
            with CpuLoad(seconds=reps * cap + 30):
                loaded = [
                    _real_until_failure(scenario, variant, cap, 1000 * r) for r in range(reps)
                ]
            out[f"{name}/{variant}"] = {
                "harness_fresh_s": _spread(fresh),
                "harness_found": sum("FAILED after" in output for _, output in runs),
                "real_quiet_s": _spread([q[1] for q in quiet]),
                "real_quiet_runs": _spread([float(q[0]) for q in quiet]),
                "real_quiet_found": sum(q[2] for q in quiet),
                "real_loaded_s": _spread([q[1] for q in loaded]),
                "real_loaded_runs": _spread([float(q[0]) for q in loaded]),
                "real_loaded_found": sum(q[2] for q in loaded),
                "repetitions": reps,
                "cap_s": cap,
            }
    return out


def cell(spread: dict[str, float], found: int | None = None, reps: int = 0) -> str:
    """``median [min-max]``; ``2/3 ≥…`` when real runs found the bug in only some repetitions."""
    text = f"{spread['median']:.2f} [{spread['min']:.2f}-{spread['max']:.2f}]"
    if found is not None and found < reps:
        text = f"{found}/{reps} ≥{text}"
    return text
