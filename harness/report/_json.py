"""Reading and writing report files: bounded parsing, atomic writes, usable output paths.

A report file comes from another machine or a CI artifact, so reading it is
bounded: at most :data:`MAX_BYTES` bytes, integers of at most
:data:`MAX_INT_DIGITS` digits, finite numbers only, nesting as deep as the
JSON decoder's recursion limit allows. Anything else is a
:class:`~.model.ReportError` with a one-line message naming the file.

Output paths are checked before any work is done (:func:`prepare_out_dir`),
so a stress run never measures for an hour and then fails to write.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .model import Report, ReportError, from_json, to_json

MAX_BYTES = 256 * 1024 * 1024
MAX_INT_DIGITS = 30


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ReportError(f"an integer of {len(text)} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def _float(text: str) -> float:
    if len(text) > 64:
        raise ReportError(f"a number written with {len(text)} characters")
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ReportError(f"a number out of range ({text[:20]})")
    return value


def _constant(text: str) -> Any:
    raise ReportError(f"{text} is not valid in a report")


def loads(text: str) -> Any:
    """Parse report JSON with the bounds of the module docstring."""
    try:
        return json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except RecursionError:
        raise ReportError("JSON nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise ReportError(f"not valid JSON (line {exc.lineno}, column {exc.colno})") from None


def load(path: str | os.PathLike[str]) -> Report:
    """Read a report file; :class:`ReportError` (naming the file) if it is unusable."""
    name = os.fspath(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ReportError(f"cannot read report {name}: {reason}") from None
    if len(raw) > MAX_BYTES:
        raise ReportError(f"{name} is larger than {MAX_BYTES // 2**20} MiB: not a report")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ReportError(f"{name} is not UTF-8 text: not a report") from None
    try:
        return from_json(loads(text))
    except ReportError as exc:
        raise ReportError(f"{name}: {exc}") from None


def dumps(report: Report) -> str:
    return json.dumps(to_json(report), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_text_atomic(target: Path, text: str) -> None:
    """Write ``text`` to ``target`` through a temporary file renamed into place."""
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def save_json(report: Report, path: str | os.PathLike[str]) -> None:
    """Write ``report`` as indented JSON, atomically; :class:`ReportError` if it cannot."""
    target = Path(path)
    try:
        write_text_atomic(target, dumps(report))
    except OSError as exc:
        raise ReportError(f"cannot write {target}: {exc.strerror or exc}") from None


def check_out_path(path: str | os.PathLike[str]) -> Path:
    """``path`` as a directory to write into, checked without creating anything.

    Raises :class:`ReportError` when ``path`` is a file or lies under a file.
    """
    target = Path(path).expanduser()
    for parent in [target, *target.parents]:
        if parent.exists() and not parent.is_dir():
            where = "is a file" if parent == target else f"is under the file {parent}"
            raise ReportError(f"output directory {os.fspath(path)} {where}")
    return target


def prepare_out_dir(path: str | os.PathLike[str], names: tuple[str, ...] = ()) -> Path:
    """Create ``path`` if needed and prove a report can be written there; return it resolved.

    Raises :class:`ReportError` (one line) when ``path`` is a file, lies under a
    file, cannot be created or written, or when one of ``names`` inside it is a
    directory. Nothing is left behind but the (empty) directory itself.
    """
    target = check_out_path(path)
    shown = os.fspath(path)
    try:
        target.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".harness-probe-", dir=target)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ReportError(
            f"cannot write reports to {shown}: {exc.strerror or exc.__class__.__name__}"
        ) from None
    for name in names:
        if (target / name).is_dir():
            raise ReportError(f"cannot write {target / name}: it is a directory")
    return target.resolve()
