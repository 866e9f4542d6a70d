"""Linearizability of a history against a sequential model.

The search is Wing & Gong's, with Lowe's memoisation ("just-in-time
linearisation"): build a linear order one operation at a time. An operation
may come next when no other pending operation *must* precede it — i.e. its
invocation comes before the earliest return (or deadline) among the
operations not yet placed. Placing it runs the model; a result that differs
from the recorded one prunes the branch. A configuration is the set of
operations placed (a bitmask) and the model state's key; a configuration
seen before is never explored again, which makes the search polynomial in
practice for the histories a few actors produce.

Unknown outcomes: an operation in flight at a crash, timed out, or ended by
an indefinite error may be placed anywhere inside its window — from its
invocation to the first crash after it, or forever — with any result, or
dropped (no effect at all). A crash is an operation of its own at the
instant it happened: everything that returned before it precedes it,
everything invoked after it follows it, and it applies the model's
``crash()`` (what survives a crash).

P-compositionality: when the model's ``partition(op, *args)`` names the
independent part of the state each operation touches, each part's
sub-history is checked on its own (linearizability is local: Herlihy & Wing,
1990); crashes belong to every part. One ``None`` puts everything together.

Positions are doubled so that a crash (odd position ``2p + 1``) sits strictly
between what happened before it (``<= 2p``) and what happened after it.
Invariants: the verdict and the witness order are functions of the history
and the model alone (no hashing of ids, no wall clock); the search never
mutates a model state it has stored (it copies, then applies).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .history import CrashMark, Entry, History, Status
from .spec import AnyOf

INF = 1 << 62
DEFAULT_MAX_NODES = 2_000_000

RETURNED, RAISED, UNKNOWN, CRASH = 0, 1, 2, 3


@dataclass(frozen=True)
class Item:
    """An operation (or a crash) as the search sees it."""

    inv: int
    ret: int
    kind: int
    entry: Entry | None = None
    crash: CrashMark | None = None

    @property
    def label(self) -> str:
        if self.crash is not None:
            return f"crash {self.crash.number}"
        assert self.entry is not None
        return str(self.entry.call)


def items_of(entries: Sequence[Entry], crashes: Sequence[CrashMark]) -> list[Item]:
    """Search items, sorted by invocation (see the module docstring for positions)."""
    out = []
    for e in entries:
        if e.status is Status.UNKNOWN:
            ret = INF if e.deadline is None else 2 * e.deadline
            out.append(Item(2 * e.invoked, ret, UNKNOWN, entry=e))
        else:
            assert e.finished is not None
            kind = RETURNED if e.status is Status.RETURNED else RAISED
            out.append(Item(2 * e.invoked, 2 * e.finished, kind, entry=e))
    for c in crashes:
        out.append(Item(2 * c.position + 1, 2 * c.position + 1, CRASH, crash=c))
    out.sort(key=lambda it: it.inv)
    return out


def relax(item: Item) -> Item:
    """The same operation with its result forgotten: anywhere in its window, or not at all."""
    if item.kind in (RETURNED, RAISED):
        return Item(item.inv, item.ret, UNKNOWN, entry=item.entry)
    return item


class ModelError(TypeError):
    """The model cannot be used by the checker (unhashable state, missing method)."""


def state_key(state: Any) -> Hashable:
    key = getattr(state, "key", None)
    value = key() if callable(key) else state
    try:
        hash(value)
    except TypeError:
        raise ModelError(
            f"model states must be hashable or provide key(); {type(state).__name__} is neither"
        ) from None
    return value  # type: ignore[no-any-return]


def copy_state(state: Any) -> Any:
    own = getattr(state, "copy", None)
    return own() if callable(own) else copy.deepcopy(state)


@dataclass
class Step:
    """What the model did for one call from one state."""

    raised: bool
    value: Any
    state: Any
    key: Hashable


def apply(state: Any, item: Item) -> Step:
    """Run ``item`` on a copy of ``state`` (a crash runs the model's ``crash()``)."""
    new = copy_state(state)
    if item.crash is not None:
        hook = getattr(new, "crash", None)
        if callable(hook):
            hook()
        return Step(False, None, new, state_key(new))
    assert item.entry is not None
    call = item.entry.call
    method = getattr(new, call.op, None)
    if not callable(method):
        raise ModelError(f"the model has no method {call.op!r}")
    try:
        value = method(*call.args)
    except Exception as exc:
        return Step(True, exc, state, state_key(state))
    return Step(False, value, new, state_key(new))


def agrees(item: Item, step: Step) -> bool:
    """Whether the model's step gives the result the history recorded for ``item``."""
    if item.kind in (UNKNOWN, CRASH):
        return True
    assert item.entry is not None
    recorded = item.entry.value
    if not step.raised and isinstance(step.value, AnyOf):
        return step.value.accepts(item.kind == RAISED, recorded)
    if item.kind == RAISED:
        return step.raised and isinstance(recorded, type(step.value))
    if step.raised:
        return False
    try:
        return bool(step.value == recorded)
    except Exception:
        return False


@dataclass
class Search:
    """One run of the search over a list of items (see :func:`linearize`)."""

    ok: bool | None  # None: the node budget ran out before a decision
    order: list[tuple[int, bool]] = field(default_factory=list)  # (item index, applied)
    nodes: int = 0


class _Steps:
    """Memoised model steps: (state key, call) -> Step, shared by all branches."""

    def __init__(self) -> None:
        self._cache: dict[tuple[Hashable, Any], Step] = {}

    def __call__(self, state: Any, key: Hashable, item: Item) -> Step:
        what: Any = item.crash.number if item.crash is not None else item.entry.call  # type: ignore[union-attr]
        try:
            cache_key = (key, what)
            found = self._cache.get(cache_key)
        except TypeError:  # unhashable arguments: no memo for this call
            return apply(state, item)
        if found is None:
            found = self._cache[cache_key] = apply(state, item)
        return found


class _Moves:
    """The moves from a configuration: which pending item may come next (Lowe's rule)."""

    def __init__(self, items: Sequence[Item]) -> None:
        self.n = len(items)
        self.inv = [it.inv for it in items]
        self.ret = [it.ret for it in items]
        self.droppable = [it.kind == UNKNOWN for it in items]

    def __call__(self, mask: int) -> list[tuple[int, bool]]:
        """(item, applied) pairs: every item invoked before the first pending return/deadline.

        An unknown-outcome item may also be dropped (applied=False): it never took effect.
        """
        pending = [i for i in range(self.n) if not (mask >> i) & 1]
        first_return = min(self.ret[i] for i in pending)
        out: list[tuple[int, bool]] = []
        for i in pending:  # items are sorted by invocation
            if self.inv[i] > first_return:
                break
            out.append((i, True))
            if self.droppable[i]:
                out.append((i, False))
        return out


def linearize(
    items: Sequence[Item], model: Callable[[], Any], *, max_nodes: int = DEFAULT_MAX_NODES
) -> Search:
    """Find a linear order of ``items`` the model agrees with (see the module docstring)."""
    if not items:
        return Search(True, [], 0)
    full = (1 << len(items)) - 1
    moves = _Moves(items)
    steps = _Steps()
    start = model()
    seen: set[tuple[int, Hashable]] = set()
    nodes = 0
    # frames: [mask, state, key, moves, next move]; path[k] = the move taken from frame k
    stack: list[list[Any]] = [[0, start, state_key(start), moves(0), 0]]
    path: list[tuple[int, bool]] = []
    seen.add((0, stack[0][2]))
    while stack:
        frame = stack[-1]
        mask, state, key, options, at = frame
        if at >= len(options):
            stack.pop()
            if path:
                path.pop()
            continue
        frame[4] = at + 1
        i, applied = options[at]
        nodes += 1
        if nodes > max_nodes:
            return Search(None, [], nodes)
        new_state, new_key = state, key
        if applied:
            step = steps(state, key, items[i])
            if not agrees(items[i], step):
                continue
            new_state, new_key = step.state, step.key
        new_mask = mask | (1 << i)
        if new_mask == full:
            return Search(True, [*path, (i, applied)], nodes)
        if (new_mask, new_key) in seen:
            continue
        seen.add((new_mask, new_key))
        path.append((i, applied))
        stack.append([new_mask, new_state, new_key, moves(new_mask), 0])
    return Search(False, [], nodes)


@dataclass(frozen=True)
class Part:
    """One independent part of a history (all of it when the model declares no partition)."""

    key: Hashable | None
    entries: tuple[Entry, ...]
    crashes: tuple[CrashMark, ...]

    def items(self) -> list[Item]:
        return items_of(self.entries, self.crashes)


def partitions(history: History, model: Callable[[], Any]) -> list[Part]:
    """Split a history by the model's ``partition(op, *args)`` (see the module docstring)."""
    probe = model()
    split = getattr(probe, "partition", None)
    whole = [Part(None, history.entries, history.crashes)]
    if not callable(split):
        return whole
    groups: dict[Hashable, list[Entry]] = {}
    for entry in history.entries:
        key = split(entry.call.op, *entry.call.args)
        if key is None:
            return whole
        groups.setdefault(key, []).append(entry)
    if len(groups) <= 1:
        return whole
    return [Part(k, tuple(v), history.crashes) for k, v in groups.items()]


@dataclass(frozen=True)
class Verdict:
    """The checker's answer for one history.

    ``ok`` is True when the history is linearizable, False when it is not, and
    ``None`` when the search ran out of its node budget (``undecided``).
    ``part`` is the first part that is not linearizable; ``order`` a witness
    (entry ids in linearization order, unknown ones that took effect included,
    dropped ones left out) when ``ok``.
    """

    ok: bool | None
    history: History
    part: Part | None = None
    order: tuple[int, ...] = ()
    nodes: int = 0
    parts: int = 1

    @property
    def undecided(self) -> bool:
        return self.ok is None

    def __bool__(self) -> bool:
        return self.ok is True


def check_history(
    history: History, model: Callable[[], Any], *, max_nodes: int = DEFAULT_MAX_NODES
) -> Verdict:
    """Is ``history`` linearizable against ``model`` (a class or factory of fresh models)?"""
    parts = partitions(history, model)
    order: list[tuple[int, int]] = []  # (position of the linearization point, entry id)
    nodes = 0
    for part in parts:
        items = part.items()
        found = linearize(items, model, max_nodes=max(1, max_nodes - nodes))
        nodes += found.nodes
        if not found.ok:
            return Verdict(found.ok, history, part=part, nodes=nodes, parts=len(parts))
        for rank, (i, applied) in enumerate(found.order):
            entry = items[i].entry
            if applied and entry is not None:
                order.append((rank, entry.id))
    # each part's witness is in its own order; report them part after part
    return Verdict(True, history, order=tuple(e for _, e in order), nodes=nodes, parts=len(parts))
