"""The HTML report's content (its layout is measured in Chromium: ``test_report_browser.py``)."""

from __future__ import annotations

import copy
import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from harness.report import Report, render_html, write_reports
from harness.report import _swimlane as swimlane
from harness.report.model import from_json
from tests.report_samples import (
    all_tokens,
    as_report,
    example_count,
    long_events,
    lww_events,
    sample_report,
)


def page(data: dict[str, object]) -> str:
    return render_html(as_report(data))  # type: ignore[arg-type]


def text_of(html: str) -> str:
    """The visible words of ``html``, roughly (tags dropped, entities decoded)."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def section(html: str, start: str, end: str) -> str:
    return html[html.index(start) : html.index(end, html.index(start))]


# ---------------------------------------------------------- self-contained
def test_one_self_contained_file_without_script() -> None:
    data = sample_report(gated=True)
    hostile = "<script>alert(1)</script>"
    data["cells"][0]["examples"][0]["message"] = hostile
    data["cells"][0]["examples"][0]["events"][0]["text"] = hostile
    data["cells"][1]["name"] = hostile
    data["meta"]["note"] = hostile
    html = page(data)
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert html.count("<html") == 1
    assert "<script" not in html.lower() and "javascript:" not in html.lower()
    assert not re.search(r"\son[a-z]+\s*=", html), "no inline event handlers"
    assert not re.search(r"https?://", html)
    assert not re.search(r"""(src|href)\s*=\s*["']?(?!#)[a-z]+:""", html, re.IGNORECASE)
    assert "<link" not in html and "@import" not in html and "url(http" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# -------------------------------------------------------------------- gate
def test_gated_report_shows_the_threshold_and_the_verdict() -> None:
    gated = page(sample_report(gated=True))
    banner = section(gated, 'aria-label="gate verdict"', "</section>")
    assert "Gate FAILED" in banner and "19 fail, 5 unproven, 6 pass" in banner
    assert "max rate 0.1 %, 95 % confidence" in banner
    assert "gate max rate 0.1 %" in gated  # the chart's threshold line
    assert gated.count('class="limit"') == 15  # one per real cell's track
    assert "unproven: 2,995 more clean runs" in gated
    assert "<th>gate</th>" in gated

    passing = sample_report(gated=True)
    passing["gate"]["passed"] = True
    passing["gate"]["strict"] = True
    banner = section(page(passing), 'aria-label="gate verdict"', "</section>")
    assert "Gate passed" in banner and "strict: unproven fails" in banner

    ungated = page(sample_report())
    assert "Gate" not in text_of(ungated) and 'class="limit"' not in ungated


# ---------------------------------------------------------------- examples
def test_every_example_is_on_the_page_the_first_three_open() -> None:
    data = sample_report()
    html = page(data)
    details = re.findall(r'<details class="example" id="example-(\d+)"( open)?>', html)
    assert len(details) == example_count(data) == 22
    assert [n for n, _ in details] == [str(i) for i in range(1, 23)]
    assert [bool(o) for _, o in details] == [True] * 3 + [False] * 19
    # the unexpected failure comes first, then the other cells in report order
    assert re.search(r'id="example-1" open><summary><b>#1 flush-cursor/reference/real', html)
    for cell in data["cells"]:
        for example in cell["examples"]:
            assert example["message"].replace("'", "&#x27;") in html


def test_replay_commands_are_shown_whole_with_every_token() -> None:
    data = sample_report()
    html = page(data)
    for tok in all_tokens(data):
        assert f"<code>{tok}</code>" in html or f"harness replay {tok}" in html
    for cell in data["cells"]:
        if cell["tokens"]:
            row = f'<code class="command">harness replay {cell["tokens"][0]}</code>'
            assert row in html, cell["name"]
    assert "…</code>" not in html  # nothing is cut short inside a code element


# --------------------------------------------------------- cells and rates
def test_simulated_cells_read_as_verdicts_real_cells_as_rates() -> None:
    html = page(sample_report(gated=True))
    simulated = section(html, '<table class="cells sim">', "</table>")
    real = section(html, '<table class="cells real">', "</table>")
    assert "%" not in text_of(simulated), "a simulated cell has no flake rate"
    assert "fails: 20 failing schedules" in simulated
    assert "clean: no failing schedule" in simulated
    assert "100 schedules, 97 distinct" in simulated
    assert "exhausted within 2 deviations (100 schedules)" in simulated
    assert "expected failure" in simulated and "bug not found" in simulated
    assert "21.0\u00a0%" in real and "[14.2\u00a0%, 30.0\u00a0%]" in real
    assert "1 crashed" in real and "1 timed out" in real
    assert "unexpected failure" in real and "not seen" in real
    assert "Violation (21)" in real
    chart = section(html, '<div class="chart"', '<table class="cells real">')
    assert chart.count('<div class="row ') == 15  # every real cell, no simulated one
    assert "metadata-lww/original" in chart and "/sim" not in chart


