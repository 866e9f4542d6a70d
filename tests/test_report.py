"""Flake-rate reports: statistics, JSON contract, merging, the gate and the renderers."""

from __future__ import annotations

import copy
import json
import math
import re
from pathlib import Path

import pytest

import harness.report as report_pkg
from harness.report import (
    Cell,
    PartialReport,
    Plan,
    Report,
    ReportError,
    Verdict,
    from_json,
    gate,
    load,
    merge,
    render_html,
    render_markdown,
    runs_to_prove,
    save_json,
    to_json,
    wilson,
    write_reports,
)
from harness.report._format import pct

Z95 = 1.959963984540054


def reference_wilson(f: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The textbook closed form, written independently of the implementation."""
    p = f / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    denominator = 1 + z * z / n
    return max(0.0, (centre - spread) / denominator), min(1.0, (centre + spread) / denominator)


# ----------------------------------------------------------------- stats
@pytest.mark.parametrize(("f", "n"), [(0, 10), (1, 10), (5, 100), (0, 180), (50, 50), (3, 1000)])
def test_wilson_matches_reference_formula(f: int, n: int) -> None:
    low, high = wilson(f, n)
    ref_low, ref_high = reference_wilson(f, n)
    assert low == pytest.approx(ref_low, abs=1e-12)
    assert high == pytest.approx(ref_high, abs=1e-12)
    assert 0.0 <= low <= f / n <= high <= 1.0


def test_wilson_published_values() -> None:
    assert round(wilson(0, 180)[1], 4) == 0.0209
    low, high = wilson(1, 10)
    assert (round(low, 4), round(high, 4)) == (0.0179, 0.4042)
    assert wilson(0, 10)[0] == 0.0
    assert wilson(50, 50)[1] == 1.0


def test_wilson_edges_and_validation() -> None:
    assert wilson(0, 0) == (0.0, 1.0)
    narrow, wide = wilson(5, 100, 0.80), wilson(5, 100, 0.99)
    assert wide[0] < narrow[0] and narrow[1] < wide[1]
    for bad in [(-1, 10), (0, -1), (11, 10)]:
        with pytest.raises(ValueError):
            wilson(*bad)
    for confidence in (0.0, 1.0, 1.5, float("nan")):
        with pytest.raises(ValueError, match="confidence"):
            wilson(1, 10, confidence)


@pytest.mark.parametrize(
    ("f", "n", "max_rate", "confidence"),
    [(0, 180, 0.001, 0.95), (0, 0, 0.01, 0.95), (2, 100, 0.01, 0.95), (1, 50, 0.05, 0.99)],
)
def test_runs_to_prove_is_exact(f: int, n: int, max_rate: float, confidence: float) -> None:
    k = runs_to_prove(f, n, max_rate, confidence)
    assert k is not None and k > 0
    assert wilson(f, n + k, confidence)[1] <= max_rate
    assert wilson(f, n + k - 1, confidence)[1] > max_rate


def test_runs_to_prove_known_value_and_edges() -> None:
    # 0 failures: the upper bound is z²/(n+z²), so n >= z²(1/r - 1) solves it.
    needed_total = math.ceil(Z95 * Z95 * (1 / 0.001 - 1))
    assert runs_to_prove(0, 180, 0.001) == needed_total - 180
    assert runs_to_prove(0, 5000, 0.001) == 0
    assert runs_to_prove(3, 10, 1.0) == 0
    assert runs_to_prove(0, 180, 0.0) is None
    assert runs_to_prove(10**6, 10**6, 1e-4) is None
    with pytest.raises(ValueError, match="max_rate"):
        runs_to_prove(0, 10, 1.5)


# ------------------------------------------------------------------ model
def cell(name: str, runs: int, failures: int, **kw: object) -> Cell:
    store = kw.pop("store", "original")
    mode = kw.pop("mode", "sim")
    return Cell(name, str(store), str(mode), runs, failures, **kw)  # type: ignore[arg-type]


def example(n_events: int = 6, text: str = "x", run: int | None = None) -> dict[str, object]:
    actors = ["main", "task-2", "app.db#1", "writer", "sub:chan#1"]
    kinds = ["spawn", "submit", "exec", "deliver", "block", "notify", "recv", "fault", "end"]
    events = [
        {
            "step": i + 1,
            "time": i * 0.01,
            "actor": actors[i % len(actors)],
            "kind": kinds[i % len(kinds)],
            "text": f"{text} {i}",
            "deviation": i % 7 == 3,
        }
        for i in range(n_events)
    ]
    return {
        "token": "h1.tok",
        "error": "AssertionError: lost update",
        "command": "harness replay h2.tok",
        "events": events,
        "run": run,
    }


def test_cell_accounts_for_every_planned_run() -> None:
    c = cell("a", 200, 12, crashed=3, timed_out=1, planned=250, mode="real")
    assert (c.passed, c.failing, c.never_ran, c.kind) == (184, 16, 50, "real")
    assert c.rate == 16 / 200 and (c.ci_low, c.ci_high) == wilson(16, 200)
    assert cell("a", 0, 0).rate == 0.0 and cell("a", 5, 0).planned == 5
    assert cell("a", 5, 0).kind == "simulated" and cell("a", 5, 0, mode="x").kind == "real"
    assert len(cell("a", 1, 0, tokens=[f"t{i}" for i in range(15)]).tokens) == 10
    for bad in (
        {"failures": 2},  # failures > runs
        {"crashed": 1, "failures": 1},  # failing > runs
        {"planned": 0},  # runs > planned
        {"crashed": -1},
        {"kind": "other"},
        {"expected": "maybe"},
        {"stopped": "bored"},
        {"wall_time_s": float("nan")},
        {"errors": {"E": -1}},
    ):
        kw: dict[str, object] = {"failures": 0, **bad}
        failures = int(kw.pop("failures"))  # type: ignore[call-overload]
        with pytest.raises(ReportError):
            cell("a", 1, failures, **kw)
    assert issubclass(ReportError, ValueError)


FULL = Report(
    cells=[
        cell("a", 200, 12, crashed=1, planned=210, errors={"Violation": 12}, expected="fail",
             examples=[example(run=3)], tokens=["h1.tok"], wall_time_s=1.5,
             coverage={"strategy": "pct", "schedules": 200, "distinct": 190, "exhausted": False,
                       "bound": None}),
        cell("a", 50, 2, mode="real", examples=[{"error": "Violation", "seed": 7, "run": 9}]),
    ],
    meta={"seed": 1},
    plan=Plan("abc123", 210, [("a", "original", "sim"), ("a", "original", "real")],
              {"index": 1, "count": 2, "indices": [1]}),
    interrupted=True,
    interrupted_by="SIGTERM",
    gate={"passed": False},
    created="2024-01-01T00:00:00Z",
)  # fmt: skip


def test_json_round_trip_and_the_schema_2_contract(tmp_path: Path) -> None:
    data = to_json(FULL)
    assert data["schema"] == "harness.flake-report/2"
    assert list(data) == [
        "schema", "created", "harness_version", "meta", "plan", "interrupted",
        "interrupted_by", "cells", "gate",
    ]  # fmt: skip
    assert data["plan"] == {
        "id": "abc123", "runs_per_cell": 210,
        "cells": [["a", "original", "sim"], ["a", "original", "real"]],
        "shard": {"index": 1, "count": 2, "indices": [1]},
    }  # fmt: skip
    first = data["cells"][0]
    assert list(first)[:22] == [
        "name", "store", "mode", "kind", "expected", "planned", "runs", "passed", "failures",
        "crashed", "timed_out", "never_ran", "rate", "ci_low", "ci_high", "errors", "tokens",
        "coverage", "examples", "wall_time_s", "stopped",
    ]  # fmt: skip
    assert (first["passed"], first["never_ran"], first["ci_high"]) == (187, 10, wilson(13, 200)[1])
    assert from_json(json.loads(json.dumps(data))) == FULL
    path = tmp_path / "r.json"
    save_json(FULL, path)
    assert load(path) == FULL


def test_derived_fields_are_recomputed_not_trusted() -> None:
    data = to_json(FULL)
    data["cells"][0].update(passed=0, never_ran=999, rate=1.0, ci_low=0.9)
    again = from_json(data)
    assert again.cells[0].passed == 187 and again.cells[0].never_ran == 10


def test_schema_1_reports_are_read_and_mapped() -> None:
    v1 = {
        "schema": "harness.flake-report/1",
        "created": "2024-01-01T00:00:00Z",
        "meta": {"interrupted": True, "wall_time": 3.5, "harness": "0.1.0", "shard": "1/2"},
        "cells": [
            {"name": "x", "store": "original", "mode": "sim", "runs": 10, "failures": 4,
             "timed_out": 1, "crashed": 5, "wall_time": 2.0, "tokens": ["h1.a"],
             "example": {"token": "h1.a", "error": "Violation: lost", "command": "c"}},
            {"name": "y", "store": "-", "mode": "real", "runs": 3, "failures": 0},
        ],
    }  # fmt: skip
    report = from_json(v1)
    x, y = report.cells
    assert (x.runs, x.failures, x.timed_out, x.crashed, x.kind) == (15, 3, 1, 5, "simulated")
    assert x.wall_time_s == 2.0 and x.examples[0]["error"] == "Violation"
    assert x.examples[0]["message"] == "lost" and x.example == x.examples[0]
    assert (y.kind, y.planned, y.never_ran) == ("real", 3, 0)
    assert report.interrupted and report.meta["wall_time_s"] == 3.5 and report.plan is None
    assert to_json(report)["schema"] == "harness.flake-report/2"


def _valid() -> dict[str, object]:
    return to_json(Report(cells=[cell("a", 10, 1)], created="2024-01-01T00:00:00Z"))


def _mutate(edit: str) -> object:
    data = copy.deepcopy(_valid())
    c = data["cells"][0]  # type: ignore[index]
    if edit == "not-object":
        return ["cells"]
    if edit == "no-schema":
        del data["schema"]
    elif edit == "other-schema":
        data["schema"] = "harness.flake-report/3"
    elif edit == "cells-not-list":
        data["cells"] = {}
    elif edit == "meta-not-object":
        data["meta"] = []
    elif edit == "cell-not-object":
        data["cells"] = [1]
    elif edit == "missing-name":
        del c["name"]
    elif edit == "runs-str":
        c["runs"] = "10"
    elif edit == "runs-bool":
        c["runs"] = True
    elif edit == "too-many-failures":
        c["failures"] = 11
    elif edit == "crashes-exceed-runs":
        c["crashed"] = 10
    elif edit == "negative":
        c["crashed"] = -1
    elif edit == "tokens":
        c["tokens"] = [1]
    elif edit == "errors":
        c["errors"] = {"E": "1"}
    elif edit == "examples":
        c["examples"] = [1]
    elif edit == "kind":
        c["kind"] = "guess"
    elif edit == "plan":
        data["plan"] = {"id": "x", "runs_per_cell": 1, "cells": [["a", "b"]], "shard": None}
    elif edit == "shard":
        data["plan"] = {"id": "x", "runs_per_cell": 1, "cells": [], "shard": {"count": 2,
                        "indices": [3]}}  # fmt: skip
    elif edit == "interrupted":
        data["interrupted"] = "yes"
    return data


@pytest.mark.parametrize(
    "edit",
    [
        "not-object", "no-schema", "other-schema", "cells-not-list", "meta-not-object",
        "cell-not-object", "missing-name", "runs-str", "runs-bool", "too-many-failures",
        "crashes-exceed-runs", "negative", "tokens", "errors", "examples", "kind", "plan",
        "shard", "interrupted",
    ],
)  # fmt: skip
def test_from_json_rejects_malformed_input(edit: str) -> None:
    with pytest.raises(ReportError) as info:
        from_json(_mutate(edit))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"schema": "harness.flake-report/2", "cells": [], "x": ' + "1" * 400 + "}", "digits"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"schema": "harness.flake-report/2", "cells": [], "x": NaN}', "NaN"),
        ('{"schema": "harness.flake-report/2", "cells": [], "x": 1e999}', "out of range"),
        ('{"schema": "other"}', "schema"),
    ],
    ids=["garbage", "huge-int", "deep", "nan", "inf", "schema"],
)
def test_load_is_bounded_and_names_the_file(tmp_path: Path, text: str, message: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(ReportError, match=message) as info:
        load(bad)
    assert "bad.json" in str(info.value) and "\n" not in str(info.value)


def test_load_of_a_missing_file_a_directory_or_binary(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match=r"missing\.json"):
        load(tmp_path / "missing.json")
    with pytest.raises(ReportError, match="cannot read"):
        load(tmp_path)
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ReportError, match="UTF-8"):
        load(tmp_path / "bin.json")


# ------------------------------------------------------------------ merge
def shard_report(index: int | None, count: int, cells: list[Cell], plan_id: str = "p1") -> Report:
    shard = None if index is None else {"index": index, "count": count, "indices": [index]}
    keys = [("a", "original", "sim"), ("b", "original", "real"), ("c", "original", "sim")]
    return Report(
        cells=cells,
        meta={"shard": f"{index}/{count}", "harness": "0.1.0"},
        plan=Plan(plan_id, 100, keys, shard),
        created=f"2024-01-0{index or 1}T00:00:00Z",
    )


def test_merge_of_shards_equals_the_whole_plan() -> None:
    s1 = shard_report(1, 2, [
        cell("a", 100, 2, planned=100, errors={"E": 2}, crashed=1, wall_time_s=1.5,
             examples=[example(run=70)], coverage={"strategy": "pct", "schedules": 100,
             "distinct": 90, "exhausted": False, "bound": None}),
        cell("b", 50, 0, mode="real", wall_time_s=0.5),
    ])  # fmt: skip
    s2 = shard_report(2, 2, [
        cell("a", 100, 3, planned=100, errors={"E": 1, "F": 2}, examples=[
             {**example(run=12), "token": "h1.first"}], coverage={"strategy": "pct",
             "schedules": 100, "distinct": 95, "exhausted": False, "bound": None}),
        cell("c", 10, 1, examples=[example()]),
    ])  # fmt: skip
    merged = merge([s1, s2])
    a, b, c = merged.cells
    assert [x.key for x in merged.cells] == [
        ("a", "original", "sim"),
        ("b", "original", "real"),
        ("c", "original", "sim"),
    ]
    assert (a.runs, a.failures, a.crashed, a.planned, a.errors) == (
        200,
        5,
        1,
        200,
        {"E": 3, "F": 2},
    )
    assert a.coverage == {
        "strategy": "pct",
        "schedules": 200,
        "distinct": 185,
        "exhausted": False,
        "bound": None,
    }
    assert [e["run"] for e in a.examples] == [12] and a.tokens == ["h1.first"]
    assert a.wall_time_s == 1.5 and a.ci_high == wilson(6, 200)[1]
    assert (b.runs, c.runs) == (50, 10)
    assert merged.plan is not None and merged.plan.shard is None and merged.plan.id == "p1"
    assert merged.meta["merged_from"] == [s1.meta, s2.meta]
    assert merged.meta["harness"] == "0.1.0" and "shard" not in merged.meta
    assert merged.created == "2024-01-02T00:00:00Z"


def test_merge_is_associative_and_a_partial_merge_says_which_shards_it_holds() -> None:
    parts = [shard_report(i, 3, [cell("a", 10, i, mode="real", examples=[example(run=10 * i)])])
             for i in (1, 2, 3)]  # fmt: skip
    left, right = merge([merge(parts[:2]), parts[2]]), merge([parts[0], merge(parts[1:])])
    assert left == right == merge(parts)
    partial = merge(parts[:2])
    assert partial.plan is not None and partial.plan.partial
    assert partial.plan.shard == {"index": None, "count": 3, "indices": [1, 2]}


@pytest.mark.parametrize(
    ("reports", "message"),
    [
        ([shard_report(1, 2, []), shard_report(1, 2, [])], "shard 1/2 appears twice"),
        ([shard_report(None, 1, []), shard_report(None, 1, [])], "whole plan appears twice"),
        ([shard_report(1, 2, []), shard_report(1, 3, [])], "overlapping shards"),
        ([shard_report(1, 2, []), shard_report(None, 1, [])], "overlapping shards"),
        ([shard_report(1, 2, []), shard_report(2, 2, [], plan_id="p2")], "different plans"),
        ([shard_report(1, 2, []), Report()], "has no plan"),
    ],
    ids=["duplicate-shard", "duplicate-whole", "other-sharding", "shard-and-whole", "mixed",
         "no-plan"],
)  # fmt: skip
def test_merge_refuses_reports_that_do_not_add_up(reports: list[Report], message: str) -> None:
    with pytest.raises(ReportError, match=message) as info:
        merge(reports, names=["a.json", "b.json"])
    assert "--force" in str(info.value) and "\n" not in str(info.value)
    forced = merge(reports, force=True)
    assert forced.meta["merge_forced"] and message.split()[0] in forced.meta["merge_forced"][0]


def test_merging_one_shard_ten_times_is_refused_but_forced_it_adds_up() -> None:
    one = shard_report(1, 2, [cell("a", 50, 0)])
    with pytest.raises(ReportError, match="appears twice"):
        merge([one] * 10)
    forced = merge([one] * 10, force=True)
    assert forced.cells[0].runs == 500
    with pytest.raises(PartialReport, match="merged with --force"):
        gate(forced, 0.5)  # forcing a merge does not make it a sound whole
    with pytest.raises(ReportError):
        merge([])


# ------------------------------------------------------------------- gate
def gate_report() -> Report:
    return Report(
        cells=[
            cell("flaky", 200, 12, mode="real"),  # lower bound 3.5 % > 0.1 %
            cell("unsure", 180, 0, mode="real"),  # upper bound 2.09 % > 0.1 %
            cell("solid", 5000, 0, mode="real"),  # upper bound 0.077 % <= 0.1 %
        ]
    )


def test_gate_judges_real_cells_by_their_wilson_interval() -> None:
    result = gate(gate_report(), max_rate=0.001)
    assert [v.verdict for v in result.verdicts] == [Verdict.FAIL, Verdict.UNPROVEN, Verdict.PASS]
    assert result.verdicts[1].runs_needed == runs_to_prove(0, 180, 0.001)
    assert result.verdicts[0].runs_needed is None
    assert not result.passed
    assert Verdict.UNPROVEN.value == "unproven"


def test_a_confirmed_failing_schedule_fails_whatever_the_max_rate() -> None:
    failing = cell("lww", 10_000, 1, examples=[{"command": "harness replay h2.x", "run": 5}])
    for max_rate in (0.0, 0.5, 1.0):
        result = gate(Report(cells=[failing]), max_rate)
        (v,) = result.verdicts
        assert v.verdict is Verdict.FAIL and v.replay == "harness replay h2.x"
        assert "confirmed failing schedule" in v.reason and not result.passed
    text = gate(Report(cells=[failing]), 1.0).render()
    assert "          replay: harness replay h2.x" in text.splitlines()


def test_a_clean_simulated_cell_passes_and_shows_its_coverage() -> None:
    clean = cell("x", 100, 0, coverage={"strategy": "pct", "schedules": 100, "distinct": 97,
                                         "exhausted": False, "bound": None})  # fmt: skip
    exhausted = cell(
        "y",
        3,
        0,
        planned=3,
        stopped="exhausted",
        coverage={
            "strategy": "exhaustive",
            "schedules": 3,
            "distinct": 3,
            "exhausted": True,
            "bound": 2,
        },
    )
    result = gate(Report(cells=[clean, exhausted]), max_rate=0.0, strict=True)
    assert result.passed and [v.verdict for v in result.verdicts] == [Verdict.PASS] * 2
    assert result.verdicts[0].reason == (
        "no failing schedule in 100 schedules (97 distinct, strategy pct)"
    )
    assert "exhausted within bound 2" in result.verdicts[1].reason
    assert result.verdicts[1].runs_needed is None


def test_crashed_and_timed_out_runs_are_failures_unless_allowed() -> None:
    real = cell("r", 100, 0, crashed=100, mode="real")  # every run crashed
    sim = cell("s", 100, 0, timed_out=1)
    strict = gate(Report(cells=[real, sim]), max_rate=0.05)
    assert [v.verdict for v in strict.verdicts] == [Verdict.FAIL, Verdict.FAIL]
    assert "100 crashed" in strict.verdicts[0].reason and not strict.passed
    lenient = gate(Report(cells=[real, sim]), max_rate=0.05, allow_crashes=True)
    assert [v.verdict for v in lenient.verdicts] == [Verdict.UNPROVEN, Verdict.PASS]
    assert "crashes allowed" in lenient.render()


@pytest.mark.parametrize(
    ("report", "message"),
    [
        (Report(cells=[cell("a", 10, 0)], interrupted=True, interrupted_by="SIGTERM"),
         "interrupted by SIGTERM"),
        (Report(cells=[cell("a", 1, 0, planned=4)]), "1 of 4 planned runs: 3 never ran"),
        (Report(cells=[cell("a", 10, 0)], plan=Plan("p", 10, [], {"index": 1, "count": 2,
                "indices": [1]})), "shard 1/2"),
    ],
    ids=["interrupted", "short-cell", "one-shard"],
)  # fmt: skip
def test_a_partial_report_is_refused_unless_allowed(report: Report, message: str) -> None:
    with pytest.raises(PartialReport, match=message) as info:
        gate(report, 0.5)
    assert "--allow-partial" in str(info.value) and "\n" not in str(info.value)
    assert gate(report, 0.5, allow_partial=True).passed


def test_gate_strict_mode() -> None:
    def real(name: str, runs: int) -> Cell:
        return cell(name, runs, 0, mode="real")

    lenient = gate(Report(cells=[real("unsure", 180), real("solid", 5000)]), 0.001)
    strict = gate(Report(cells=[real("unsure", 180), real("solid", 5000)]), 0.001, 0.95, True)
    assert lenient.passed and not strict.passed
    assert gate(Report(cells=[real("solid", 5000)]), 0.001, strict=True).passed
    assert gate(Report(), 0.001, strict=True).passed


def test_gate_render_and_json() -> None:
    result = gate(gate_report(), max_rate=0.001)
    lines = result.render().splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("FAIL      flaky/original/real  12/200 failing, rate 6.0 % [")
    assert lines[0].endswith("] > 0.1 %")
    needed = runs_to_prove(0, 180, 0.001)
    assert lines[1] == (
        f"UNPROVEN  unsure/original/real  0/180 failing, upper bound 2.09 % > 0.1 %: "
        f"{needed:,} more clean runs would prove it"
    )
    assert lines[2].startswith("PASS      solid/original/real  0/5,000 failing, upper bound")
    assert lines[3].startswith("gate FAILED: 1 failed, 1 unproven, 1 passed")
    data = result.to_json()
    assert (data["max_rate"], data["confidence"], data["passed"]) == (0.001, 0.95, False)
    assert data["cells"][1] == {
        "name": "unsure", "store": "original", "mode": "real", "verdict": "unproven",
        "reason": lines[1][10:].split("  ", 1)[1], "runs_needed": needed, "replay": None,
    }  # fmt: skip


def test_gate_validates_arguments() -> None:
    for max_rate in (-0.1, 1.1):
        with pytest.raises(ValueError, match="max_rate"):
            gate(Report(), max_rate)
    with pytest.raises(ValueError, match="confidence"):
        gate(Report(), 0.01, confidence=1.0)


# ---------------------------------------------------------------- render
def test_pct_precision() -> None:
    assert [pct(r) for r in (0.0, 0.06, 0.020895, 0.001, 0.1024, 1.0, 1e-9)] == [
        "0 %", "6.0 %", "2.09 %", "0.1 %", "10.2 %", "100 %", "<0.0001 %",
    ]  # fmt: skip


def sample_report(n_cells: int = 3, n_events: int = 40, text: str = "x") -> Report:
    cells = [cell("lww", 200, 12, tokens=["h1.tok", "h1.b"], examples=[example(n_events, text)])]
    cells += [cell(f"s{i}|pipe", 100 + i, 0, store="reference") for i in range(n_cells - 2)]
    cells.append(cell("never", 0, 0, mode="real"))
    return Report(cells=cells, meta={"seed": 7, "runs": 200})


def test_html_is_self_contained_and_escaped() -> None:
    page = render_html(sample_report(text="<script>alert(1)</script>"))
    assert page.startswith("<!DOCTYPE html>") and page.count("<html") == 1
    assert page.rstrip().endswith("</html>")
    assert "<svg" in page
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert not re.search(r"https?://", page)
    assert not re.search(r"""(src|href)\s*=\s*["']?[a-z]+:""", page, re.IGNORECASE)
    assert "harness replay h2.tok" in page
    assert "<title>step 1 t=0.000s main spawn" in page


def test_write_reports(tmp_path: Path) -> None:
    report = sample_report()
    paths = write_reports(report, tmp_path / "out" / "nested")
    assert sorted(paths) == ["html", "json", "markdown"]
    assert [p.name for p in paths.values()] == ["report.json", "report.md", "report.html"]
    assert load(paths["json"]) == report
    assert paths["markdown"].read_text(encoding="utf-8") == render_markdown(report)


def test_a_report_that_cannot_be_written_is_saved_elsewhere(tmp_path: Path) -> None:
    report = sample_report()
    (tmp_path / "file").write_text("x")
    (tmp_path / "dir" / "report.json").mkdir(parents=True)
    for out, why in [
        (tmp_path / "file", "is a file"),
        (tmp_path / "file" / "under", "is under the file"),
        (tmp_path / "dir", "is a directory"),
        (Path("/proc/harness-test"), "cannot write"),
    ]:
        with pytest.raises(ReportError, match=why) as info:
            write_reports(report, out)
        message = str(info.value)
        assert "\n" not in message and "the report was saved to " in message
        saved = Path(message.rsplit("the report was saved to ", 1)[1])
        assert load(saved) == report
        saved.unlink()


def test_facade_exports() -> None:
    assert set(report_pkg.__all__) == {
        "Cell", "Plan", "Report", "ReportError", "PartialReport", "wilson", "runs_to_prove",
        "merge", "load", "save_json", "to_json", "from_json", "render_markdown", "render_html",
        "write_reports", "gate", "GateResult", "Verdict",
    }  # fmt: skip
    assert all(hasattr(report_pkg, name) for name in report_pkg.__all__)
