"""Flake-rate reports: Wilson intervals, JSON/Markdown/HTML output, merging, the CI gate.

``DESIGN.md`` §8 is the contract. A :class:`Report` holds one :class:`Cell`
per (scenario or test, store variant, mode); :func:`write_reports` writes it
as ``report.json`` (versioned, mergeable with :func:`merge`),
``report.md`` (a CI job summary) and ``report.html`` (one self-contained
page with charts and swimlanes); :func:`gate` judges it statistically.
This module only re-exports.
"""

from __future__ import annotations

from .gate import GateResult as GateResult
from .gate import Verdict as Verdict
from .gate import gate as gate
from .html import render_html as render_html
from .markdown import render_markdown as render_markdown
from .model import Cell as Cell
from .model import Report as Report
from .model import ReportError as ReportError
from .model import from_json as from_json
from .model import load as load
from .model import merge as merge
from .model import save_json as save_json
from .model import to_json as to_json
from .stats import runs_to_prove as runs_to_prove
from .stats import wilson as wilson
from .write import write_reports as write_reports

__all__ = (
    "Cell",
    "GateResult",
    "Report",
    "ReportError",
    "Verdict",
    "from_json",
    "gate",
    "load",
    "merge",
    "render_html",
    "render_markdown",
    "runs_to_prove",
    "save_json",
    "to_json",
    "wilson",
    "write_reports",
)
