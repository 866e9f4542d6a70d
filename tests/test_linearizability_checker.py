"""The linearizability checker on hand-written histories (harness.linearizability, no schedules).

Each history is written event by event with a ``Recorder``: positions are the
order in which things happened. The checker is also compared, on histories
Hypothesis draws, with a brute-force oracle that tries every order.
"""

from __future__ import annotations

import itertools
import sqlite3
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import linearizability as lin
from harness._linearize.checker import UNKNOWN, ModelError, agrees, apply, items_of


class KV:
    """A key-value model whose keys are independent."""

    def __init__(self) -> None:
        self.data: dict[str, int] = {}

    def put(self, key: str, value: int) -> None:
        self.data[key] = value

    def get(self, key: str) -> int | None:
        return self.data.get(key)

    def incr(self, key: str) -> int:
        self.data[key] = self.data.get(key, 0) + 1
        return self.data[key]

    def pop(self, key: str) -> int:
        if key not in self.data:
            raise KeyError(key)
        return self.data.pop(key)

    def key(self) -> Any:
        return tuple(sorted(self.data.items()))

    def partition(self, op: str, key: str, *args: Any) -> str:
        return key


class WholeKV(KV):
    """The same model without a partition: the whole history is one part."""

    partition = None  # type: ignore[assignment]


def ok(history: lin.History, model: Any = KV) -> bool:
    verdict = lin.check_history(history, model)
    assert verdict.ok is not None
    return verdict.ok


def test_a_sequential_history_the_model_agrees_with_is_linearizable() -> None:
    r = lin.Recorder()
    r.returned(r.invoke("a", "put", "x", 1))
    r.returned(r.invoke("a", "incr", "x"), 2)
    r.returned(r.invoke("a", "get", "x"), 2)
    assert ok(r.history())
    r.returned(r.invoke("a", "get", "x"), 1)  # a stale read after everything returned
    assert not ok(r.history())


def test_overlapping_operations_may_take_effect_in_either_order() -> None:
    for seen in (None, 1):
        r = lin.Recorder()
        put = r.invoke("a", "put", "x", 1)
        get = r.invoke("b", "get", "x")
        r.returned(get, seen)
        r.returned(put)
        assert ok(r.history()), seen
    r = lin.Recorder()
    put = r.invoke("a", "put", "x", 1)
    get = r.invoke("b", "get", "x")
    r.returned(get, 2)  # no write of 2 anywhere
    r.returned(put)
    assert not ok(r.history())


def test_real_time_order_is_kept_between_operations_that_do_not_overlap() -> None:
    r = lin.Recorder()
    r.returned(r.invoke("a", "put", "x", 1))
    r.returned(r.invoke("b", "put", "x", 2))  # invoked after the first returned
    r.returned(r.invoke("a", "get", "x"), 1)
    assert not ok(r.history())


def test_a_lost_increment_is_found_and_explained_by_its_shortest_contradiction() -> None:
    r = lin.Recorder()
    r.returned(r.invoke("main", "put", "y", 7))  # an independent key: not in the contradiction
    a = r.invoke("actor 1", "incr", "x")
    b = r.invoke("actor 2", "incr", "x")
    r.returned(a, 1)
    r.returned(b, 1)
    r.returned(r.invoke("main", "get", "x"), 1)
    verdict = lin.check_history(r.history(), KV)
    assert verdict.ok is False and verdict.parts == 2
    assert verdict.part is not None and verdict.part.key == "x"
    text = lin.explain(verdict, KV)
    assert "[A] incr('x')" in text and "[B] incr('x')" in text
    assert "shortest contradiction: A and B cannot both be right" in text
    assert "A B:  B incr('x') -> 1, but the model returns 2 there" in text
    assert "B A:  A incr('x') -> 1, but the model returns 2 there" in text
    assert "put('y', 7)" in text  # in the lanes, but not tagged
    assert "[C]" not in text


def test_a_read_that_misses_a_write_is_explained_with_the_write_as_context() -> None:
    r = lin.Recorder()
    put = r.invoke("actor 1", "put", "x", 1)
    get = r.invoke("actor 2", "get", "x")
    r.returned(put)
    r.returned(get, 1)
    r.returned(r.invoke("actor 2", "get", "x"), None)
    text = lin.explain(lin.check_history(r.history(), KV), KV)
    assert "(context)" in text  # the put that the first read saw
    assert "but the model returns 1 there" in text


