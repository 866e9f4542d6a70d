"""Which schedule is running on this thread: the one piece of process-wide state.

Everything harness changes in the process while a simulation runs
(``harness._patches``) consults this state, so it must exist once per
process. It lives in this small module, which ``harness/__init__.py``
imports at once: a module imported while pytest's ``pytester`` runs an inner
session is removed from ``sys.modules`` afterwards and imported afresh next
time, and two copies of this state would disagree about which world is
running (``import harness`` happens when pytest loads the plugin, so this
module is always imported before any such snapshot).
"""

from __future__ import annotations

import threading
from typing import Any


class State:
    """The running schedule and the installed patches (see ``harness._patches``)."""

    def __init__(self) -> None:
        self.world: Any = None  # the running harness._world.World, if any
        self.thread = 0  # the thread it runs on
        self.depth = 0  # how many controlled() blocks are open
        self.saved: list[tuple[object, str, object]] = []  # what the patches replaced
        self.random_state: object = None
        self.patch_aiosqlite = True
        self.thread_patch_pending = False  # aiosqlite 0.22's Thread: patched once it is imported
        self.gc_was_enabled = True
        self.froze_heap = False  # controlled() moved the heap to the permanent generation


state = State()


def current_world() -> Any:
    """The world of the schedule running on this thread, if any."""
    world = state.world
    if world is not None and threading.get_ident() == state.thread:
        return world
    return None
