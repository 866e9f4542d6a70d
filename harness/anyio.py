"""Run plain anyio tests on harness's controlled loop (one default-order schedule).

``@pytest.mark.anyio`` tests get virtual time and the fake aiosqlite without
exploring schedules::

    @pytest.fixture
    def anyio_backend():
        return harness.anyio.simulated_backend()

Under pytest, harness's plugin recognises this backend and runs such a test
itself, as a harness test of exactly one schedule in the default order: its
async fixtures run inside that schedule, the same way whether anyio's plugin
or pytest-asyncio (strict or auto mode) would otherwise take the test, and a
failure is reported with its timeline. Outside pytest the loop factory works
with anything that takes one (``anyio.run(..., backend_options=...)``): one
loop is one schedule, until it is closed.

To explore schedules, use the ``harness`` marker (anyio code runs unmodified
inside a harness body); this module is for the cheap single-schedule case.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._loop import ControlledLoop


def simulated_backend(*, mode: str = "fifo", seed: int = 0) -> tuple[str, dict[str, Any]]:
    """An ``anyio_backend`` value that runs ``@pytest.mark.anyio`` tests on harness's loop.

    One schedule, the default order (no exploration, no token), with virtual
    time and ``aiosqlite`` routed to the fake::

        @pytest.fixture
        def anyio_backend():
            return harness.anyio.simulated_backend()
    """
    if mode not in ("fifo", "parallel"):
        raise ValueError(f"mode must be 'fifo' or 'parallel', not {mode!r}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, not {seed!r}")
    return "asyncio", {"loop_factory": SimulatedLoopFactory(mode, seed)}


class SimulatedLoopFactory:
    """The ``loop_factory`` of :func:`simulated_backend`: how harness recognises it."""

    def __init__(self, mode: str, seed: int) -> None:
        self.mode = mode
        self.seed = seed

    def __call__(self) -> ControlledLoop:
        return simulated_loop(mode=self.mode, seed=self.seed)

    def __repr__(self) -> str:
        return f"SimulatedLoopFactory(mode={self.mode!r}, seed={self.seed})"


def simulated_factory(backend: object) -> SimulatedLoopFactory | None:
    """The factory inside an ``anyio_backend`` value made by :func:`simulated_backend`."""
    if isinstance(backend, tuple) and len(backend) == 2 and isinstance(backend[1], dict):
        factory = backend[1].get("loop_factory")
        if backend[0] == "asyncio" and isinstance(factory, SimulatedLoopFactory):
            return factory
    return None


def simulated_loop(*, mode: str = "fifo", seed: int = 0) -> ControlledLoop:
    """A controlled loop running one default-order schedule until it is closed."""
    return _simulated_loop_class()(mode, seed)


@functools.cache
def _simulated_loop_class() -> Callable[[str, int], ControlledLoop]:
    import shutil
    import tempfile

    from ._loop import ControlledLoop
    from ._patches import controlled, enter, leave, resume_gc
    from ._run_config import RunConfig
    from ._world import World
    from .sqlite._database import default_workroot, forget_exploration
    from .sqlite._layer import clean_up
    from .strategies import Replay

    class SimulatedLoop(ControlledLoop):
        """Owns the patches, the world and the work directory of its one schedule."""

        def __init__(self, mode: str, seed: int) -> None:
            strategy = Replay((), seed=seed, strict=False)
            strategy.begin(seed)
            self._control = controlled(True)
            self._control.__enter__()
            self._workdir = tempfile.mkdtemp(prefix="harness-", dir=default_workroot())
            world = World(RunConfig(mode=mode), strategy, seed, self._workdir)
            super().__init__(world)
            world.new_process(self)
            enter(world)
            self._open = True

        def close(self) -> None:
            super().close()
            if self._open:
                self._open = False
                leave()
                clean_up(self._world)  # what run_schedule does at a schedule's end
                self._world.end()
                self._control.__exit__(None, None, None)
                shutil.rmtree(self._workdir, ignore_errors=True)
                forget_exploration(self._workdir)
                resume_gc()

    return SimulatedLoop