def test_an_operation_in_flight_at_a_crash_may_have_taken_effect_or_not() -> None:
    for seen in (None, 1):
        r = lin.Recorder()
        r.invoke("actor 1", "put", "x", 1)  # never returns: the process dies
        r.crash()
        r.returned(r.invoke("main", "get", "x"), seen)
        history = r.history()
        assert history.entries[0].unknown and history.entries[0].deadline is not None
        assert ok(history), seen


def test_an_operation_in_flight_at_a_crash_cannot_take_effect_after_it() -> None:
    r = lin.Recorder()
    r.invoke("actor 1", "put", "x", 1)
    r.crash()
    r.returned(r.invoke("main", "get", "x"), None)  # it did not happen before the crash...
    r.returned(r.invoke("main", "get", "x"), 1)  # ...so it cannot show up now
    assert not ok(r.history())


def test_a_timed_out_operation_may_take_effect_long_after_its_caller_gave_up() -> None:
    r = lin.Recorder()
    put = r.invoke("actor 1", "put", "x", 1)
    r.timed_out(put)  # wait_for cancelled the await; the statement is still queued
    r.returned(r.invoke("actor 1", "get", "x"), None)
    r.returned(r.invoke("actor 2", "get", "x"), None)
    r.returned(r.invoke("main", "get", "x"), 1)  # it executed after all
    assert ok(r.history())
    r.crash()  # but not after the process died
    r.returned(r.invoke("main", "get", "x"), 1)
    assert ok(r.history())
    r2 = lin.Recorder()
    put = r2.invoke("actor 1", "put", "x", 1)
    r2.timed_out(put)
    r2.crash()
    r2.returned(r2.invoke("main", "get", "x"), None)
    r2.returned(r2.invoke("main", "get", "x"), 1)
    assert not ok(r2.history())


def test_an_acknowledged_write_lost_in_a_crash_is_a_durability_violation() -> None:
    r = lin.Recorder()
    r.returned(r.invoke("actor 1", "put", "x", 1))
    r.invoke("actor 2", "put", "y", 2)  # in flight: may be lost
    r.crash()
    r.returned(r.invoke("main", "get", "y"), None)
    r.returned(r.invoke("main", "get", "x"), None)
    verdict = lin.check_history(r.history(), KV)
    assert verdict.ok is False
    text = lin.explain(verdict, KV)
    assert text.startswith("durability violation")
    assert "crash 1" in text and "[A] actor 1: put('x', 1) -> None" in text


def test_a_crash_the_contradiction_does_not_need_is_left_out_of_it() -> None:
    r = lin.Recorder()
    r.returned(r.invoke("actor 1", "put", "x", 1))
    r.returned(r.invoke("actor 1", "get", "x"), 5)
    r.crash()
    r.returned(r.invoke("main", "get", "x"), 1)
    text = lin.explain(lin.check_history(r.history(), KV), KV)
    assert text.startswith("linearizability violation")


def test_exceptions_are_results_matched_by_type() -> None:
    r = lin.Recorder()
    r.raised(r.invoke("a", "pop", "x"), KeyError("x"))
    assert ok(r.history())
    r = lin.Recorder()
    r.raised(r.invoke("a", "pop", "x"), ValueError("x"))
    assert not ok(r.history())
    r = lin.Recorder()
    r.returned(r.invoke("a", "put", "x", 1))
    r.raised(r.invoke("a", "pop", "x"), KeyError("x"))  # the model pops 1
    assert not ok(r.history())


def test_an_indefinite_error_makes_the_outcome_unknown() -> None:
    locked = sqlite3.OperationalError("database is locked")
    for seen in (None, 1):
        r = lin.Recorder()
        r.raised(r.invoke("a", "put", "x", 1), locked)
        r.returned(r.invoke("a", "get", "x"), seen)
        assert ok(r.history((sqlite3.OperationalError,))), seen
        # without the rule, the exception is a result the model must reproduce
        assert not ok(r.history())


