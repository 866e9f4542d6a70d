"""The pytest plugin of a ``harness stress`` session's workers: the plan becomes items.

The controller (:mod:`harness.stress._controller`) starts ``pytest`` with
``-p harness.stress._session``, no file arguments and no ini file, and
ships the plan (:class:`~._spec.Spec`) to every worker in pytest-xdist's
``workerinput``. Each worker turns the directory it was started in into
one collector (:class:`PlanDir`) holding one :class:`ChunkItem` per chunk,
in the plan's order — the same node ids on every machine, since nothing on
disk is read. A chunk item passes unless it could not run at all; how each
of its runs ended travels to the controller as run events (:mod:`._xdist`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ._signals import leave_interrupts_to_the_controller
from ._spec import Chunk, Spec
from ._watchdog import Watchdog
from ._xdist import EventCodec, send_event, workerinput

SPEC_KEY = "harness_stress_spec"
_SPEC = pytest.StashKey[Spec]()
_WATCHDOG = pytest.StashKey[Watchdog]()


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(EventCodec(), "harness-stress-events")
    data = workerinput(config)
    if data is None or SPEC_KEY not in data:
        return
    leave_interrupts_to_the_controller()
    config.stash[_SPEC] = Spec.from_data(data[SPEC_KEY])
    config.stash[_WATCHDOG] = Watchdog()


def pytest_unconfigure(config: pytest.Config) -> None:
    watchdog = config.stash.get(_WATCHDOG, None)
    if watchdog is not None:
        watchdog.close()


@pytest.hookimpl(tryfirst=True)
def pytest_collect_directory(path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    config = parent.config
    if _SPEC not in config.stash or path != config.rootpath:
        return None
    return PlanDir.from_parent(parent, path=path)


class PlanDir(pytest.Directory):
    """The plan: one :class:`ChunkItem` per chunk, in the plan's order."""

    def collect(self) -> Iterator[pytest.Item]:
        spec = self.config.stash[_SPEC]
        for chunk in spec.chunks:
            yield ChunkItem.from_parent(self, name=chunk.item_name, spec=spec, chunk=chunk)


class ChunkItem(pytest.Item):
    """Runs one chunk, reporting each run as an event (see :mod:`._worker`)."""

    def __init__(self, *, spec: Spec, chunk: Chunk, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.chunk = chunk

    def runtest(self) -> None:
        from ._worker import run_chunk

        def emit(payload: dict[str, Any]) -> None:
            send_event(self, payload)

        run_chunk(self.chunk, self.spec, emit, self.config.stash[_WATCHDOG])

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"stress chunk {self.chunk.id} ({self.chunk.runs} runs)"

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        return f"{type(excinfo.value).__name__}: {excinfo.value}"
