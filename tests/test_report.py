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


def example(n_events: int = 6, text: str = "x") -> dict[str, object]:
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
        "command": "harness replay h1.tok",
        "events": events,
    }


def test_cell_derived_fields_and_validation() -> None:
    c = cell("a", 200, 12, tokens=[f"t{i}" for i in range(15)])
    assert c.rate == 0.06
    assert (c.ci_low, c.ci_high) == wilson(12, 200)
    assert len(c.tokens) == 10
    assert cell("a", 0, 0).rate == 0.0
    with pytest.raises(ReportError, match="exceed"):
        cell("a", 1, 2)
    with pytest.raises(ReportError):
        cell("a", 10, 1, crashed=-1)
    assert issubclass(ReportError, ValueError)


def test_json_round_trip_and_contract(tmp_path: Path) -> None:
    report = Report(
        cells=[
            cell("a", 200, 12, tokens=["h1.a"], errors={"AssertionError": 12}, example=example())
        ],
        meta={"seed": 1},
    )
    data = to_json(report)
    assert data["schema"] == "harness.flake-report/1"
    assert list(data["cells"][0]) == [
        "name", "store", "mode", "runs", "failures", "rate", "ci_low", "ci_high",
        "tokens", "wall_time", "errors", "crashed", "timed_out", "example",
    ]  # fmt: skip
    assert data["cells"][0]["ci_high"] == wilson(12, 200)[1]
    assert from_json(json.loads(json.dumps(data))) == report
    path = tmp_path / "r.json"
    save_json(report, path)
    assert load(path) == report


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
        data["schema"] = "harness.flake-report/2"
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
    elif edit == "negative":
        c["crashed"] = -1
    elif edit == "tokens":
        c["tokens"] = [1]
    elif edit == "errors":
        c["errors"] = {"E": "1"}
    elif edit == "example":
        c["example"] = []
    return data


@pytest.mark.parametrize(
    "edit",
    [
        "not-object", "no-schema", "other-schema", "cells-not-list", "meta-not-object",
        "cell-not-object", "missing-name", "runs-str", "runs-bool", "too-many-failures",
        "negative", "tokens", "errors", "example",
    ],
)  # fmt: skip
def test_from_json_rejects_malformed_input(edit: str) -> None:
    with pytest.raises(ReportError) as info:
        from_json(_mutate(edit))
    assert "\n" not in str(info.value)


def test_load_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ReportError, match=r"bad\.json"):
        load(bad)
    with pytest.raises(ReportError, match=r"missing\.json"):
        load(tmp_path / "missing.json")
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"schema": "other"}', encoding="utf-8")
    with pytest.raises(ReportError, match=r"wrong\.json.*schema"):
        load(wrong)


# ------------------------------------------------------------------ merge
def test_merge_of_shards_equals_single_report() -> None:
    shard1 = Report(
        cells=[
            cell("a", 100, 2, tokens=["t1", "t2"], wall_time=1.5, errors={"E": 2}, crashed=1),
            cell("b", 50, 0, wall_time=0.5),
        ],
        meta={"shard": "1/2", "harness": "0.1.0"},
        created="2024-01-01T00:00:00Z",
    )
    shard2 = Report(
        cells=[
            cell("a", 100, 3, tokens=["t2", "t3"], wall_time=2.0, errors={"E": 1, "F": 2}),
            cell("c", 10, 1, tokens=["t9"], example=example()),
        ],
        meta={"shard": "2/2", "harness": "0.1.0"},
        created="2024-01-02T00:00:00Z",
    )
    merged = merge([shard1, shard2])
    single = [
        cell("a", 200, 5, tokens=["t1", "t2", "t3"], wall_time=3.5, errors={"E": 3, "F": 2},
             crashed=1),
        cell("b", 50, 0, wall_time=0.5),
        cell("c", 10, 1, tokens=["t9"], example=example()),
    ]  # fmt: skip
    assert merged.cells == single
    assert merged.cells[0].ci_high == wilson(5, 200)[1]
    assert merged.meta["merged_from"] == [shard1.meta, shard2.meta]
    assert merged.meta["harness"] == "0.1.0" and "shard" not in merged.meta
    assert merged.created == "2024-01-02T00:00:00Z"
    assert [c.name for c in merge([shard2, shard1]).cells] == ["a", "c", "b"]


def test_merge_is_associative_and_keeps_first_tokens_and_example() -> None:
    first_example, second_example = example(3, "first"), example(3, "second")
    a = Report(cells=[cell("x", 10, 5, tokens=[f"a{i}" for i in range(6)])], meta={"m": 1})
    b = Report(cells=[cell("y", 5, 1, example=first_example), cell("x", 10, 5, tokens=["a0"])])
    c = Report(
        cells=[cell("x", 4, 4, tokens=[f"c{i}" for i in range(6)]),
               cell("y", 1, 1, example=second_example)],
        meta={"m": 2},
    )  # fmt: skip
    left, right = merge([merge([a, b]), c]), merge([a, merge([b, c])])
    assert left == right == merge([a, b, c])
    x = left.cells[0]
    assert x.tokens == [f"a{i}" for i in range(6)] + [f"c{i}" for i in range(4)]
    assert left.cells[1].example == first_example
    assert len(left.meta["merged_from"]) == 3


