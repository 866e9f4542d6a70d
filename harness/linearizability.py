"""Operation testing: a store's API against a sequential model, under harness's schedules.

Declare how to open the store, its operations (each with Hypothesis
strategies for its arguments) and a sequential model — a plain class with
the same operations, returning what the store should return::

    from hypothesis import strategies as st
    from harness import linearizability as lin

    class Model:
        def __init__(self): self.data = {}
        def put(self, key, value): self.data[key] = value
        def get(self, key): return self.data.get(key)
        def key(self): return tuple(sorted(self.data.items()))   # hashable state
        def partition(self, op, key, *args): return key           # keys are independent

    spec = lin.Spec(
        setup=KV.open,                     # async def open(sim) -> store
        teardown=KV.close,                 # async def close(store)
        model=Model,
        operations=[
            lin.operation("put", st.sampled_from("ab"), st.integers(0, 3)),
            lin.operation("get", st.sampled_from("ab")),
        ],
        observe=[lin.Call("get", ("a",)), lin.Call("get", ("b",))],
    )
    lin.check(spec, scenarios=25, schedules=40, faults=harness.Faults(crash=1))

:func:`check` draws scenarios (a sequential prefix, a few concurrent actors,
a suffix) with Hypothesis, runs each under many schedules, records the
history of every schedule (invocations, returns, exceptions, and operations
whose outcome is unknown: in flight at a crash, timed out, or ended by an
injected fault) and checks it for **linearizability** — some order of the
operations, consistent with real time, in which the model gives every
recorded result; unknown-outcome operations may take effect anywhere after
their invocation, or not at all — and, across crash and recovery, for
**durability** of acknowledged writes. A failure raises
:class:`LinearizabilityError` whose message shows the scenario, the history
as lanes, the shortest contradiction and a replay command; Hypothesis has
shrunk the scenario and harness the schedule.

Inside a pytest test, call :func:`check` (or :func:`check_one` for a given
scenario); inside your own ``@given`` test, draw ``lin.scenarios(spec)`` and
call :func:`check_one`. :func:`check_history` checks a history you recorded
yourself (:class:`Recorder`); :func:`run_real` runs a scenario on real
aiosqlite and real threads.
"""

from __future__ import annotations

from ._linearize.checker import Verdict as Verdict
from ._linearize.checker import check_history as check_history
from ._linearize.explain import Contradiction as Contradiction
from ._linearize.history import Entry as Entry
from ._linearize.history import History as History
from ._linearize.history import Recorder as Recorder
from ._linearize.history import Status as Status
from ._linearize.runner import NotLinearizable as NotLinearizable
from ._linearize.runner import RealSim as RealSim
from ._linearize.runner import UndecidedError as UndecidedError
from ._linearize.runner import run_real as run_real
from ._linearize.scenario import Scenario as Scenario
from ._linearize.scenario import scenarios as scenarios
from ._linearize.search import LinearizabilityError as LinearizabilityError
from ._linearize.search import Result as Result
from ._linearize.search import check as check
from ._linearize.search import check_one as check_one
from ._linearize.search import explore as explore
from ._linearize.search import explore_one as explore_one
from ._linearize.search import replay as replay
from ._linearize.spec import AnyOf as AnyOf
from ._linearize.spec import Call as Call
from ._linearize.spec import Operation as Operation
from ._linearize.spec import Spec as Spec
from ._linearize.spec import operation as operation

__all__ = (
    "AnyOf",
    "Call",
    "Contradiction",
    "Entry",
    "History",
    "LinearizabilityError",
    "NotLinearizable",
    "Operation",
    "RealSim",
    "Recorder",
    "Result",
    "Scenario",
    "Spec",
    "Status",
    "UndecidedError",
    "Verdict",
    "check",
    "check_history",
    "check_one",
    "explain",
    "explore",
    "explore_one",
    "operation",
    "replay",
    "run_real",
    "scenarios",
)


for _name in __all__:  # show public classes by their public name (tracebacks, reprs)
    _value = globals().get(_name)
    if isinstance(_value, type):
        _value.__module__ = __name__
del _name, _value


def explain(verdict: Verdict, model: object, scenario: Scenario | None = None) -> str:
    """The report for a failed verdict: lanes and the shortest contradiction."""
    from ._linearize.report import failure_text

    if verdict.ok:
        return "linearizable"
    return failure_text(verdict, model, scenario=scenario)[0]  # type: ignore[arg-type]
