"""A series of schedules in one process: set-up, replays, tokens and confirmation.

A :class:`Session` installs harness's patches and a work directory for as long
as an exploration (or a replay) lasts, and knows how to run one schedule of a
:class:`~harness._run.Program` under any strategy: a strategy exploring, a
list of choices by index (shrinking, h1 tokens), choices by meaning
(shrinking), or a semantic schedule (h2 tokens). It turns a run into its
token and *confirms* a failure: the token's schedule is replayed and must
give the same semantic trace and the same error type — otherwise
:class:`~harness.NondeterminismError` names the first differing event and
the likely cause.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from types import TracebackType

from ._alternatives import ChoiceKey, choice_key
from ._errors import NondeterminismError
from ._patches import controlled
from ._run import Program, RunRecord, run_schedule
from ._run_config import RunConfig
from .shrink import KeyedReplay
from .sqlite._database import default_workroot, forget_exploration
from .strategies import Replay, Strategy
from .strategies.semantic import SemanticReplay
from .tokens import Deviation, Schedule, encode_token, environment, harness_version
from .trace import Event, first_difference

GENERIC_LEAKS = (
    "state kept between schedules (module globals, class attributes, caches)",
    "iteration over a set or dict keyed by objects hashed by identity (harness numbers "
    "tasks and futures; other objects hash by memory address)",
    "iteration over a set of strings (PYTHONHASHSEED)",
)


class Session:
    """Process-wide set-up for a series of schedules: patches and a work directory."""

    def __init__(self, config: RunConfig, label: str = "") -> None:
        self.config = config
        self.label = label
        self.workdir = ""
        self._control = controlled(config.patch_aiosqlite)

    def __enter__(self) -> Session:
        self._control.__enter__()
        self.workdir = tempfile.mkdtemp(prefix="harness-", dir=default_workroot())
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)
        forget_exploration(self.workdir)
        self._control.__exit__(kind, exc, tb)

    # ------------------------------------------------------------- running
    def run(self, program: Program, strategy: Strategy, seed: int) -> RunRecord | None:
        return run_schedule(program, self.config, strategy, seed, self.workdir)

    def _run(self, program: Program, strategy: Strategy) -> RunRecord:
        record = run_schedule(program, self.config, strategy, 0, self.workdir)
        assert record is not None
        return record

    def replay(
        self, program: Program, choices: Sequence[int], sim_seed: int, *, strict: bool = True
    ) -> RunRecord:
        """Run a schedule given as the index taken at each choice point."""
        return self._run(program, Replay(choices, seed=sim_seed, strict=strict))

    def replay_keys(self, program: Program, keys: Sequence[ChoiceKey], sim_seed: int) -> RunRecord:
        """Run a schedule that takes each listed choice where first offered (shrinking)."""
        return self._run(program, KeyedReplay(keys, seed=sim_seed))

    def replay_steps(
        self,
        program: Program,
        steps: Sequence[Deviation],
        sim_seed: int,
        *,
        exact: bool = True,
        strict: bool = True,
    ) -> RunRecord:
        """Run a semantic schedule (the deviations of an h2 token)."""
        strategy = SemanticReplay(
            steps, seed=sim_seed, key_of=choice_key, exact=exact, strict=strict
        )
        return self._run(program, strategy)

    # -------------------------------------------------------------- tokens
    def schedule_of(self, record: RunRecord) -> Schedule:
        return Schedule(
            seed=record.sim_seed,
            mode=self.config.mode,
            faults=self.config.faults,
            label=self.label,
            chaos=self.config.chaos,
            digest=record.digest[:8],
            steps=tuple(record.semantic),
            harness=harness_version(),
            **environment(),  # type: ignore[arg-type]
        )

    def token(self, record: RunRecord) -> str:
        return encode_token(self.schedule_of(record))

    def confirm(self, program: Program, record: RunRecord) -> RunRecord:
        """Replay ``record``'s token; raise NondeterminismError unless it is identical.

        The replay is lenient (a decision that is no longer possible is dropped),
        so that a divergence is reported as the first semantic event that differs.
        """
        again = self.replay_steps(program, record.semantic, record.sim_seed, strict=False)
        if again.digest != record.digest or type(again.error) is not type(record.error):
            raise divergence(record, again)
        return again


def _show(events: list[Event], index: int) -> str:
    if index >= len(events):
        return "(nothing: the run ended)"
    e = events[index]
    return f"{e.actor} {e.kind} {e.text}"


def divergence(first: RunRecord, second: RunRecord, cause: str = "") -> NondeterminismError:
    """Name the first semantic event at which two runs of one schedule differ, and why.

    ``cause`` is what the caller knows (another Python or harness version, a
    token from another body); without it, the runs were in this process and the
    cause is a leak — named where harness saw one.
    """
    i, j = first_difference(first.events, second.events)
    suspects = tuple(dict.fromkeys(first.suspects + second.suspects))
    if not cause:
        named = suspects or GENERIC_LEAKS
        cause = "likely leak: " + ", ".join(named)
    return NondeterminismError(
        f"the same schedule ran differently: step {i + 1} was '{_show(first.events, i)}' "
        f"and then step {j + 1} was '{_show(second.events, j)}'; {cause}",
        step=i + 1,
        suspects=suspects,
    )
