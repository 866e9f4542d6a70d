"""The reference store: the agent-host store that carries every fix (see ``store``)."""

from __future__ import annotations

if __name__ != "harness.reference_store":  # installed in harness's namespace only (see pyproject)
    raise ImportError(f"import harness.reference_store, not {__name__}")

from ._db import Database as Database
from ._sequencer import KeySequencer as KeySequencer
from .store import HookEvent as HookEvent
from .store import Message as Message
from .store import MessageCache as MessageCache
from .store import ReferenceStore as ReferenceStore
from .store import Subscriber as Subscriber
from .store import ToolEvent as ToolEvent

__all__ = (
    "Database",
    "HookEvent",
    "KeySequencer",
    "Message",
    "MessageCache",
    "ReferenceStore",
    "Subscriber",
    "ToolEvent",
)
