"""Replay tokens: compact, versioned, URL-safe; replays are identical everywhere."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

import harness
from harness.tokens import KINDS, Deviation
from harness.trace import Schedule, decode_token, encode_token
from tests.bodies import lww_two_tasks

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _failure() -> harness.Failure:
    result = harness.explore(lww_two_tasks, schedules=200, mode="parallel", strategy="random")
    assert result.failed
    return result.failures[0]


def test_failure_token_replays_to_the_same_digest_and_error() -> None:
    failure = _failure()
    assert re.fullmatch(r"h2\.[A-Za-z0-9_-]+", failure.token)
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


def _random_steps(rng, count: int) -> tuple[Deviation, ...]:
    steps = []
    event = 0
    for _ in range(count):
        event += rng.randrange(0, 40)
        kind = rng.choice(KINDS)
        fault = {"fault": rng.choice(["busy", "ioerror", "full"]), "crash": "exec"}.get(kind)
        target = rng.choice(["app.db#1", "app.db#2", "sub:chat#1", "pool", "loop"])
        steps.append(
            Deviation(
                event, rng.randrange(5), rng.randrange(3), kind, target, rng.randrange(1, 30), fault
            )
        )
    return tuple(steps)


def test_tokens_roundtrip_and_stay_short() -> None:
    import random

    rng = random.Random(0)
    for _ in range(200):
        s = Schedule(
            seed=rng.randrange(2**31),
            mode=rng.choice(["fifo", "parallel"]),
            faults=harness.Faults(busy=rng.randrange(3), full=1, crash=rng.randrange(2)),
            label=rng.choice(["", "metadata-lww/original"]),
            digest="0123abcd",
            steps=_random_steps(rng, rng.randrange(0, 9)),
            harness=(0, 2, rng.randrange(9)),
            python=(3, rng.choice([11, 12, 13])),
        )
        token = encode_token(s)
        assert token.startswith("h2.")
        assert decode_token(token) == s
        assert len(token) < 200


def test_format_1_schedules_still_roundtrip() -> None:
    import random

    rng = random.Random(1)
    for _ in range(100):
        choices = tuple(rng.choice([0, 0, 0, 1, 2, 3]) for _ in range(rng.randrange(0, 100)))
        s = Schedule(
            seed=rng.randrange(2**31),
            choices=choices,
            format=1,
            harness=(0, 1, 0),
            label=rng.choice(["", "flush-cursor/original"]),
            digest="0123abcd",
        )
        token = encode_token(s)
        assert token.startswith("h1.") and decode_token(token) == s


def test_a_few_deviations_make_a_short_token() -> None:
    steps = _random_steps(__import__("random").Random(2), 3)
    s = Schedule(seed=2**31 - 1, steps=steps, harness=(0, 2, 0), python=(3, 11))
    assert len(encode_token(s)) < 100


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
        bad = "h2." + body[:i] + other + body[i + 1 :]
        with pytest.raises(harness.TokenError):
            decode_token(bad)


def test_replaying_a_token_against_another_body_is_nondeterminism() -> None:
    token = _failure().token

    async def other(sim: harness.Sim) -> None:
        db = await sim.connect("x.db")
        await db.close()

    with pytest.raises(harness.NondeterminismError):
        harness.replay(other, token)
