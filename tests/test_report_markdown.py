"""The Markdown report: a CI job summary that says what is unexpected."""

from __future__ import annotations

import copy
import re
from typing import Any

from harness.report import Report, render_markdown
from harness.report.model import from_json
from tests.report_samples import as_report, lww_events, sample_report


def markdown(data: dict[str, object]) -> str:
    return render_markdown(as_report(data))  # type: ignore[arg-type]


def rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("| ")][2:]


def replay_block(text: str) -> dict[str, str]:
    """``{"r1": "harness replay h1…", …}`` from the block after the table."""
    block = text.split("```sh\n", 1)[1].split("\n```", 1)[0].splitlines()
    out = {}
    for comment, command in zip(block[::2], block[1::2], strict=True):
        assert comment.startswith("# r")
        out[comment.split()[1]] = command
    return out


def test_headline_tells_unexpected_failures_from_expected_ones() -> None:
    data = sample_report()
    text = markdown(data)
    assert "### ❌ 1 unexpected failure in 30 cells" in text
    assert "18 failed as expected (bundled buggy variants)" in text
    table = rows(text)
    assert len(table) == 30
    assert [r.split(" | ")[1:3] for r in table if r.startswith("| ❌ |")] == [
        ["flush-cursor", "reference"]
    ]
    assert sum(r.startswith("| ☑️ |") for r in table) == 18
    assert "☑️ expected to fail and did (a bundled original/naive-fix variant)" in text
    assert "### First unexpected failure: `flush-cursor/reference/real`" in text

    expected_only = copy.deepcopy(data)
    odd_one = ("flush-cursor", "reference", "real")
    expected_only["cells"] = [
        c for c in data["cells"] if (c["name"], c["store"], c["kind"]) != odd_one
    ]
    text = markdown(expected_only)
    assert "### ⚠️ No unexpected failures in 29 cells" in text  # one buggy variant went unfound
    assert "❌" not in text and "### First failure (expected): " in text
    found = [
        c for c in expected_only["cells"] if (c["name"], c["store"]) != ("hook-batch", "naive-fix")
    ]
    assert "### ✅ No unexpected failures in 27 cells" in markdown(
        {**expected_only, "cells": found}
    )


def test_tokens_stay_out_of_the_table_and_replay_it_uses_the_same_shrunk_token() -> None:
    data = sample_report()
    text = markdown(data)
    table = rows(text)
    assert not any("h1." in r for r in table)
    assert max(len(r) for r in table) < 160
    commands = replay_block(text)
    firsts = [c for c in data["cells"] if c["tokens"]]
    for cell in firsts:
        command = f"harness replay {cell['tokens'][0]}"
        ids = [k for k, v in commands.items() if v == command]
        assert len(ids) == 1, cell["name"]
        row = next(r for r in table if f"| {cell['name']} | {cell['store']} | sim |" in r)
        assert row.endswith(f"| {ids[0]} |")
    shown = set(re.findall(r"h1\.[\w-]+", text))
    assert shown == {c["tokens"][0] for c in firsts}  # shrunk tokens[0] only, each once
    # "Replay it" repeats the table's command for that cell, character for character
    unexpected_sim = copy.deepcopy(data)
    unexpected_sim["cells"][2]["failures"] = 3  # metadata-lww/reference/sim fails
    unexpected_sim["cells"][2]["tokens"] = ["h1.referenceToken" + "x" * 90]
    text = markdown(unexpected_sim)
    section = text.split("### First unexpected failure: `metadata-lww/reference/sim`", 1)[1]
    label, command = re.search(r"Replay it \((r\d+)\):\n\n```console\n(.+)\n```", section).groups()
    assert replay_block(text)[label] == command == "harness replay h1.referenceToken" + "x" * 90


def test_error_column_and_simulated_cells_without_rates() -> None:
    text = markdown(sample_report())
    header = next(line for line in text.splitlines() if line.startswith("| "))
    assert header == "|  | scenario | store | mode | runs | result | detail | errors | replay |"
    table = rows(text)
    sim = [r for r in table if " | sim | " in r]
    real = [r for r in table if " | real | " in r]
    assert len(sim) == len(real) == 15
    assert not any("%" in r for r in sim)
    first = "| ☑️ | metadata-lww | original | sim | 100 | fails (20 schedules) | "
    assert sim[0] == first + "100 schedules, 97 distinct | Violation (20) | r1 |"
    assert any("| clean | exhausted within 2 deviations (100 schedules) | — |" in r for r in sim)
    assert "| 21.0 % [14.2 %, 30.0 %] | 21 failed | Violation (21) |" in real[1]
    assert any("| 0 failed, 1 crashed | crash (1) |" in r for r in real)
    assert any("| 0 failed, 1 timed out | — |" in r for r in real)


def test_gate_result_when_gated() -> None:
    text = markdown(sample_report(gated=True))
    assert (
        "**❌ Gate FAILED: 19 fail, 5 unproven, 6 pass** — max rate 0.1 %, 95 % confidence" in text
    )
    assert "| errors | gate | replay |" in text
    assert "| unproven: 2,995 more clean runs |" in text
    data = sample_report(gated=True)
    data["gate"]["passed"] = True
    assert "**✅ Gate passed: " in markdown(data)
    assert "Gate" not in markdown(sample_report())


def test_settings_carry_units_and_the_size_fits_a_job_summary() -> None:
    data = sample_report()
    text = markdown(data)
    assert "wall time `33.9 s`" in text and "per-run timeout `30.0 s`" in text
    assert "33.926" not in text and "null" not in text and "None" not in text
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert len(text.splitlines()) < 200
    assert "| ☑️ | metadata-lww | original | sim | 100 |" in text
    data["cells"][1]["name"] = "odd|name"
    assert "odd\\|name" in markdown(data)
    data["interrupted"], data["interrupted_by"] = True, "SIGTERM"
    data["plan"]["shard"] = {"index": 2, "count": 3}
    text = markdown(data)
    assert (
        "⚠️ **Interrupted by SIGTERM**: a partial report, 3,000 of 3,000 planned runs ended." in text
    )
    assert "⚠️ **Shard 2 of 3**" in text and "shard `2 of 3`" in text
    assert "No cells: nothing was measured." in render_markdown(Report())


def test_schema_1_reports_render() -> None:
    example = {"token": "h1.tok", "error": "AssertionError: lost update",
               "command": "harness replay h1.tok", "events": lww_events()}  # fmt: skip

    def schema_1(cells: list[dict[str, Any]]) -> Report:
        return from_json({"schema": "harness.flake-report/1", "cells": cells, "meta": {}})

    report = schema_1(
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
            {"name": "lww", "store": "reference", "mode": "sim", "runs": 100, "failures": 0},
        ]
    )
    text = render_markdown(report)
    assert "### ✅ No unexpected failures in 2 cells" in text
    assert "| ☑️ | lww | original | sim | 200 | fails (12 schedules) |" in text
    assert "```console\nharness replay h1.tok\n```" in text
    assert "AssertionError: lost update" in text
    shrunk = {
        **example,
        "token": "h1.shrunk",
        "command": "harness replay h1.shrunk",
        "shrunk": True,
    }
    cell = {"name": "lww", "store": "original", "mode": "sim", "runs": 20, "failures": 3,
            "tokens": ["h1.unshrunk1", "h1.unshrunk2"], "example": shrunk}  # fmt: skip
    text = render_markdown(schema_1([cell]))
    assert set(re.findall(r"h1\.\w+", text)) == {"h1.shrunk"}  # schema 1: the shrunk one only
