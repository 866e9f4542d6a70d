"""Flake-rate reports: the model, JSON (schema ``harness.flake-report/2``), merging, the gate.

``DESIGN.md`` §8 (amended) is the contract. A :class:`Report` names its
:class:`Plan` and holds one :class:`Cell` per (scenario or test, store
variant, mode) accounting for every planned run; :func:`write_reports`
writes it as ``report.json`` (versioned, mergeable with :func:`merge`),
``report.md`` (a CI job summary) and ``report.html`` (one self-contained
page); :func:`gate` judges it — simulated cells as verdicts, real cells by
their Wilson interval. This module only re-exports.
"""

from __future__ import annotations

from ._json import load as load
from ._json import save_json as save_json
from ._merge import merge as merge
from .gate import GateResult as GateResult
from .gate import PartialReport as PartialReport
from .gate import Verdict as Verdict
from .gate import gate as gate
from .html import render_html as render_html
from .markdown import render_markdown as render_markdown
from .model import Cell as Cell
from .model import Plan as Plan
from .model import Report as Report
from .model import ReportError as ReportError
from .model import from_json as from_json
from .model import to_json as to_json
from .stats import runs_to_prove as runs_to_prove
from .stats import wilson as wilson
from .write import write_reports as write_reports

__all__ = (
    "Cell",
    "GateResult",
    "PartialReport",
    "Plan",
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
