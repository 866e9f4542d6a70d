"""Write a report in all three formats at once, without ever losing it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ._json import dumps, prepare_out_dir, write_text_atomic
from .html import render_html
from .markdown import render_markdown
from .model import Report, ReportError

NAMES = ("report.json", "report.md", "report.html")


def write_reports(report: Report, out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Write ``report.json``, ``report.md`` and ``report.html`` into ``out_dir``.

    ``out_dir`` is created if missing; existing files are replaced, each
    atomically. Returns ``{"json": ..., "markdown": ..., "html": ...}``. All
    three are rendered from the one object given. If they cannot be written
    the JSON is saved to a temporary file instead and :class:`ReportError`
    names it, so a measurement is never lost.
    """
    try:
        directory = prepare_out_dir(out_dir, NAMES)
    except ReportError as exc:
        raise ReportError(f"{exc}; {_rescue(report)}") from None
    return write_beside(report, directory / "report.json")


def write_beside(report: Report, json_path: str | os.PathLike[str]) -> dict[str, Path]:
    """Write ``report`` to ``json_path`` and its Markdown and HTML with the same stem."""
    target = Path(json_path)
    paths = {
        "json": target,
        "markdown": target.with_suffix(".md"),
        "html": target.with_suffix(".html"),
    }
    text = dumps(report)
    try:
        write_text_atomic(paths["json"], text)
    except OSError as exc:
        raise ReportError(
            f"cannot write {target}: {exc.strerror or exc}; {_rescue(report)}"
        ) from None
    try:
        write_text_atomic(paths["markdown"], render_markdown(report))
        write_text_atomic(paths["html"], render_html(report))
    except OSError as exc:
        raise ReportError(
            f"wrote {target}, but not its Markdown/HTML: {exc.strerror or exc}"
        ) from None
    return paths


def _rescue(report: Report) -> str:
    """Save the JSON where it can be saved; say where (the tail of an error message)."""
    try:
        fd, path = tempfile.mkstemp(prefix="harness-report-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(dumps(report))
    except OSError:
        return "the report could not be saved anywhere"
    return f"the report was saved to {path}"