def test_merge_refuses_mismatched_schemas_and_empty_input() -> None:
    other = Report(cells=[], schema="harness.flake-report/2")
    with pytest.raises(ReportError, match="different schemas"):
        merge([Report(), other])
    with pytest.raises(ReportError):
        merge([])


# ------------------------------------------------------------------- gate
def gate_report() -> Report:
    return Report(
        cells=[
            cell("flaky", 200, 12),  # lower bound 3.5 % > 0.1 %
            cell("unsure", 180, 0),  # upper bound 2.09 % > 0.1 %
            cell("solid", 5000, 0),  # upper bound 0.077 % <= 0.1 %
        ]
    )


def test_gate_verdicts() -> None:
    result = gate(gate_report(), max_rate=0.001)
    assert [v.verdict for v in result.verdicts] == [Verdict.FAIL, Verdict.UNPROVEN, Verdict.PASS]
    assert result.verdicts[1].runs_needed == runs_to_prove(0, 180, 0.001)
    assert result.verdicts[0].runs_needed is None
    assert not result.passed
    assert Verdict.UNPROVEN.value == "unproven"


def test_gate_strict_mode() -> None:
    lenient = gate(Report(cells=[cell("unsure", 180, 0), cell("solid", 5000, 0)]), 0.001)
    strict = gate(Report(cells=[cell("unsure", 180, 0), cell("solid", 5000, 0)]), 0.001, 0.95, True)
    assert lenient.passed and not strict.passed
    assert gate(Report(cells=[cell("solid", 5000, 0)]), 0.001, strict=True).passed
    assert gate(Report(), 0.001, strict=True).passed


def test_gate_render() -> None:
    text = gate(gate_report(), max_rate=0.001).render()
    lines = text.splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("FAIL      flaky/original/sim  12/200 failed, rate 6.0 % [")
    assert lines[0].endswith("] > 0.1 %")
    needed = runs_to_prove(0, 180, 0.001)
    assert lines[1] == (
        f"UNPROVEN  unsure/original/sim  0/180 failed, upper bound 2.09 % > 0.1 %: "
        f"{needed:,} more clean runs would prove it"
    )
    assert lines[2].startswith("PASS      solid/original/sim  0/5,000 failed, upper bound")
    assert lines[3].startswith("gate FAILED: 1 failed, 1 unproven, 1 passed")


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
    cells = [cell("lww", 200, 12, tokens=["h1.tok", "h1.b"], example=example(n_events, text))]
    cells += [cell(f"s{i}|pipe", 100 + i, 0, store="reference") for i in range(n_cells - 2)]
    cells.append(cell("never", 0, 0, mode="real"))
    return Report(cells=cells, meta={"seed": 7, "runs": 200})


def test_markdown() -> None:
    text = render_markdown(sample_report())
    assert "| scenario | store | mode | runs | failures | rate | 95 % CI | replay token |" in text
    assert "```console\nharness replay h1.tok\n```" in text
    assert "AssertionError: lost update" in text
    assert "| lww | original | sim | 200 | 12 | 6.0 % | [" in text
    assert "`h1.tok`" in text
    assert "s0\\|pipe" in text
    assert len(render_markdown(sample_report(30)).splitlines()) < 200
    assert "nothing was measured" in render_markdown(Report())


def test_html_is_self_contained_and_escaped() -> None:
    page = render_html(sample_report(text="<script>alert(1)</script>"))
    assert page.startswith("<!DOCTYPE html>") and page.count("<html") == 1
    assert page.rstrip().endswith("</html>")
    assert "<svg" in page
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert not re.search(r"https?://", page)
    assert not re.search(r"""(src|href)\s*=\s*["']?[a-z]+:""", page, re.IGNORECASE)
    assert "harness replay h1.tok" in page
    assert "<title>step 1 t=0.000s main spawn" in page


def test_html_handles_edge_cases() -> None:
    big = render_html(sample_report(n_events=400))
    assert big.count("<g><title>step ") == 400
    width = max(int(w) for w in re.findall(r'<svg class="swimlane" width="(\d+)"', big))
    assert width > 2000  # wide enough for 400 steps; the page scrolls it
    empty = render_html(Report())
    assert "No cells" in empty and "</html>" in empty
    broken = Report(cells=[cell("odd", 1, 1, example={"events": [1, {"kind": "exec"}], "x": 2})])
    assert "odd/original/sim" in render_html(broken)
    examples = Report(cells=[cell(f"e{i}", 5, 1, example=example(5)) for i in range(5)])
    assert render_html(examples).count('<section class="example">') == 3


def test_write_reports(tmp_path: Path) -> None:
    report = sample_report()
    paths = write_reports(report, tmp_path / "out" / "nested")
    assert sorted(paths) == ["html", "json", "markdown"]
    assert [p.name for p in paths.values()] == ["report.json", "report.md", "report.html"]
    assert load(paths["json"]) == report
    assert paths["markdown"].read_text(encoding="utf-8") == render_markdown(report)


def test_facade_exports() -> None:
    assert set(report_pkg.__all__) == {
        "Cell", "Report", "ReportError", "wilson", "runs_to_prove", "merge", "load",
        "save_json", "to_json", "from_json", "render_markdown", "render_html",
        "write_reports", "gate", "GateResult", "Verdict",
    }  # fmt: skip
    assert all(hasattr(report_pkg, name) for name in report_pkg.__all__)