def test_headline_tells_unexpected_from_expected_failures() -> None:
    data = sample_report()
    header = text_of(section(page(data), "<header>", "</header>"))
    assert "✗ 1 unexpected failure in 30 cells" in header
    assert "18 failed as expected (bundled buggy variants)" in header
    assert "1 expected to fail but no failing schedule was found" in header
    clean = copy.deepcopy(data)
    clean["cells"] = [c for c in clean["cells"] if c["store"] != "reference" or c["kind"] != "real"]
    header = text_of(section(page(clean), "<header>", "</header>"))
    assert "No unexpected failures in 25 cells" in header and "✗" not in header


def test_meta_has_units_and_no_raw_dump_above_the_fold() -> None:
    data = sample_report()
    html = page(data)
    header = section(html, "<header>", "</header>")
    facts = text_of(header)
    assert "wall time 33.9 s" in facts and "per-run timeout 30.0 s" in facts
    assert "runs per cell 100" in facts and "Python 3.11.2" in facts
    assert "33.926" not in facts and "null" not in facts and "None" not in facts
    assert "shard" not in facts  # not sharded: nothing to say
    assert '<table class="meta"' not in header
    everything = section(html, "<h2>Run metadata</h2>", "</details>")
    assert "<details" in everything and "wall time" in everything
    assert "33.9 s" in everything and "null" not in everything
    sharded = copy.deepcopy(data)
    sharded["plan"]["shard"] = {"index": 1, "count": 2}
    sharded["interrupted"], sharded["interrupted_by"] = True, "SIGINT"
    header = text_of(section(page(sharded), "<header>", "</header>"))
    assert "shard 1 of 2" in header and "Shard 1 of 2 : one part of the plan" in header
    assert "Interrupted by SIGINT : a partial report, 3,000 of 3,000 planned runs ended." in header


# -------------------------------------------------------------- swimlanes
def test_every_statement_gets_its_submit_to_exec_arrow() -> None:
    events = swimlane.events_of(lww_events())
    pairs = swimlane.links(events)
    submits = [e for e in events if e.kind == "submit"]
    assert len(pairs) == len(submits) == 8
    by_step = {s.step: e.step for s, e in pairs}
    assert by_step[12] == 18  # config='main': submitted first, overtaken, ran after 'release'
    assert by_step[15] == 17 and by_step[16] == 19
    overtaken = swimlane.overtaken(pairs)
    assert list(overtaken) == [12] and overtaken[12].step == 17
    svg = swimlane.swimlane_svg(events, "t")
    assert svg.count('<line class="link') == 8
    assert re.search(r'<line class="link overtaken" data-from="12" data-to="18"', svg)
    assert re.search(r'<line class="link dev" data-from="15" data-to="17"', svg)


def test_links_by_op_id_and_first_in_first_out_for_equal_labels() -> None:
    same = [
        {"step": 1, "actor": "a", "kind": "submit", "text": "db#1: UPDATE t SET n = 1"},
        {"step": 2, "actor": "b", "kind": "submit", "text": "db#1: UPDATE t SET n = 1"},
        {"step": 3, "actor": "db#1", "kind": "exec", "text": "UPDATE t SET n = 1 -> ok"},
        {"step": 4, "actor": "db#1", "kind": "fault", "text": "UPDATE t SET n = 1 -> busy"},
    ]
    pairs = swimlane.links(swimlane.events_of(same))
    assert [(s.step, e.step) for s, e in pairs] == [(1, 3), (2, 4)]
    by_op = copy.deepcopy(same)
    for event, op in zip(by_op, (7, 8, 8, 7), strict=True):
        event["op"] = op  # the later submit ran first: the ids say so, not the text
    pairs = swimlane.links(swimlane.events_of(by_op))
    assert sorted((s.step, e.step) for s, e in pairs) == [(1, 4), (2, 3)]


