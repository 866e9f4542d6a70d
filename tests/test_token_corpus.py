"""Every token in the corpus replays: same trace (digest), same error — on every Python.

The corpus (``tests/token_corpus.py``) holds tokens issued by earlier
versions of harness; they are never regenerated. A failure here means a
change broke replay for users' tokens (see the corpus's docstring).
"""

from __future__ import annotations

import pytest

import harness
from harness import scenarios
from harness.tokens import decode_token
from tests import corpus_bodies
from tests.scenario_tokens import TOKENS as H1_SCENARIO_TOKENS
from tests.token_corpus import BODY_TOKENS, SCENARIO_TOKENS


def _check(run: harness.Run, token: str, error: str) -> None:
    schedule = decode_token(token)
    assert type(run.error).__name__ == error, run.timeline
    assert run.trace_digest.startswith(schedule.digest)


def _libraries_differ(token: str) -> list[str]:
    """aiosqlite, SQLite or anyio versions other than the token's (Python must not matter)."""
    return [d for d in decode_token(token).differences() if not d.startswith("Python")]


@pytest.mark.parametrize("name", list(BODY_TOKENS))
def test_a_body_token_replays(name: str) -> None:
    token, error = BODY_TOKENS[name]
    options = corpus_bodies.BODIES[name]
    recover = getattr(corpus_bodies, options["recover"]) if "recover" in options else None
    differ = _libraries_differ(token)
    try:
        run = harness.replay(getattr(corpus_bodies, name), token, recover=recover)
    except harness.NondeterminismError as exc:
        # another aiosqlite or anyio may run a body differently: then the error says so
        assert differ and all(d.split()[0] in str(exc) for d in differ), exc
        return
    if run.note:  # the failure replays, by every recorded decision, with a different trace
        assert differ and all(d.split()[0] in run.note for d in differ), run.note
        assert type(run.error).__name__ == error, run.timeline
        return
    _check(run, token, error)
    again = harness.replay(getattr(corpus_bodies, name), token, recover=recover)
    assert again.timeline == run.timeline and again.trace_digest == run.trace_digest


@pytest.mark.parametrize("key", list(SCENARIO_TOKENS), ids="/".join)
def test_a_scenario_token_replays(key: tuple[str, str]) -> None:
    token, error = SCENARIO_TOKENS[key]
    name, store = key
    assert decode_token(token).label == f"{name}/{store}"
    _check(scenarios.get(name).replay(store, token), token, error)


@pytest.mark.parametrize("key", list(H1_SCENARIO_TOKENS), ids="/".join)
def test_a_format_1_scenario_token_still_fails_the_same_way(key: tuple[str, str]) -> None:
    """harness 0.1's tokens (made on CPython 3.11) replay by index; their failure stays."""
    name, store = key
    run = scenarios.get(name).replay(store, H1_SCENARIO_TOKENS[key])
    assert isinstance(run.error, AssertionError), run.timeline


def test_the_corpus_spans_the_constructs_and_decision_kinds_it_is_for() -> None:
    kinds = {
        step.kind
        for token, _ in [*BODY_TOKENS.values(), *SCENARIO_TOKENS.values()]
        for step in decode_token(token).steps
    }
    assert {"exec", "deliver", "notify", "fault", "crash"} <= kinds
    assert all(decode_token(t).format == 2 for t, _ in BODY_TOKENS.values())
