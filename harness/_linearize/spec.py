"""What the user declares: a store's operations, how to open it, and its sequential model.

A :class:`Spec` ties three things together:

* ``setup(sim) -> store`` opens the store inside a schedule (and again after a
  crash, on the same database files); ``teardown(store)`` closes it;
* the :class:`Operation` list: each has a name, one Hypothesis strategy per
  positional argument, and how to call it on the store (by default the store's
  method of the same name, awaited if it returns an awaitable);
* ``model()`` builds a fresh *sequential model*: a plain object with one method
  per operation, taking the same arguments and returning what the store should
  return (or raising the exception it should raise).

The model's optional hooks (all duck-typed, see :class:`Model`):

* ``key()`` — a hashable snapshot of the state, for memoisation (otherwise the
  model itself must be hashable, with value equality);
* ``partition(op, *args)`` — the independent part of the state an operation
  touches (P-compositionality); ``None`` means "all of it";
* ``crash()`` — drop what does not survive a crash (in-memory caches,
  subscriptions); called on the state the history reached at the crash;
* ``copy()`` — a copy to mutate (otherwise :func:`copy.deepcopy`).

Invariant: a model method that raises must leave the state as it found it
(the checker discards the copy it ran on, so this holds even if it does not).
"""

from __future__ import annotations

import asyncio
import inspect
import sqlite3
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from hypothesis import strategies as st

from ..faults import Faults


@dataclass(frozen=True)
class Call:
    """One invocation in a scenario: an operation's name and its positional arguments."""

    op: str
    args: tuple[Any, ...] = ()

    def __str__(self) -> str:
        return f"{self.op}({', '.join(repr(a) for a in self.args)})"


class AnyOf:
    """A model result that accepts any of several outcomes (the state changes the same way).

    Each alternative is a value (compared with ``==``) or an exception type or
    instance (matched by type), e.g. ``AnyOf("ack:e1", sqlite3.IntegrityError)``
    when a contract leaves open whether a duplicate is acknowledged or refused.
    """

    def __init__(self, *alternatives: Any) -> None:
        if not alternatives:
            raise ValueError("AnyOf needs at least one alternative")
        self.alternatives = alternatives

    def __repr__(self) -> str:
        return "one of " + ", ".join(_shown(a) for a in self.alternatives)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AnyOf) and other.alternatives == self.alternatives

    def __hash__(self) -> int:
        return hash(tuple(_shown(a) for a in self.alternatives))

    def accepts(self, raised: bool, recorded: Any) -> bool:
        """Whether a recorded result (or exception, when ``raised``) is one of the alternatives."""
        for alt in self.alternatives:
            kind = alt if isinstance(alt, type) else type(alt)
            if isinstance(alt, BaseException) or (
                isinstance(alt, type) and issubclass(alt, BaseException)
            ):
                if raised and isinstance(recorded, kind):
                    return True
            elif not raised:
                try:
                    if alt == recorded:
                        return True
                except Exception:
                    continue
        return False


def _shown(value: Any) -> str:
    if isinstance(value, type):
        return value.__name__
    if isinstance(value, BaseException):
        return type(value).__name__
    return repr(value)


class Model(Protocol):
    """The optional hooks of a sequential model (its operations are its other methods)."""

    def key(self) -> Hashable: ...

    def partition(self, op: str, *args: Any) -> Hashable | None: ...

    def crash(self) -> None: ...

    def copy(self) -> Any: ...


StoreCall = Callable[..., Any]  # (store, *args) -> result, or an awaitable of it