def test_independent_parts_are_checked_separately_and_crashes_belong_to_all() -> None:
    r = lin.Recorder()
    r.returned(r.invoke("a", "put", "x", 1))
    r.returned(r.invoke("b", "put", "y", 2))
    r.crash()
    r.returned(r.invoke("main", "get", "x"), 1)
    r.returned(r.invoke("main", "get", "y"), None)
    verdict = lin.check_history(r.history(), KV)
    assert verdict.ok is False and verdict.parts == 2
    assert verdict.part is not None and verdict.part.key == "y"
    assert len(verdict.part.crashes) == 1
    assert lin.check_history(r.history(), WholeKV).parts == 1


def test_a_witness_order_is_returned_for_a_linearizable_history() -> None:
    r = lin.Recorder()
    put = r.invoke("a", "put", "x", 1)
    get = r.invoke("b", "get", "x")
    r.returned(get, None)
    r.returned(put)
    verdict = lin.check_history(r.history(), WholeKV)
    assert verdict and verdict.order == (get, put)


def test_model_states_must_be_hashable_or_provide_a_key() -> None:
    class Unhashable:
        def __init__(self) -> None:
            self.data: dict[str, int] = {}

        __hash__ = None  # type: ignore[assignment]

        def put(self, key: str, value: int) -> None:
            self.data[key] = value

    r = lin.Recorder()
    r.returned(r.invoke("a", "put", "x", 1))
    with pytest.raises(ModelError, match="hashable or provide key"):
        lin.check_history(r.history(), Unhashable)


def test_a_search_that_runs_out_of_budget_is_undecided_not_a_violation() -> None:
    r = lin.Recorder()
    ids = [r.invoke(f"actor {i}", "incr", "x") for i in range(8)]
    for i in ids:
        r.returned(i, 1)  # all return 1: only one can be right, which takes a search to show
    verdict = lin.check_history(r.history(), KV, max_nodes=20)
    assert verdict.undecided and not verdict
    assert lin.check_history(r.history(), KV).ok is False


def test_lanes_draw_one_lane_per_actor_in_the_order_things_happened() -> None:
    r = lin.Recorder()
    r.returned(r.invoke("main", "put", "x", 0))
    a = r.invoke("actor 1", "put", "x", 1)
    b = r.invoke("actor 2", "get", "x")
    r.returned(a)
    r.timed_out(b)
    r.invoke("actor 1", "incr", "x")
    r.crash()
    r.returned(r.invoke("main", "get", "x"), 2)
    from harness._linearize.lanes import draw

    assert draw(r.history(), {a: "A"}).splitlines() == [
        "#  time    main                 actor 1            actor 2",
        "1  0.000s  put('x', 0) -> None",
        "3  0.000s                       ┌ [A] put('x', 1)",
        "4  0.000s                       │                  ┌ get('x')",
        "5  0.000s                       └ -> None          │",
        "6  0.000s                                          └ ? timed out: may still take effect",
        "7  0.000s                       ┌ incr('x')",
        "── crash 1 at 0.000s: the process dies (in flight: incr('x')); "
        "the store is reopened on the same files ──",
        "9  0.000s  get('x') -> 2",
    ]


def test_a_scenario_reads_back_from_its_text() -> None:
    scenario = lin.Scenario(
        actors=((lin.Call("put", ("a", 1)), lin.Call("get", ("a",))), (lin.Call("incr", ("b",)),)),
        prefix=(lin.Call("put", ("b", None)),),
        suffix=(lin.Call("get", ("a; b: c",)),),
    )
    text = str(scenario)
    assert text.splitlines() == [
        "prefix: put('b', None)",
        "actor 1: put('a', 1); get('a')",
        "actor 2: incr('b')",
        "suffix: get('a; b: c')",
    ]
    assert lin.Scenario.parse(text) == scenario
    for bad in ("actor 2: get('a')", "actor 1: get(a)", "actor 1 get('a')", "actor 1: 1 + 2"):
        with pytest.raises(ValueError, match="scenario line 1"):
            lin.Scenario.parse(bad)


