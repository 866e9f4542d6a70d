"""The bundled scenarios' stores under operation testing (specs in tests/scenario_specs.py).

Each scenario's ``original`` and ``naive-fix`` store fails the operation test
with a readable history — except where its bug is not a model violation
(``NOT_EXPRESSIBLE``, asserted here too) — and its ``reference`` store passes
the very same spec. The stores are the scenarios' own, unchanged.
"""

from __future__ import annotations

from typing import Any

import pytest

import harness
from harness import linearizability as lin
from harness import scenarios
from tests.scenario_specs import NOT_EXPRESSIBLE, SPECS


def options(name: str) -> dict[str, Any]:
    """The scenario's own mode and fault budget (metadata-lww: no faults, see its model)."""
    scenario = scenarios.get(name)
    faults = None if name == "metadata-lww" else scenario.faults
    shape: dict[str, Any] = {"actors": 1} if name == "flush-cursor" else {}  # one agent
    return {"mode": scenario.mode, "faults": faults, **shape}


CASES = [(name, variant) for name in SPECS for variant in ("original", "naive-fix")]


@pytest.mark.parametrize(("name", "variant"), CASES, ids=[f"{n}/{v}" for n, v in CASES])
def test_the_faulty_stores_fail_the_operation_test(name: str, variant: str) -> None:
    result = lin.explore(SPECS[name](variant), scenarios=40, schedules=20, **options(name))
    if (name, variant) in NOT_EXPRESSIBLE:
        assert not result.failed, result.report
        # ... and the scenario's own invariants (fault accounting) do catch it
        assert scenarios.get(name).explore(variant, seed=0).failed
        return
    assert result.failed
    report = result.report
    assert report.startswith(("linearizability violation", "durability violation")), report
    assert f"in {name}/{variant}" in report.splitlines()[0]
    assert "history (one lane per actor" in report and "shortest contradiction" in report
    assert "harness.linearizability.replay(spec, " in report


@pytest.mark.parametrize("name", list(SPECS))
def test_the_reference_store_passes_every_scenario_spec(name: str) -> None:
    result = lin.explore(SPECS[name]("reference"), scenarios=40, schedules=20, **options(name))
    assert not result.failed, result.report


def _fails(name: str, variant: str, scenario: str, **extra: Any) -> str:
    opts = {k: v for k, v in options(name).items() if k in ("mode", "faults")}
    opts.update(extra)
    result = lin.explore_one(SPECS[name](variant), scenario, schedules=100, **opts)
    assert result.failed, f"{name}/{variant} passed {scenario!r}"
    reference = lin.explore_one(SPECS[name]("reference"), scenario, schedules=100, **opts)
    assert not reference.failed, reference.report
    return result.report


def test_metadata_lww_original_the_older_write_lands_last() -> None:
    report = _fails("metadata-lww", "original", "actor 1: set_pair('config', 'main', 'release')")
    assert "get('config') -> 'main', but the model returns 'release' there" in report


def test_writer_contention_original_a_pooled_write_hits_database_is_locked() -> None:
    report = _fails(
        "writer-contention",
        "original",
        "actor 1: run_tool_calls((0.5,))\nactor 2: run_tool_calls((0.5,))",
    )
    assert "raised OperationalError: database is locked" in report


def test_writer_contention_naive_fix_result_events_wait_for_the_slowest_tool() -> None:
    report = _fails("writer-contention", "naive-fix", "actor 1: run_tool_calls((1.5, 0.5))")
    # tool 1 finished at 0.5 s, but its event was emitted with tool 0's, at 1.5 s
    assert "run_tool_calls((1.5, 0.5)) -> (0,), but the model returns (0, 1) there" in report


def test_subscribe_gap_original_a_late_message_is_never_delivered() -> None:
    report = _fails("subscribe-gap", "original", "actor 1: produce('m5')\nactor 2: produce('m6')")
    assert "delivered() -> [3, 4, 6], but the model returns [3, 4, 5, 6] there" in report


def test_subscribe_gap_naive_fix_a_message_is_delivered_twice() -> None:
    report = _fails("subscribe-gap", "naive-fix", "actor 1: produce('m5')\nactor 2: produce('m6')")
    assert "delivered() -> [3, 4, 5, 6, 6], but the model returns [3, 4, 5, 6] there" in report


@pytest.mark.parametrize("variant", ["original", "naive-fix"])
def test_flush_cursor_a_message_is_stored_twice(variant: str) -> None:
    steps = "; ".join(f"step({m!r})" for m in scenarios.flush_cursor.MESSAGES[:3])
    report = _fails("flush-cursor", variant, f"actor 1: {steps}")
    assert "transcript() -> ['user: fix the test', 'user: fix the test'" in report or (
        "'assistant: calling a tool', 'assistant: calling a tool'" in report
    )


def test_hook_batch_original_database_is_locked_reaches_a_hook_caller() -> None:
    report = _fails(
        "hook-batch",
        "original",
        "actor 1: ingest('e1', 's-busy', ('tool start', 'tool end'), 5.0)\n"
        "actor 2: ingest('e2', 's-idle', ('prompt',), 5.0)",
    )
    assert "raised OperationalError: database is locked" in report


def test_hook_batch_naive_fix_acknowledges_a_bad_event_and_keeps_half_of_it() -> None:
    report = _fails(
        "hook-batch", "naive-fix", "actor 1: ingest('e1', 's-busy', ('tool start', None), 0.0)"
    )
    assert "-> 'ack:e1', but the model raises IntegrityError there" in report


def test_hook_batch_naive_fix_loses_an_acknowledged_event_in_a_crash() -> None:
    report = _fails(
        "hook-batch",
        "naive-fix",
        "actor 1: ingest('e1', 's-busy', ('tool start', 'tool end'), 0.0)",
        faults=harness.Faults(crash=1),
    )
    assert report.startswith("durability violation in hook-batch/naive-fix")
    assert "── crash 1 at" in report
    assert "hook_rows('e1') -> [], but the model returns ['tool start', 'tool end'] there" in report
