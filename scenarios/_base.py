"""The scenario type: one real bug, its workload, invariants and store variants."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import harness
from harness.sqlite._database import default_workroot

from ._env import RealEnv, SimEnv

Workload = Callable[
    [Any, str], Coroutine[Any, Any, None]
]  # (env, variant) -> raises on a violation

VARIANTS = ("original", "naive-fix", "reference")


@dataclass(frozen=True)
class Scenario:
    """A bug from a real pull request, runnable in simulation and on real aiosqlite.

    ``workload(env, variant)`` runs the actors against the chosen store variant
    and raises ``AssertionError`` (usually a ``harness.checks.Violation``) when
    an invariant breaks; ``recover(env, variant)``, if any, runs after an
    injected crash on the same files.
    """

    name: str
    source: str
    summary: str
    invariants: tuple[str, ...]
    mode: str
    faults: harness.Faults | None
    workload: Workload
    recover: Workload | None = None
    schedules: int = 500

    def label(self, variant: str) -> str:
        return f"{self.name}/{variant}"

    def _check(self, variant: str) -> None:
        if variant not in VARIANTS:
            raise ValueError(
                f"unknown store {variant!r} for {self.name} (choose from {', '.join(VARIANTS)})"
            )

    def body(self, variant: str) -> Callable[[harness.Sim], Awaitable[None]]:
        self._check(variant)
        workload = self.workload

        async def body(sim: harness.Sim) -> None:
            await workload(SimEnv(sim), variant)

        body.__qualname__ = f"{self.name}[{variant}]"
        return body

    def recover_body(self, variant: str) -> Callable[[harness.Sim], Awaitable[None]] | None:
        recover = self.recover
        if recover is None:
            return None

        async def body(sim: harness.Sim) -> None:
            await recover(SimEnv(sim), variant)

        body.__qualname__ = f"{self.name}[{variant}].recover"
        return body

    def explore(self, variant: str, **options: Any) -> harness.ExploreResult:
        """Explore this scenario's variant with its mode and fault budget (overridable)."""
        options.setdefault("mode", self.mode)
        options.setdefault("faults", self.faults)
        options.setdefault("schedules", self.schedules)
        return harness.explore(
            self.body(variant),
            recover=self.recover_body(variant),
            label=self.label(variant),
            **options,
        )

    def replay(self, variant: str, token: str) -> harness.Run:
        return harness.replay(self.body(variant), token, recover=self.recover_body(variant))

    def run_real(self, variant: str, *, seed: int = 0, directory: str | None = None) -> None:
        """One run of the workload on real aiosqlite and real threads (raises on a violation)."""
        self._check(variant)
        root = directory or default_workroot()  # tmpfs where available, like the simulation
        with tempfile.TemporaryDirectory(prefix=f"harness-{self.name}-", dir=root) as d:
            env = RealEnv(d, seed=seed)

            async def run() -> None:
                try:
                    await self.workload(env, variant)
                finally:
                    await env.close_leftovers()

            asyncio.run(run())
