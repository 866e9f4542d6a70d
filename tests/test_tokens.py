"""Replay tokens: compact, versioned, URL-safe; replays are identical everywhere."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

import harness
from harness.trace import Schedule, decode_token, encode_token
from tests.bodies import lww_two_tasks

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _failure() -> harness.Failure:
    result = harness.explore(lww_two_tasks, schedules=200, mode="parallel", strategy="random")
    assert result.failed
    return result.failures[0]


def test_failure_token_replays_to_the_same_digest_and_error() -> None:
    failure = _failure()
    assert re.fullmatch(r"h1\.[A-Za-z0-9_-]+", failure.token)
    for _ in range(2):
        run = harness.replay(lww_two_tasks, failure.token)
        assert type(run.error) is type(failure.error)
        assert run.trace_digest == failure.trace_digest
        assert run.timeline == failure.timeline


@pytest.mark.parametrize("hashseed", ["0", "12345"])
def test_token_replays_identically_in_another_process(hashseed: str) -> None:
    failure = _failure()
    code = (
        "import harness, tests.bodies as b; "
        f"r = harness.replay(b.lww_two_tasks, {failure.token!r}); "
        "print(r.trace_digest, type(r.error).__name__)"
    )
    env = dict(os.environ, PYTHONHASHSEED=hashseed)
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout.split()
    assert out == [failure.trace_digest, "AssertionError"]


def test_tokens_roundtrip_and_stay_short() -> None:
    import random

    rng = random.Random(0)
    for _ in range(200):
        choices = tuple(rng.choice([0, 0, 0, 1, 2, 3]) for _ in range(rng.randrange(0, 100)))
        s = Schedule(
            seed=rng.randrange(2**31),
            choices=choices,
            mode=rng.choice(["fifo", "parallel"]),
            faults=harness.Faults(busy=rng.randrange(3), full=1, crash=rng.randrange(2)),
            label=rng.choice(["", "metadata-lww/original"]),
            digest="0123abcd",
        )
        token = encode_token(s)
        assert decode_token(token) == s
        assert len(token) < 200


def test_a_hundred_mostly_default_decisions_fit_well_under_200_characters() -> None:
    choices = tuple(1 if i % 7 == 0 else 0 for i in range(100))
    assert len(encode_token(Schedule(seed=2**31 - 1, choices=choices))) < 80


@pytest.mark.parametrize(
    "token",
    [
        "",
        "nope",
        "h1.",
        "h1.AAAA",
        "h2.AYHUmJYCDwEBAKdLBRjtQtY",
        "h1.!!!!",
        "h1.AYHUmJYCDwEBAKdLBRjtQtA",
        "h1.AYHUmJYCDwEBAKdLBRjtQt",
        42,
        None,
    ],
)
def test_bad_tokens_raise_token_error_with_one_line(token: object) -> None:
    with pytest.raises(harness.TokenError) as info:
        harness.replay(lww_two_tasks, token)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)
    assert "\n" not in str(info.value)


def test_flipping_any_character_is_detected() -> None:
    token = _failure().token
    body = token[3:]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for i in range(len(body)):
        other = alphabet[(alphabet.index(body[i]) + 1) % len(alphabet)]
        bad = "h1." + body[:i] + other + body[i + 1 :]
        with pytest.raises(harness.TokenError):
            decode_token(bad)


def test_replaying_a_token_against_another_body_is_nondeterminism() -> None:
    token = _failure().token

    async def other(sim: harness.Sim) -> None:
        db = await sim.connect("x.db")
        await db.close()

    with pytest.raises(harness.NondeterminismError):
        harness.replay(other, token)