def test_a_spec_refuses_what_it_cannot_run() -> None:
    async def setup(sim: Any) -> Any:
        return None

    get = lin.operation("get", st.just("a"))
    with pytest.raises(TypeError, match="no method 'missing'"):
        lin.Spec(setup=setup, model=KV, operations=[lin.operation("missing")])
    with pytest.raises(ValueError, match="two operations"):
        lin.Spec(setup=setup, model=KV, operations=[get, get])
    with pytest.raises(TypeError, match="Hypothesis strategy"):
        lin.operation("get", "a")  # type: ignore[arg-type]
    with pytest.raises(KeyError, match="unknown operation 'nope'"):
        lin.Spec(setup=setup, model=KV, operations=[get], observe=[lin.Call("nope")])
    with pytest.raises(ValueError, match="at least one generated"):
        lin.Spec(setup=setup, model=KV, operations=[lin.operation("get", generated=False)])


# ------------------------------------------------------------ against a brute-force oracle
def brute_force(history: lin.History, model: Any) -> bool:
    """Try every subset of unknown operations to drop and every order of the rest."""
    items = items_of(history.entries, history.crashes)
    unknown = [i for i, it in enumerate(items) if it.kind == UNKNOWN]
    for size in range(len(unknown) + 1):
        for dropped in itertools.combinations(unknown, size):
            kept = [it for i, it in enumerate(items) if i not in dropped]
            for order in itertools.permutations(kept):
                if any(b.ret < a.inv for x, a in enumerate(order) for b in order[x + 1 :]):
                    continue  # b had returned before a was invoked, but comes after it
                state = model()
                for it in order:
                    step = apply(state, it)
                    if not agrees(it, step):
                        break
                    state = step.state
                else:
                    return True
    return False


@st.composite
def histories(draw: st.DrawFn) -> lin.History:
    """Small histories of 2-3 actors on 1-2 keys, with timeouts, errors and crashes.

    Most results come from a shadow model applied when the operation ends (so
    many histories are linearizable), the others are drawn at random.
    """
    recorder = lin.Recorder()
    shadow = WholeKV()
    busy: dict[str, tuple[int, str, tuple[Any, ...]]] = {}
    actors = [f"actor {i}" for i in range(1, draw(st.integers(2, 3)) + 1)]
    ops = 0

    def run(op: str, args: tuple[Any, ...]) -> tuple[bool, Any]:
        try:
            return False, getattr(shadow, op)(*args)
        except KeyError as exc:
            return True, exc

    while ops < 6 or busy:
        idle = [a for a in actors if a not in busy]
        moves = (["invoke"] if idle and ops < 6 else []) + (["end"] if busy else [])
        if busy and draw(st.integers(0, 9)) == 0:
            moves.append("crash")
        move = draw(st.sampled_from(moves))
        if move == "invoke":
            actor = draw(st.sampled_from(idle))
            op = draw(st.sampled_from(("put", "get", "incr", "pop")))
            key = draw(st.sampled_from(("x", "y")))
            args = (key, draw(st.integers(0, 2))) if op == "put" else (key,)
            busy[actor] = (recorder.invoke(actor, op, *args), op, args)
            ops += 1
        elif move == "end":
            actor = draw(st.sampled_from(sorted(busy)))
            op_id, op, args = busy.pop(actor)
            how = draw(st.sampled_from(("true", "true", "true", "random", "io", "timeout")))
            if how == "true":
                raised, value = run(op, args)
                (recorder.raised if raised else recorder.returned)(op_id, value)
            elif how == "random":
                recorder.returned(op_id, draw(st.sampled_from((None, 0, 1, 2))))
            else:
                if draw(st.booleans()):
                    run(op, args)  # it took effect, though the caller cannot know
                if how == "io":
                    recorder.raised(op_id, OSError("disk I/O error"))
                else:
                    recorder.timed_out(op_id)
        else:
            for _, op, args in busy.values():
                if draw(st.booleans()):
                    run(op, args)
            recorder.crash()
            busy.clear()
    return recorder.history(indefinite=(OSError,))


@settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(histories())
def test_the_checker_agrees_with_brute_force_and_partitioning_changes_nothing(
    history: lin.History,
) -> None:
    expected = brute_force(history, WholeKV)
    assert lin.check_history(history, WholeKV).ok is expected
    assert lin.check_history(history, KV).ok is expected
    if not expected:  # every contradiction reported is a real one
        verdict = lin.check_history(history, KV)
        assert verdict.part is not None
        from harness._linearize.explain import shortest

        core = shortest(verdict.part, KV)
        assert core.failed and all(f.at < len(f.order) for f in core.failed)
