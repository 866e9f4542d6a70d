"""Why a history is not linearizable: the shortest contradiction we can find.

**Core.** Start from the part of the history that failed and *relax*
operations one chunk at a time: a relaxed operation keeps its real-time
window but loses its result — it may have taken effect anywhere in its
window, with any result, or not at all. Relaxing only adds possible orders,
so if the history is still not linearizable, the operations that keep their
results contradict each other *whatever the relaxed ones did*. Every
relaxation that preserves the contradiction is kept (chunks halving down to
single operations, as in delta debugging); the core that remains is
1-minimal: relaxing any one more operation makes the rest explainable.
Unknown-outcome operations are relaxed from the start (the search treats
them so already); a crash stays when the core has operations on both sides
of it (a durability violation) or when the contradiction needs it.

**Context.** A core such as "get → 1, then get → 0" is true but terse: the
reader asks where the 1 came from. Relaxed operations are added back *with
their recorded results* when they let some order explain more of the core
(a write a read saw). Any such addition keeps the contradiction — those
operations were free to do anything — so this only makes it readable.

**Orders.** Every order of the core and its context that real time allows is
run through the model and shown failing at its first disagreement.

Invariants: deterministic (a function of the history and the model); each
search attempt has a node budget, and an attempt that exhausts it counts as
"cannot relax", so the core is always a genuine contradiction.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .checker import CRASH, UNKNOWN, Item, Part, agrees, apply, items_of, linearize, relax
from .history import Entry, Status

ATTEMPT_NODES = 200_000
MAX_ORDERS = 5_040  # orders enumerated for the explanation (7!)
MAX_SHOWN_ITEMS = 7  # core + context: beyond this the orders are too many to read


@dataclass(frozen=True)
class Failed:
    """One order of the contradiction and where the model disagrees with it."""

    order: tuple[int, ...]  # indices into Contradiction.items
    at: int  # index (into order) of the first operation the model disagrees with
    expected: str  # what the model gives there


@dataclass(frozen=True)
class Contradiction:
    """Operations whose recorded results no order explains, whatever the others did."""

    items: tuple[Item, ...]  # core and context, in invocation order
    context: tuple[bool, ...]  # per item: shown for context (not part of the core)
    relaxed: int  # how many operations of the part were relaxed (context ones included)
    precedes: tuple[tuple[int, int], ...]  # (a, b): a returned before b was invoked (covering)
    failed: tuple[Failed, ...]  # the orders real time allows, each failing
    orders: int  # how many orders real time allows (MAX_ORDERS: at least that many)

    @property
    def entries(self) -> list[Entry]:
        return [it.entry for it in self.items if it.entry is not None]

    @property
    def core(self) -> list[Entry]:
        return [
            it.entry
            for it, extra in zip(self.items, self.context, strict=True)
            if it.entry is not None and not extra
        ]

    @property
    def spans_crash(self) -> bool:
        return any(it.kind == CRASH for it in self.items)


def shortest(part: Part, model: Callable[[], Any]) -> Contradiction:
    """The 1-minimal contradiction in a non-linearizable part (see the module docstring)."""
    items = part.items()
    relaxed = _relax_all_you_can(items, model)
    core = [it for i, it in enumerate(items) if not relaxed[i] or it.kind == CRASH]
    for crash in [it for it in core if it.kind == CRASH]:
        ops = [it for it in core if it.kind != CRASH]
        spans = any(it.ret < crash.inv for it in ops) and any(it.inv > crash.inv for it in ops)
        without = [it for it in core if it is not crash]
        if not spans and linearize(without, model, max_nodes=ATTEMPT_NODES).ok is False:
            core = without  # neither between its operations nor needed: left out
    others = [it for i, it in enumerate(items) if relaxed[i] and it.kind != CRASH]
    context = _context(core, others, model)
    shown = sorted([*core, *context], key=lambda it: it.inv)
    flags = tuple(any(it is c for c in context) for it in shown)
    orders = _orders(shown)
    failed = tuple(_first_disagreement(shown, order, model) for order in orders)
    return Contradiction(
        tuple(shown), flags, len(others), tuple(_precedes(shown)), failed, len(orders)
    )


def _relax_all_you_can(items: Sequence[Item], model: Callable[[], Any]) -> list[bool]:
    relaxed = [it.kind == UNKNOWN for it in items]
    candidates = [i for i, it in enumerate(items) if it.kind not in (UNKNOWN, CRASH)]

    def still_fails(extra: Sequence[int]) -> bool:
        trial = [relax(it) if relaxed[i] or i in extra else it for i, it in enumerate(items)]
        return linearize(trial, model, max_nodes=ATTEMPT_NODES).ok is False

    size = max(1, len(candidates) // 2)
    while candidates:
        progressed = False
        start = 0
        while start < len(candidates):
            chunk = candidates[start : start + size]
            if still_fails(chunk):
                for i in chunk:
                    relaxed[i] = True
                candidates = candidates[:start] + candidates[start + size :]
                progressed = True
            else:
                start += size
        if size == 1 and not progressed:
            break
        size = max(1, size // 2)
    return relaxed


def _recorded(item: Item) -> Item:
    """A relaxed item with its recorded result back (crashes and unknowns stay as they are)."""
    if item.entry is None or item.entry.status is Status.UNKNOWN:
        return item
    return items_of([item.entry], [])[0]


def _context(core: list[Item], others: list[Item], model: Callable[[], Any]) -> list[Item]:
    """Other operations that make the explanation readable (see the module docstring).

    In invocation order, an operation is added (with its recorded result, or
    as unknown) when it lets some order explain more of the core — a write a
    read saw — or changes what the model expects where an order fails
    without explaining less.
    """
    context: list[Item] = []
    best = _explained(core, core, model)
    seen = _signature(core, model)
    for candidate in others:
        if candidate.entry is None or len(core) + len(context) >= MAX_SHOWN_ITEMS:
            continue
        real = _recorded(candidate)
        trial = sorted([*core, *context, real], key=lambda it: it.inv)
        score = _explained(trial, core, model)
        found = _signature(trial, model)
        if score > best or (score == best and found - seen):
            best = score
            seen |= found
            context.append(real)
    return context


def _signature(items: Sequence[Item], model: Callable[[], Any]) -> set[tuple[str, str]]:
    """Where and how each order fails: (the culprit, what the model expects there)."""
    out = set()
    for order in _orders(items):
        failed = _first_disagreement(items, order, model)
        if failed.at < len(order):
            culprit = items[order[failed.at]]
            name = f"op {culprit.entry.id}" if culprit.entry is not None else "crash"
            out.add((name, failed.expected))
    return out


def _explained(items: Sequence[Item], core: Sequence[Item], model: Callable[[], Any]) -> int:
    """The most core operations one real-time order explains before its first disagreement."""
    best = 0
    for order in _orders(items):
        state = model()
        explained = 0
        for i in order:
            step = apply(state, items[i])
            if not agrees(items[i], step):
                break
            state = step.state
            explained += any(items[i] is c for c in core)
        best = max(best, explained)
    return best


def _first_disagreement(items: Sequence[Item], order: tuple[int, ...], model: Any) -> Failed:
    state = model()
    for at, i in enumerate(order):
        step = apply(state, items[i])
        if not agrees(items[i], step):
            expected = (
                f"raises {type(step.value).__name__}" if step.raised else f"returns {step.value!r}"
            )
            return Failed(order, at, expected)
        state = step.state
    return Failed(order, len(order), "agrees")  # pragma: no cover - not a contradiction


def _precedes(items: Sequence[Item]) -> list[tuple[int, int]]:
    """The covering pairs of real-time order among ``items``."""
    n = len(items)
    before = {(a, b) for a in range(n) for b in range(n) if a != b and items[a].ret < items[b].inv}
    return sorted(
        (a, b)
        for a, b in before
        if not any((a, c) in before and (c, b) in before for c in range(n))
    )


def _orders(items: Sequence[Item]) -> list[tuple[int, ...]]:
    """Every order real time allows (at most MAX_ORDERS), of the items that take effect.

    An unknown-outcome item may also not take effect: it is then missing from the order.
    """
    out: list[tuple[int, ...]] = []
    unknown = [i for i, it in enumerate(items) if it.kind == UNKNOWN]

    def extend(order: list[int], left: list[int]) -> None:
        if len(out) >= MAX_ORDERS:
            return
        if not left:
            out.append(tuple(order))
            return
        first_return = min(items[i].ret for i in left)
        for i in left:
            if items[i].inv <= first_return:
                order.append(i)
                extend(order, [j for j in left if j != i])
                order.pop()

    for size in range(len(unknown) + 1):
        for dropped in itertools.combinations(unknown, size):
            extend([], [i for i in range(len(items)) if i not in dropped])
    return out
