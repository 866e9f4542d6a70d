"""What a scheduling alternative does, and which two alternatives commute.

Invariants: a choice key never contains a global id, an object id or a choice
index — only names and ordinals the body's own behaviour determines, so it
survives edits to a schedule; :func:`commute` answers True only where both
orders provably end alike (it may say False for steps that do commute).
"""

from __future__ import annotations

from ._ops import Delivery, Op
from .strategies import Alternative
from .strategies._protocol import K_DELIVER, K_EXEC

_COMMUTING = (K_EXEC, K_DELIVER)
_TWO_DELIVERIES = (K_DELIVER, K_DELIVER)

ChoiceKey = tuple[str, str, int, str | None]


def choice_key(alt: Alternative) -> ChoiceKey:
    """What an alternative does, independent of its index and of global ids.

    ``(kind, channel or subscriber, ordinal within it, fault)``: "execute the 3rd
    statement submitted to app.db#2". It survives edits to a schedule that shift
    choice indices, which is what the shrinker needs.
    """
    target = alt.target
    kind: str = alt.kind._value_  # Kind.value without enum's descriptor (a hot path)
    if isinstance(target, Op):
        return (kind, target.channel.name, target.ordinal, alt.fault)
    if isinstance(target, Delivery):
        return (kind, target.shown, target.ordinal, None)
    return (kind, alt.actor, target if isinstance(target, int) else 0, alt.fault)


def commute(a: Alternative, b: Alternative) -> bool:
    """Whether taking ``a`` then ``b`` now provably ends as ``b`` then ``a`` (conservative).

    True only for two steps of different connections' workers where:

    * one executes a statement and the other delivers a result: a delivery
      only posts the awaiting task's wake-up to the loop, and executing a
      plain statement (see ``Op.footprint``) touches only SQLite and its own
      operation — never the loop;
    * both execute statements (``Op.commutes``): on different database files
      where at most one of them could have to wait for a lock (two waits
      would start two busy-timeout timers whose order is the order taken),
      or both read the same database and no connection to it holds a write
      transaction (so neither read can wait).

    Everything else is dependent: running a callback (arbitrary Python),
    two deliveries (their order is the loop's ready order), notifications,
    faults, crashes, connects and closes, any step of a connection with user
    hooks or functions, scripts, ATTACH, pragmas, and pool jobs.
    """
    kinds = (a.kind, b.kind)
    if not (kinds[0] in _COMMUTING and kinds[1] in _COMMUTING) or kinds == _TWO_DELIVERIES:
        return False
    x, y = a.target, b.target
    if not isinstance(x, Op) or not isinstance(y, Op) or x.channel is y.channel:
        return False
    if a.kind is K_EXEC and b.kind is K_EXEC:
        return x.commutes(y)
    executed = x if a.kind is K_EXEC else y
    return executed.footprint() is not None
