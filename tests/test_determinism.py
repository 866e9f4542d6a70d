"""Failures are confirmed by replay; a body that is not deterministic is named, not reported."""

from __future__ import annotations

import asyncio
import itertools
import uuid

import pytest

import harness

_calls = itertools.count()


async def leaks_state_between_schedules(sim: harness.Sim) -> None:
    n = next(_calls)  # module state: the replay sees another value
    db = await sim.connect("d.db")
    for _ in range(n % 3):
        await db.execute("SELECT 1")
    await asyncio.gather(db.execute("SELECT 2"), db.execute("SELECT 3"))
    await db.close()
    assert n < 3


def test_a_failure_that_does_not_replay_is_reported_as_nondeterminism() -> None:
    with pytest.raises(harness.NondeterminismError) as info:
        harness.explore(leaks_state_between_schedules, schedules=10, strategy="random")
    message = str(info.value)
    assert "step" in message and "likely leak" in message
    assert "state kept between schedules" in message


async def random_uuid_decides(sim: harness.Sim) -> None:
    db = await sim.connect("u.db")
    if uuid.uuid4().int % 2:
        await db.execute("SELECT 1")
    await asyncio.gather(db.execute("SELECT 2"), db.execute("SELECT 3"))
    await db.close()
    raise AssertionError("always fails")


def test_the_urandom_leak_is_named() -> None:
    # uuid4 draws from os.urandom: some replay differs; the suspect is named
    for _ in range(10):
        try:
            harness.explore(random_uuid_decides, schedules=1)
        except harness.NondeterminismError as exc:
            assert "os.urandom" in str(exc)
            assert any("urandom" in s for s in exc.suspects)
            return
    pytest.fail("uuid4-driven control flow never diverged in 10 tries")


async def seeded(sim: harness.Sim) -> None:
    import random

    db = await sim.connect("r.db")
    # module-level random and sim.random are part of the schedule: deterministic
    for _ in range(random.randrange(3) + sim.random.randrange(3)):
        await db.execute("SELECT 1")
    await asyncio.gather(db.execute("SELECT 2"), db.execute("SELECT 3"))
    await db.close()
    assert sim.random.random() < 0.5


def test_module_random_and_sim_random_replay_exactly() -> None:
    result = harness.explore(seeded, schedules=50, strategy="random", stop_on_first=False)
    assert result.failed
    for failure in result.failures:
        assert harness.replay(seeded, failure.token).trace_digest == failure.trace_digest


def test_check_raises_interleaving_error_with_token_and_timeline() -> None:
    from tests.bodies import lww_two_tasks

    with pytest.raises(harness.InterleavingError) as info:
        harness.check(lww_two_tasks, mode="parallel", schedules=200)
    error = info.value
    assert isinstance(error, AssertionError)
    assert error.token.startswith("h2.") and error.token in str(error)
    assert "INSERT OR REPLACE" in error.timeline and "deviation" in error.timeline
    assert isinstance(error.error, AssertionError)
    assert harness.check(lww_two_tasks, mode="fifo", schedules=50).schedules_run == 50
