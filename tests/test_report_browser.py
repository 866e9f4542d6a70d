"""The HTML report's layout, measured in headless Chromium at 1400, 1024 and 420 px.

Realistic reports (30 cells, simulated and real, gated and not, ~100- and
260-character tokens, long names, up to a dozen examples, a 400-event
swimlane) are rendered and loaded in Debian's ``chromium``; the facts are
measured through the DevTools protocol (``tests/chromium.py``), so the page
under test keeps no script of its own. Asserted at every width: the page
never scrolls sideways, nothing scrolls or clips inside its box, every
token is fully on screen, every example is present (the first three open),
every real cell's dot is inside its chart row, the chart's tick labels do
not overlap, text is at least 10 px. Full-page PNG screenshots are written
to ``$HARNESS_SCREENSHOTS`` (or the test's temporary directory).

Skips with a message when Chromium is absent (``.ci/install-chromium``
installs it); ``HARNESS_REQUIRE_CHROMIUM=1`` turns that skip into a failure.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.report import render_html
from tests.chromium import Chromium, find_chromium
from tests.report_samples import (
    all_tokens,
    as_report,
    example_count,
    long_events,
    sample_report,
    token,
)

WIDTHS = (1400, 1024, 420)
SCREENSHOTS = {"gated"}  # a full-page capture of a long page costs seconds: one report's
PNG = b"\x89PNG\r\n\x1a\n"

MEASURE = r"""
(() => {
  const W = window.innerWidth;
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
    (el.getAttribute("class") ? "." + el.getAttribute("class").trim().split(/\s+/).join(".") : "");
  const shown = (el) => el.getClientRects().length > 0;
  const out = {width: W, scrollWidth: document.documentElement.scrollWidth,
               bodyScrollWidth: document.body.scrollWidth, scrolling: [], outside: [],
               small: [], cut: [], missing: [], dots: [], ticks: [], plots: []};
  for (const el of document.body.querySelectorAll("*")) {
    if (!shown(el)) continue;
    const cs = getComputedStyle(el);
    if (["auto", "scroll", "hidden", "clip"].includes(cs.overflowX) &&
        el.scrollWidth > el.clientWidth + 1 && !el.closest(".lane-names"))
      out.scrolling.push(name(el) + " " + el.scrollWidth + ">" + el.clientWidth);
    const r = el.getBoundingClientRect();
    const drawn = el instanceof SVGElement && el.tagName !== "svg";  // clipped by its <svg>
    if (r.width > 0 && (r.right > W + 0.5 || r.left < -0.5) && !drawn)
      out.outside.push(name(el) + " " + Math.round(r.left) + ".." + Math.round(r.right));
    const text = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (text && parseFloat(cs.fontSize) < 10 && !el.classList.contains("dev-short"))
      out.small.push(name(el) + " " + cs.fontSize);
  }
  const clippers = (node) => {
    const found = [];
    for (let el = node.parentElement; el; el = el.parentElement) {
      const cs = getComputedStyle(el);
      if (cs.overflowX !== "visible" || cs.overflowY !== "visible") found.push(el);
    }
    return found;
  };
  const seen = new Map(TOKENS.map((t) => [t, 0]));
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (!n.textContent.includes("h1.") || !shown(n.parentElement)) continue;
    for (const tok of TOKENS) {
      for (let at = n.textContent.indexOf(tok); at >= 0; at = n.textContent.indexOf(tok, at + 1)) {
        const range = document.createRange();
        range.setStart(n, at);
        range.setEnd(n, at + tok.length);
        const rects = [...range.getClientRects()].filter((q) => q.width > 0);
        if (!rects.length) continue;
        seen.set(tok, seen.get(tok) + 1);
        for (const q of rects) {
          if (q.left < -0.5 || q.right > W + 0.5) out.cut.push(tok.slice(0, 16) + " off screen");
          for (const c of clippers(n)) {
            const b = c.getBoundingClientRect();
            if (q.left < b.left - 0.5 || q.right > b.right + 0.5 || q.top < b.top - 0.5 ||
                q.bottom > b.bottom + 0.5)
              out.cut.push(tok.slice(0, 16) + " clipped by " + name(c));
          }
        }
      }
    }
  }
  for (const [tok, n] of seen) if (!n) out.missing.push(tok.slice(0, 16));
  for (const row of document.querySelectorAll(".chart .row")) {
    const dot = row.querySelector(".dot"), track = row.querySelector(".track");
    if (!dot) continue;
    const d = dot.getBoundingClientRect(), t = track.getBoundingClientRect();
    const inside = d.width > 0 && d.left >= -0.5 && d.right <= W + 0.5 &&
      d.left + d.width / 2 >= t.left - 0.5 && d.left + d.width / 2 <= t.right + 0.5;
    if (!inside) out.dots.push(row.querySelector(".label").textContent);
  }
  const ticks = [...document.querySelectorAll(".chart .ticks span")].filter(shown)
    .map((s) => s.getBoundingClientRect()).sort((a, b) => a.left - b.left);
  for (let i = 1; i < ticks.length; i++)
    if (ticks[i].left < ticks[i - 1].right - 0.5) out.ticks.push(i);
  for (const svg of document.querySelectorAll("svg.lane-plot"))
    if (shown(svg)) out.plots.push(Math.round(svg.getBoundingClientRect().width));
  out.examples = document.querySelectorAll("details.example").length;
  out.open = document.querySelectorAll("details.example[open]").length;
  const header = document.querySelector("header");
  out.header = header ? Math.round(header.getBoundingClientRect().height) : -1;
  out.text = document.body.innerText;
  return JSON.stringify(out);
})()
"""
OPEN_ALL = "document.querySelectorAll('details').forEach((d) => { d.open = true; }); true"


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    binary = find_chromium()
    if binary is None:
        message = (
            "Chromium not found: the HTML layout check needs Debian's chromium "
            "(apt-get install -y chromium, or .ci/install-chromium; HARNESS_CHROMIUM=path "
            "for another binary)"
        )
        if os.environ.get("HARNESS_REQUIRE_CHROMIUM") == "1":
            pytest.fail(message)
        pytest.skip(message)
    with Chromium(binary) as chromium:
        yield chromium


def stress_report() -> dict[str, Any]:
    """Harder than the sample: 260-character tokens, a long user-test name, a dozen examples,
    a 400-event swimlane, an interrupted sharded run."""
    data = sample_report(gated=True)
    first = data["cells"][0]
    first["tokens"] = [token("long", k, length=260) for k in range(3)]
    first["examples"] = [
        {**copy.deepcopy(first["examples"][0]), "token": t, "command": f"harness replay {t}"}
        for t in first["tokens"]
    ]
    first["examples"][0]["events"] = long_events(400)
    user = data["cells"][3]
    user["name"] = "tests/integration/test_session_store.py::test_concurrent_writers_keep_" + (
        "the_last_value_" * 4
    ).rstrip("_")
    user["store"] = "-"
    extra = copy.deepcopy(data["cells"][6]["examples"][0])
    data["cells"][6]["examples"] += [
        {**extra, "message": extra["message"] + f" #{k}"} for k in range(6)
    ]
    data["interrupted"], data["interrupted_by"] = True, "SIGTERM"
    data["plan"]["shard"] = {"index": 2, "count": 3}
    return data


REPORTS = {
    "gated": lambda: sample_report(gated=True),
    "ungated": lambda: sample_report(),
    "stress": stress_report,
}


def measure(browser: Chromium, page: Path, tokens: list[str], width: int) -> dict[str, Any]:
    browser.set_width(width)
    browser.load(page)
    script = MEASURE.replace("TOKENS", json.dumps(tokens))
    as_loaded: dict[str, Any] = json.loads(browser.evaluate(script))
    browser.evaluate(OPEN_ALL)
    as_loaded["all_open"] = json.loads(browser.evaluate(script))
    return as_loaded


def shots_dir(tmp_path: Path) -> Path:
    configured = os.environ.get("HARNESS_SCREENSHOTS")
    directory = Path(configured) if configured else tmp_path
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.mark.parametrize("kind", sorted(REPORTS))
def test_layout_in_chromium(browser: Chromium, tmp_path: Path, kind: str) -> None:
    data = REPORTS[kind]()
    page = tmp_path / f"{kind}.html"
    page.write_text(render_html(as_report(data)), encoding="utf-8")
    tokens = all_tokens(data)
    replay_tokens = [c["tokens"][0] for c in data["cells"] if c["tokens"]]
    assert len(tokens) > 20 and min(len(t) for t in tokens) >= 100
    for width in WIDTHS:
        m = measure(browser, page, tokens, width)
        where = f"{kind} at {width} px"
        for state, facts in (("as loaded", m), ("all details open", m["all_open"])):
            at = f"{where}, {state}"
            assert facts["width"] == width, at
            assert facts["scrollWidth"] <= width, f"{at}: the page scrolls sideways"
            assert facts["bodyScrollWidth"] <= width, at
            assert facts["scrolling"] == [], f"{at}: scrolls inside a box: {facts['scrolling']}"
            assert facts["outside"] == [], f"{at}: beyond the viewport: {facts['outside'][:5]}"
            assert facts["cut"] == [], f"{at}: tokens cut: {facts['cut'][:5]}"
            assert facts["dots"] == [], f"{at}: chart rows look empty: {facts['dots']}"
            assert facts["ticks"] == [], f"{at}: tick labels overlap"
            assert facts["small"] == [], f"{at}: text below 10 px: {facts['small'][:5]}"
            assert all(w >= 150 for w in facts["plots"]), f"{at}: squashed swimlane"
            assert "null" not in facts["text"] and "None" not in facts["text"], at
        # as loaded, the replay token of every failing simulated cell is on screen
        hidden = [t[:16] for t in replay_tokens if t[:16] in m["missing"]]
        assert hidden == [], f"{where}: replay tokens not shown: {hidden}"
        assert m["all_open"]["missing"] == [], f"{where}: tokens absent from the page"
        assert m["examples"] == example_count(data), where
        assert m["open"] == min(3, example_count(data)), where
        assert m["all_open"]["plots"], f"{where}: no swimlane drawn"
        text = m["text"]
        assert "wall time" in text and "33.9 s" in text, where
        if data["gate"] is not None:
            assert "Gate FAILED" in text and "max rate 0.1 %" in text, where
        if width == 1400:
            assert 0 < m["header"] < 800, f"{where}: the header is {m['header']} px tall"
        if kind in SCREENSHOTS and width in (1400, 420):
            shot = shots_dir(tmp_path) / f"report-{kind}-{width}.png"
            browser.screenshot(shot, width)
            assert shot.read_bytes().startswith(PNG)
