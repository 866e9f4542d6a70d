"""Linearizability checker throughput (harness.linearizability), as measured in one run.

    python -m benchmarks.linearizability     # or: python -m benchmarks.run --only linearizability
    python -m benchmarks.linearizability --quick

(a) histories/s for 3 actors x 5 operations and 5 actors x 10 operations on a
    key-value model (put/get/incr on 3 keys): linearizable histories recorded
    from a shadow model (results taken when each operation returns), the same
    with 10 % of outcomes unknown (timeouts), and with one result corrupted
    (not linearizable: the search must exhaust its space to say so); each with
    the model's partition (P-compositionality) and without it (one part).
(b) the worst case we can construct: n overlapping ``add(i)`` on a set (the
    state after any subset differs, so memoisation cannot merge orders) and a
    final read that contradicts every order; search nodes and seconds as n grows.
(c) the share of a schedule spent checking, on the reference store: generated
    scenarios explored under PCT, each recorded history re-checked and timed.

Numbers depend on the machine; what matters is the ratio in (c) and how (b) grows.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

from harness import linearizability as lin

wall = time.perf_counter
KEYS = ("x", "y", "z")


class KV:
    def __init__(self) -> None:
        self.data: dict[str, int] = {}

    def put(self, key: str, value: int) -> None:
        self.data[key] = value

    def get(self, key: str) -> int | None:
        return self.data.get(key)

    def incr(self, key: str) -> int:
        self.data[key] = self.data.get(key, 0) + 1
        return self.data[key]

    def key(self) -> Any:
        return tuple(sorted(self.data.items()))

    def copy(self) -> KV:
        new = KV.__new__(KV)
        new.data = dict(self.data)
        return new

    def partition(self, op: str, key: str, *args: Any) -> str:
        return key


class WholeKV(KV):
    partition = None  # type: ignore[assignment]


def recorded(
    rng: random.Random, actors: int, ops: int, *, unknown: float = 0.0, corrupt: bool = False
) -> lin.History:
    """A concurrent history of ``actors`` x ``ops`` calls, results from a shadow model."""
    recorder = lin.Recorder()
    shadow = KV()
    left = {a: ops for a in range(actors)}
    busy: dict[int, tuple[int, str, tuple[Any, ...]]] = {}
    while left or busy:
        actor = rng.choice(sorted(set(left) | set(busy)))
        if actor in busy and (actor not in left or rng.random() < 0.5):
            op_id, op, args = busy.pop(actor)
            value = getattr(shadow, op)(*args)  # linearized at its return
            if rng.random() < unknown:
                recorder.timed_out(op_id)
            else:
                recorder.returned(op_id, value)
        elif actor in left and actor not in busy:
            op = rng.choice(("put", "get", "incr"))
            key = rng.choice(KEYS)
            args = (key, rng.randrange(3)) if op == "put" else (key,)
            busy[actor] = (recorder.invoke(f"actor {actor}", op, *args), op, args)
            left[actor] -= 1
            if not left[actor]:
                del left[actor]
    if corrupt:  # a final read of an impossible value
        recorder.returned(recorder.invoke("main", "get", "x"), 99)
    return recorder.history()


def _rate(histories: list[lin.History], model: Any, expect: bool) -> dict[str, float]:
    started = wall()
    nodes = 0
    for h in histories:
        verdict = lin.check_history(h, model)
        assert verdict.ok is expect, "the benchmark's histories are not what it thinks"
        nodes += verdict.nodes
    spent = wall() - started
    return {
        "histories_per_s": len(histories) / spent,
        "ms_per_history": 1e3 * spent / len(histories),
        "nodes_per_history": nodes / len(histories),
    }


def bench_throughput(quick: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for actors, ops, count in ((3, 5, 300 if quick else 2000), (5, 10, 40 if quick else 300)):
        rng = random.Random(actors * 100 + ops)
        cases = {
            "linearizable": ([recorded(rng, actors, ops) for _ in range(count)], True),
            "10% unknown": (
                [recorded(rng, actors, ops, unknown=0.1) for _ in range(count)],
                True,
            ),
            "not linearizable": (
                [recorded(rng, actors, ops, corrupt=True) for _ in range(count)],
                False,
            ),
        }
        for case, (histories, expect) in cases.items():
            for model, label in ((KV, "partitioned"), (WholeKV, "one part")):
                out[f"{actors}x{ops} {case}, {label}"] = _rate(histories, model, expect)
    return out


class Set:
    def __init__(self) -> None:
        self.items: frozenset[int] = frozenset()

    def add(self, item: int) -> None:
        self.items = self.items | {item}

    def size(self) -> int:
        return len(self.items)

    def key(self) -> Any:
        return self.items

    def copy(self) -> Set:
        new = Set()
        new.items = self.items
        return new


def worst_case(n: int) -> lin.History:
    """n overlapping adds, then a read of a size no order gives: every subset is a state."""
    recorder = lin.Recorder()
    ids = [recorder.invoke(f"actor {i}", "add", i) for i in range(n)]
    for op_id in ids:
        recorder.returned(op_id)
    recorder.returned(recorder.invoke("main", "size"), n + 1)
    return recorder.history()


def bench_worst_case(quick: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for n in (6, 8, 10) if quick else (6, 8, 10, 12, 14):
        history = worst_case(n)
        started = wall()
        verdict = lin.check_history(history, Set)
        spent = wall() - started
        assert verdict.ok is False
        out[f"{n} overlapping adds"] = {"nodes": verdict.nodes, "seconds": spent}
    return out


def bench_share_of_schedule(quick: bool) -> dict[str, Any]:
    from hypothesis import HealthCheck, Phase, find, settings
    from hypothesis.errors import NoSuchExample

    from harness.reference_store.model import SPEC

    drawn: list[lin.Scenario] = []

    def collect(scenario: lin.Scenario) -> bool:
        drawn.append(scenario)
        return False

    count = 10 if quick else 40
    try:
        find(
            lin.scenarios(SPEC, actors=3, calls=(1, 4)),
            collect,
            settings=settings(
                max_examples=count,
                database=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            ),
            random=random.Random(0),
        )
    except NoSuchExample:
        pass
    explore_seconds = check_seconds = 0.0
    histories = operations = 0
    for scenario in drawn:
        result = lin.explore_one(SPEC, scenario, schedules=10, strategy="pct", shrink=False)
        assert not result.failed, result.report
        assert result.outcome is not None
        explore_seconds += result.outcome.explored.explore_seconds
        for history in result.outcome.program.histories:
            started = wall()
            lin.check_history(history, SPEC.model)
            check_seconds += wall() - started
            histories += 1
            operations += len(history)
    return {
        "scenarios": len(drawn),
        "histories": histories,
        "operations_per_history": operations / max(histories, 1),
        "schedule_ms": 1e3 * explore_seconds / max(histories, 1),
        "check_ms": 1e3 * check_seconds / max(histories, 1),
        "check_share": check_seconds / explore_seconds if explore_seconds else 0.0,
    }


def bench_linearizability(quick: bool) -> dict[str, Any]:
    """The entry point ``benchmarks.run`` calls."""
    return {
        "throughput": bench_throughput(quick),
        "worst_case": bench_worst_case(quick),
        "reference_store": bench_share_of_schedule(quick),
    }


def table_lines(results: dict[str, Any]) -> list[str]:
    lines = [
        "(f) linearizability checker (histories/s, same run)",
        f"    {'histories':<44} {'hist/s':>9} {'ms/hist':>8} {'nodes':>7}",
    ]
    for name, row in results["throughput"].items():
        lines.append(
            f"    {name:<44} {row['histories_per_s']:>9,.0f} {row['ms_per_history']:>8.2f} "
            f"{row['nodes_per_history']:>7.0f}"
        )
    lines.append("    worst case (no two orders reach one state):")
    for name, row in results["worst_case"].items():
        lines.append(f"      {name:<24} {row['nodes']:>9,} nodes  {row['seconds']:>7.2f} s")
    ref = results["reference_store"]
    lines.append(
        f"    reference store: {ref['histories']} histories of {ref['operations_per_history']:.0f} "
        f"operations; schedule {ref['schedule_ms']:.1f} ms, check {ref['check_ms']:.2f} ms "
        f"({100 * ref['check_share']:.1f} % of the schedule)"
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--out", default=None, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    results = bench_linearizability(args.quick)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print("\n".join(table_lines(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