@dataclass(frozen=True)
class Operation:
    """One operation of the store's API.

    ``args`` holds one Hypothesis strategy per positional argument. ``run``, if
    given, is called as ``run(store, *args)`` instead of ``store.<name>(*args)``
    (use it to adapt arguments or to normalise a result the model can compare
    with ``==``). ``timeout`` wraps each call in ``asyncio.wait_for`` (virtual
    seconds in a simulation): a call that times out has an *unknown outcome*,
    since an awaited statement that was cancelled may still execute.
    ``generated=False`` keeps an operation out of generated scenarios (it can
    still be used in ``Spec.observe`` or in hand-written scenarios).
    """

    name: str
    args: tuple[st.SearchStrategy[Any], ...] = ()
    run: StoreCall | None = None
    timeout: float | None = None
    generated: bool = True

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"an operation name must be an identifier, not {self.name!r}")
        for strategy in self.args:
            if not isinstance(strategy, st.SearchStrategy):
                raise TypeError(
                    f"operation {self.name!r}: each argument needs a Hypothesis strategy, "
                    f"not {strategy!r}"
                )
        if self.timeout is not None and not self.timeout > 0:
            raise ValueError(f"operation {self.name!r}: timeout must be positive")

    def calls(self) -> st.SearchStrategy[Call]:
        """Calls of this operation with drawn arguments."""
        name = self.name
        return st.tuples(*self.args).map(lambda args: Call(name, tuple(args)))

    async def invoke(self, store: Any, args: tuple[Any, ...]) -> Any:
        """Call the operation on the store and return its result."""
        if self.run is not None:
            result = self.run(store, *args)
        else:
            method = getattr(store, self.name, None)
            if not callable(method):
                raise AttributeError(
                    f"the store has no method {self.name!r} (give Operation(run=...))"
                )
            result = method(*args)
        if inspect.isawaitable(result):
            result = await result
        return result


def operation(
    name: str,
    *args: st.SearchStrategy[Any],
    run: StoreCall | None = None,
    timeout: float | None = None,
    generated: bool = True,
) -> Operation:
    """Shorthand: ``operation("put", st.sampled_from("ab"), st.integers(0, 3))``."""
    return Operation(name, tuple(args), run=run, timeout=timeout, generated=generated)


Setup = Callable[[Any], Awaitable[Any]]
Teardown = Callable[[Any], Awaitable[Any]]


@dataclass(frozen=True)
class Spec:
    """A store under operation testing (see the module docstring).

    ``observe`` lists calls run one after another at the end of every schedule
    and after every recovery from a crash: reads that make the final state —
    and so the durability of acknowledged writes — visible in the history.

    ``indefinite`` lists the exception types after which an operation's outcome
    is unknown (it may or may not have taken effect, at any point after its
    invocation). ``None`` (the default) means :class:`TimeoutError` and
    :class:`asyncio.CancelledError`, plus ``sqlite3.OperationalError`` when the
    fault budget includes ``busy``, ``ioerror`` or ``full`` — a store may pass
    an injected fault on to its caller. Any other exception is a *result*: the
    model must raise an exception of that type for the history to agree.
    """

    setup: Setup
    model: Callable[[], Any]
    operations: Sequence[Operation]
    teardown: Teardown | None = None
    observe: Sequence[Call] = ()
    indefinite: tuple[type[BaseException], ...] | None = None
    name: str = "store"
    _by_name: dict[str, Operation] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not callable(self.setup):
            raise TypeError("Spec(setup=...) must be an async function: async def setup(sim)")
        if not callable(self.model):
            raise TypeError("Spec(model=...) must build a fresh model: a class or a function")
        by_name: dict[str, Operation] = {}
        for op in self.operations:
            if not isinstance(op, Operation):
                raise TypeError(f"Spec(operations=...) takes Operation objects, not {op!r}")
            if op.name in by_name:
                raise ValueError(f"two operations are called {op.name!r}")
            by_name[op.name] = op
        if not any(op.generated for op in by_name.values()):
            raise ValueError("Spec(operations=...) needs at least one generated operation")
        object.__setattr__(self, "operations", tuple(self.operations))
        object.__setattr__(self, "observe", tuple(self.observe))
        object.__setattr__(self, "_by_name", by_name)
        probe = self.model()
        for name in by_name:
            if not callable(getattr(probe, name, None)):
                raise TypeError(f"the model has no method {name!r} for operation {name!r}")
        for call in self.observe:
            self.operation(call.op)

    def operation(self, name: str) -> Operation:
        """The operation called ``name``; ``KeyError`` naming the known ones otherwise."""
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(self._by_name)
            raise KeyError(f"unknown operation {name!r} (known: {known})") from None

    def indefinite_errors(self, faults: Faults | None) -> tuple[type[BaseException], ...]:
        """The exception types that make an outcome unknown under this fault budget."""
        if self.indefinite is not None:
            return self.indefinite
        errors: tuple[type[BaseException], ...] = (TimeoutError, asyncio.CancelledError)
        if faults is not None and (faults.busy or faults.ioerror or faults.full):
            errors += (sqlite3.OperationalError,)
        return errors
