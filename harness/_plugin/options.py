"""The marker's arguments and the command-line options, validated (DESIGN §5).

Options override the marker, the marker overrides the defaults (explore's).
A bad marker value fails the test with one line; a bad option value is a
usage error (argparse types below); ``--harness-setup``/``--harness-teardown``
name ``MODULE:FUNCTION`` and are imported on first use.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import importlib
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from .._args import DEFAULT_STRATEGY, STRATEGY_NAMES, int_at_least
from .._args import workers as workers_arg

if TYPE_CHECKING:
    from ..anyio import SimulatedLoopFactory

DEFAULTS: dict[str, Any] = {  # the marker's arguments and their defaults (explore's)
    "schedules": 200,
    "strategy": DEFAULT_STRATEGY,
    "seed": 0,
    "mode": "fifo",
    "faults": None,
    "recover": None,
    "setup": None,
    "teardown": None,
    "shrink": True,
    "max_steps": 100_000,
    "workers": None,
}
MARKER_ARGS = tuple(DEFAULTS)
_HOOKS = pytest.StashKey[dict[str, Callable[..., Any]]]()


def _strategy_name(text: str) -> str:
    if text not in STRATEGY_NAMES:
        raise argparse.ArgumentTypeError(
            f"unknown strategy {text!r} (choose from {', '.join(STRATEGY_NAMES)})"
        )
    return text


def _function_path(text: str) -> str:
    module, sep, name = text.partition(":")
    if not sep or not module or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected MODULE:FUNCTION, got {text!r}")
    return text


def add_options(parser: pytest.Parser) -> None:
    """The ``harness`` option group."""
    group = parser.getgroup("harness", "harness: deterministic schedules for async SQLite code")
    group.addoption(
        "--harness-schedules",
        type=int_at_least(1),
        metavar="N",
        help="schedules per harness test (overrides the marker's schedules=; default 200)",
    )
    group.addoption(
        "--harness-seed",
        type=int_at_least(0),
        metavar="S",
        help="base seed; each test explores with a seed derived from S and its node id "
        "(default: the marker's seed=, else 0)",
    )
    group.addoption(
        "--harness-strategy",
        type=_strategy_name,
        metavar="NAME",
        help=f"scheduling strategy: {', '.join(STRATEGY_NAMES)} (overrides the marker; "
        f"default {DEFAULT_STRATEGY})",
    )
    group.addoption(
        "--harness-workers",
        type=workers_arg,
        metavar="N|auto",
        help="processes each harness test explores on; results are those of one process "
        "(overrides the marker's workers=; default auto: the CPUs available, 1 under xdist)",
    )
    group.addoption(
        "--harness-setup",
        type=_function_path,
        metavar="MODULE:FUNCTION",
        help="async function taking the Sim, run at the start of every schedule of every "
        "harness test (overrides the marker's setup=)",
    )
    group.addoption(
        "--harness-teardown",
        type=_function_path,
        metavar="MODULE:FUNCTION",
        help="async function taking the Sim, run at the end of every schedule of every "
        "harness test, pass or fail (overrides the marker's teardown=)",
    )
    group.addoption(
        "--harness-replay",
        metavar="TOKEN",
        help="run exactly the schedule of this replay token (select one harness test)",
    )
    group.addoption(
        "--harness-stress",
        type=int_at_least(1),
        metavar="N",
        help="measure flake rates: run each selected test N times (harness tests: N "
        "schedules) and write a flake-rate report; measured failures do not fail the session",
    )
    group.addoption(
        "--harness-report",
        metavar="DIR",
        help="where --harness-stress writes report.json/.md/.html (default: reports)",
    )
    group.addoption(
        "--harness-stress-timeout",
        type=stress_seconds,
        metavar="SECONDS",
        help="with --harness-stress: per-run timeout, enforced from outside the worker "
        f"process; a run past it is killed and counts as timed out (default: "
        f"{STRESS_TIMEOUT:g})",
    )


STRESS_TIMEOUT = 60.0
"""Default per-run timeout of ``--harness-stress`` (seconds)."""


def stress_seconds(text: str) -> float:
    """An argparse type: a number of seconds in (0, 86400]."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 86_400:
        raise argparse.ArgumentTypeError(
            f"expected a number of seconds between 0 and 86400, got {text!r}"
        )
    return value


