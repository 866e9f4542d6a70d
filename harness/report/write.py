"""Write a report in all three formats at once."""

from __future__ import annotations

import os
from pathlib import Path

from .html import render_html
from .markdown import render_markdown
from .model import Report, save_json


def write_reports(report: Report, out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Write ``report.json``, ``report.md`` and ``report.html`` into ``out_dir``.

    ``out_dir`` is created if missing; existing files are replaced. Returns
    ``{"json": ..., "markdown": ..., "html": ...}``. The three files always
    describe the same report: all are rendered from the one object given.
    """
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": directory / "report.json",
        "markdown": directory / "report.md",
        "html": directory / "report.html",
    }
    save_json(report, paths["json"])
    paths["markdown"].write_text(render_markdown(report), encoding="utf-8")
    paths["html"].write_text(render_html(report), encoding="utf-8")
    return paths
