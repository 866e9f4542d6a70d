"""The reference store: the agent-host store that carries every fix (see ``store``)."""

from __future__ import annotations

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