def options(item: pytest.Function) -> dict[str, Any]:
    """Marker arguments over defaults, command-line options over both (validated)."""
    marker = item.get_closest_marker("harness")
    options = dict(DEFAULTS)
    if marker is not None:
        if marker.args:
            usage(item, "takes keyword arguments only")
        unknown = sorted(set(marker.kwargs) - set(MARKER_ARGS))
        if unknown:
            usage(item, f"unknown argument(s) {', '.join(unknown)} (use {', '.join(MARKER_ARGS)})")
        options.update(marker.kwargs)
    config = item.config
    for name in ("schedules", "seed", "strategy", "workers"):
        value = config.getoption(f"harness_{name}")
        if value is not None:
            options[name] = value
    for name in ("setup", "teardown"):
        hook = hook_option(item, name)
        if hook is not None:
            options[name] = hook
    validate(item, options)
    return options


def hook_option(item: pytest.Function, name: str) -> Callable[..., Any] | None:
    """``--harness-setup``/``--harness-teardown``, imported on first use."""
    path = item.config.getoption(f"harness_{name}")
    if path is None:
        return None
    cache = item.config.stash.setdefault(_HOOKS, {})
    if path not in cache:
        module, _, attr = path.partition(":")
        try:
            cache[path] = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            pytest.fail(f"--harness-{name}={path}: {type(exc).__name__}: {exc}", pytrace=False)
    return cache[path]


def validate(item: pytest.Function, o: dict[str, Any]) -> None:
    from ..faults import Faults
    from ..strategies import Strategy

    def count(name: str, low: int) -> None:
        value = o[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            usage(item, f"{name}= must be an int >= {low}, not {value!r}")

    count("schedules", 1)
    count("seed", 0)
    count("max_steps", 1)
    if o["workers"] is not None:
        count("workers", 1)
    strategy = o["strategy"]
    if isinstance(strategy, str):
        if strategy not in STRATEGY_NAMES:
            usage(item, f"unknown strategy {strategy!r} (choose from {', '.join(STRATEGY_NAMES)})")
    elif isinstance(strategy, Strategy):
        o["strategy"] = copy.deepcopy(strategy)  # strategies are stateful: one per test
    else:
        usage(item, f"strategy= must be a name or a harness.Strategy, not {strategy!r}")
    if o["mode"] not in ("fifo", "parallel"):
        usage(item, f"mode= must be 'fifo' or 'parallel', not {o['mode']!r}")
    if o["faults"] is not None and not isinstance(o["faults"], Faults):
        usage(item, f"faults= must be a harness.Faults, not {o['faults']!r}")
    for name in ("recover", "setup", "teardown"):
        if o[name] is not None and not inspect.iscoroutinefunction(o[name]):
            usage(item, f"{name}= must be an async function taking a Sim, not {o[name]!r}")
        if o[name] is not None:
            from .._explore import takes_a_sim  # the engine, only once a harness test runs

            try:
                takes_a_sim(o[name], f"{name}=")
            except TypeError as exc:
                usage(item, str(exc))
    if not isinstance(o["shrink"], bool):
        usage(item, f"shrink= must be True or False, not {o['shrink']!r}")


def usage(item: pytest.Function, message: str) -> NoReturn:
    where = "@pytest.mark.harness on" if item.get_closest_marker("harness") else "harness test"
    pytest.fail(f"{where} {item.name}: {message}", pytrace=False)


def simulated_options(factory: SimulatedLoopFactory) -> dict[str, Any]:
    """One default-order schedule, as :func:`harness.anyio.simulated_backend` promises."""
    from ..strategies import Replay

    options = dict(DEFAULTS)
    options.update(
        schedules=1,
        strategy=Replay((), seed=factory.seed, strict=False),
        mode=factory.mode,
        shrink=False,
    )
    return options


def is_harness_test(item: pytest.Item) -> bool:
    """Whether the plugin explores ``item``: it has the marker or requests ``sim``."""
    if not isinstance(item, pytest.Function):
        return False
    return item.get_closest_marker("harness") is not None or "sim" in item.fixturenames


def derive_seed(nodeid: str, base: int) -> int:
    """A test's exploration seed: stable across processes, runs and xdist workers."""
    digest = hashlib.blake2b(f"{base}\0{nodeid}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF
