"""Run plain anyio tests on harness's controlled loop (one default-order schedule).

``@pytest.mark.anyio`` tests get virtual time and the fake aiosqlite without
exploring schedules::

    @pytest.fixture
    def anyio_backend():
        return harness.anyio.simulated_backend()

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
            return harness.pytest_plugin.simulated_backend()
    """
    if mode not in ("fifo", "parallel"):
        raise ValueError(f"mode must be 'fifo' or 'parallel', not {mode!r}")
    factory = functools.partial(simulated_loop, mode=mode, seed=seed)
    return "asyncio", {"loop_factory": factory}


def simulated_loop(*, mode: str = "fifo", seed: int = 0) -> ControlledLoop:
    """A controlled loop running one default-order schedule until it is closed."""
    return _simulated_loop_class()(mode, seed)


@functools.cache
def _simulated_loop_class() -> Callable[[str, int], ControlledLoop]:
    import shutil
    import tempfile

    from ._loop import ControlledLoop
    from ._patches import controlled, enter, leave
    from ._world import RunConfig, World
    from .sqlite._database import default_workroot
    from .sqlite._layer import layer_of
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
                layer_of(self._world).cleanup()
                self._world.loop = None
                self._control.__exit__(None, None, None)
                shutil.rmtree(self._workdir, ignore_errors=True)

    return SimulatedLoop