def test_long_swimlanes_wrap_into_strips_and_arrows_cross_them() -> None:
    events = swimlane.events_of(long_events(400))
    svg = swimlane.swimlane_svg(events, "x")
    assert svg.count('<div class="strip">') == 10
    assert svg.count("<g><title>step ") == 400
    assert 'width="100%"' in svg and not re.search(r'<svg[^>]* width="\d{4,}', svg)
    pairs = swimlane.links(events)
    assert len(pairs) == sum(1 for e in events if e.kind == "exec") == 133
    drawn = set(re.findall(r'data-from="(\d+)" data-to="(\d+)"', svg))
    assert drawn == {(str(s.step), str(e.step)) for s, e in pairs}
    halves = re.findall(r'class="link[^"]* part" data-from="(\d+)" data-to="(\d+)"', svg)
    crossing = [(s, e) for s, e in pairs if (s.step - 1) // 40 != (e.step - 1) // 40]
    assert crossing and len(halves) == 2 * len(crossing)


def test_the_engine_overtaken_write_gets_its_arrow() -> None:
    from harness import scenarios
    from harness.stress._examples import events_json

    result = scenarios.get("metadata-lww").explore("original")
    failure = result.failures[0]
    events = swimlane.events_of(events_json(failure.events))
    pairs = swimlane.links(events)
    submitted = [e for e in events if e.kind == "submit"]
    executed = {s.step for s, _ in pairs}
    ran = {e.step for e in events if e.kind in ("exec", "fault")}
    assert len(pairs) == len(ran) and executed <= {s.step for s in submitted}
    overtaken = swimlane.overtaken(pairs)
    assert overtaken, "the older write, overtaken by the deviation, is marked"
    step = next(iter(overtaken))
    submit = next(e for e in events if e.step == step)
    assert "INSERT OR REPLACE INTO metadata" in submit.text and "'config'" in submit.text
    html = swimlane.swimlane_svg(events, "e")
    assert f'<line class="link overtaken" data-from="{step}"' in html


# ------------------------------------------------------------- edge cases
def test_any_report_renders() -> None:
    empty = render_html(Report())
    assert "No cells: nothing was measured." in empty and "</html>" in empty
    data = sample_report()
    broken = data["cells"][0]
    broken["examples"][0]["events"] = [1, None, {"kind": "exec"}, {"step": True, "time": "x"}]
    broken["examples"].append({"events": "nope"})
    broken["coverage"] = {"schedules": "many"}
    broken["errors"] = {"Weird": -1, "Other": "x"}
    data["cells"][1]["runs"] = 0
    data["gate"] = {"cells": [1, {"name": 2}], "max_rate": "x"}
    html = render_html(data)
    assert "metadata-lww/original/sim" in html and "</html>" in html


def _schema_1(cells: list[dict[str, Any]], meta: dict[str, Any] | None = None) -> Report:
    """A report file written by harness 0.1 (schema 1), as it is read today."""
    return from_json({"schema": "harness.flake-report/1", "cells": cells, "meta": meta or {}})


def test_schema_1_reports_render(tmp_path: Path) -> None:
    example = {"token": "h1.tok", "error": "AssertionError: lost update", "command": "harness "
               "replay h1.tok", "events": lww_events()}  # fmt: skip
    report = _schema_1(
        [
            {
                "name": "lww",
                "store": "original",
                "mode": "sim",
                "runs": 200,
                "failures": 12,
                "tokens": ["h1.tok"],
                "example": example,
            },
            {
                "name": "lww",
                "store": "reference",
                "mode": "real",
                "runs": 50,
                "failures": 0,
                "wall_time": 3.5,
            },
        ],
        {"seed": 7, "runs": 200, "wall_time": 12.25, "shard": "1/1"},
    )
    html = render_html(report)
    assert "expected failure" in html and "harness replay h1.tok" in html
    assert "AssertionError: lost update" in html and "12.2 s" in html
    assert "Shard" not in html
    paths = write_reports(report, tmp_path)
    assert paths["html"].read_text(encoding="utf-8") == html


@pytest.mark.parametrize("n", [1, 12, 13, 41, 400])
def test_strips_cover_every_step_once(n: int) -> None:
    events = swimlane.events_of(long_events(n, with_ops=False))
    svg = swimlane.swimlane_svg(events, "s")
    assert svg.count("<g><title>step ") == n
    for step in range(1, n + 1):
        assert svg.count(f"<g><title>step {step} t=") == 1
