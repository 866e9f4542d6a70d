"""The pytest plugin of a stress session's workers: a spec file becomes chunk items.

The controller (:mod:`harness.stress._controller`) starts pytest with
``-p harness.stress._session`` and the spec file as the only argument;
pytest-xdist forwards both to every worker, which collects the same items
from the file (one per chunk, node id ``…harness-stress.json::NAME[STORE:MODE:INDEX]``)
and runs whichever it is handed. A chunk item always passes unless the chunk
could not be run at all; its measurement travels back in the call report's
``user_properties`` as ``(RESULT_KEY, dict)``, which pytest-xdist serialises
to the controller.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ._spec import SPEC_SUFFIX, Chunk, Spec, load_spec

RESULT_KEY = "harness_stress_chunk"


def item_name(chunk: Chunk) -> str:
    """The item's name: unique within the spec, readable in pytest's log."""
    return f"{chunk.name}[{chunk.store}:{chunk.mode}:{chunk.index}]"


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        # Ctrl-C reaches the whole process group: workers leave it to the controller, which
        # asks them to stop through the spec's stop file, so runs in flight are not lost
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.name.endswith(SPEC_SUFFIX):
        return SpecFile.from_parent(parent, path=file_path)
    return None


class SpecFile(pytest.File):
    """A stress spec: one :class:`ChunkItem` per chunk, in the spec's order."""

    def collect(self) -> Iterator[pytest.Item]:
        spec = load_spec(self.path)
        for chunk in spec.chunks:
            yield ChunkItem.from_parent(self, name=item_name(chunk), spec=spec, chunk=chunk)


class ChunkItem(pytest.Item):
    """Runs one chunk; puts its :class:`~._worker.ChunkResult` into ``user_properties``."""

    def __init__(self, *, spec: Spec, chunk: Chunk, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.chunk = chunk

    def runtest(self) -> None:
        from ._worker import run_chunk

        result = run_chunk(self.chunk, self.spec)
        self.user_properties.append((RESULT_KEY, result.to_dict()))
        if result.interrupted:  # Ctrl-C: report what was measured, then stop this worker
            self.session.shouldstop = "harness stress: interrupted"
        if result.internal:
            raise RuntimeError(f"chunk {self.chunk.id}: {result.internal}")

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"stress chunk {self.chunk.id} ({self.chunk.runs} runs)"

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        return str(excinfo.value)
