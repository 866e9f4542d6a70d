"""pytest plugin (DESIGN §5): run ``async def test_x(sim)`` under many schedules.

Registered through the ``pytest11`` entry point, so installing harness is
enough. A test is a *harness test* when it carries ``@pytest.mark.harness(...)``
or requests the ``sim`` fixture (then the marker's defaults apply)::

    @pytest.mark.harness(schedules=300, strategy="pct", mode="parallel")
    async def test_last_writer_wins(sim, tmp_path):
        ...

The test function becomes the body of :func:`harness.explore`: each schedule
calls it with a fresh :class:`harness.Sim` as ``sim`` and the test's other
fixtures as they are (fixtures are set up once per test, not per schedule).
A failing schedule fails the test with a report: the error, the steps of the
timeline that matter (all of them with ``-v``) and, on its own last line, the
command that replays it: ``pytest '<node id>' --harness-replay=h1.…``.

Options override the marker: ``--harness-schedules=N``, ``--harness-seed=S``,
``--harness-strategy=NAME``, ``--harness-replay=TOKEN``.

Invariants:

* the exploration seed of a test is ``blake2b(node id, S)`` where ``S`` is
  ``--harness-seed``, else the marker's ``seed=``, else 0 — never ``hash()``,
  never the xdist worker — so ``pytest -n N`` finds the same failures and
  prints the same tokens as a serial run;
* tokens carry no node id, path or other local detail (``label`` is empty);
* importing this module imports nothing of harness's engine: pytest loads it
  in every session, harness tests or not.

The hook that runs harness tests is registered in ``pytest_configure`` (after
every entry-point plugin) with ``tryfirst``, so it is called before anyio's and
pytest-asyncio's own handling of ``async def`` tests.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import inspect
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from .cli import int_at_least

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ._explore import ExploreResult
    from .trace import Event

STRATEGY_NAMES = ("random", "pct", "exhaustive")
DEFAULTS: dict[str, Any] = {  # the marker's arguments and their defaults (explore's)
    "schedules": 200,
    "strategy": "pct",
    "seed": 0,
    "mode": "fifo",
    "faults": None,
    "recover": None,
    "shrink": True,
    "max_steps": 100_000,
}
MARKER_ARGS = tuple(DEFAULTS)
_REPORT = pytest.StashKey[str]()
_REPLAY_MISUSE = pytest.StashKey[str]()


# ----------------------------------------------------------------- options
def _strategy_name(text: str) -> str:
    if text not in STRATEGY_NAMES:
        raise argparse.ArgumentTypeError(
            f"unknown strategy {text!r} (choose from {', '.join(STRATEGY_NAMES)})"
        )
    return text


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "harness: deterministic schedules for async SQLite code")
    group.addoption(
        "--harness-schedules",
        type=int_at_least(1),
        metavar="N",
        help="schedules per harness test (overrides the marker's schedules=)",
    )
    group.addoption(
        "--harness-seed",
        type=int_at_least(0),
        metavar="S",
        help="base seed; each test explores with a seed derived from S and its node id",
    )
    group.addoption(
        "--harness-strategy",
        type=_strategy_name,
        metavar="NAME",
        help=f"scheduling strategy: {', '.join(STRATEGY_NAMES)} (overrides the marker)",
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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "harness(schedules=200, strategy='pct', seed=0, mode='fifo', faults=None, "
        "recover=None, shrink=True, max_steps=100000): run this async test as a harness "
        "body under many schedules; it receives a harness.Sim as the `sim` fixture",
    )
    token = config.getoption("harness_replay")
    if token is not None:
        from .trace import decode_token

        try:
            decode_token(token)
        except ValueError as exc:  # harness.TokenError: one line, made for this
            raise pytest.UsageError(f"--harness-replay: {exc}") from None
    config.pluginmanager.register(_Runner(), "harness-runner")
    if config.getoption("harness_stress") is not None or config.getoption("harness_report"):
        from .stress._user import register  # registered later, so its pyfunc_call runs first

        register(config)


class _SimPlaceholder:
    """Stands for the Sim until a schedule runs; only harness tests receive a real one."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(
            "the `sim` fixture is only usable as an argument of an `async def` harness test "
            "(a fixture cannot depend on it: each schedule gets a fresh Sim)"
        )

    def __repr__(self) -> str:
        return "<harness sim placeholder>"


@pytest.fixture
def sim() -> object:
    """The schedule's :class:`harness.Sim` (a fresh one per schedule, harness tests only)."""
    return _SimPlaceholder()


def is_harness_test(item: pytest.Item) -> bool:
    """Whether the plugin runs ``item``: it has the marker or requests ``sim``."""
    if not isinstance(item, pytest.Function):
        return False
    return item.get_closest_marker("harness") is not None or "sim" in item.fixturenames


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("harness_replay") is None:
        return
    selected = [item.nodeid for item in items if is_harness_test(item)]
    if len(selected) > 1:
        shown = ", ".join(selected[:3]) + (" …" if len(selected) > 3 else "")
        message = (
            f"--harness-replay replays one test, but {len(selected)} harness tests are "
            f"selected ({shown}): pass the test's node id too"
        )
        if hasattr(config, "workerinput"):  # an xdist worker: a usage error would crash it
            config.stash[_REPLAY_MISUSE] = message
        else:
            raise pytest.UsageError(message)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    text = item.stash.get(_REPORT, None)
    if text is not None and call.when == "call" and report.failed:
        report.longrepr = _longrepr(item, text)
    return report


def _longrepr(item: pytest.Item, text: str) -> Any:
    """The report as pytest's own ``--tb=native`` representation.

    A plain string would do, but pytest's short summary then shows the whole
    string on CI (``running_on_ci()``) and with ``-vv``; with a ``reprcrash`` it
    shows the report's first line — the error — like for any other failure.
    These classes are what pytest and pytest-xdist (de)serialise, so the same
    holds under ``-n``. Falls back to the string if pytest ever moves them.
    """
    try:
        from _pytest._code.code import ReprExceptionInfo, ReprFileLocation, ReprTracebackNative
    except ImportError:  # pragma: no cover - a future pytest
        return text
    path, lineno, _ = item.location
    crash = ReprFileLocation(path, (lineno or 0) + 1, text.split("\n", 1)[0])
    return ReprExceptionInfo(reprtraceback=ReprTracebackNative([text + "\n"]), reprcrash=crash)


# ------------------------------------------------------------------ seeds
def derive_seed(nodeid: str, base: int) -> int:
    """A test's exploration seed: stable across processes, runs and xdist workers."""
    digest = hashlib.blake2b(f"{base}\0{nodeid}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF


def replay_command(item: pytest.Item, token: str) -> str:
    """``pytest '<node id>' --harness-replay=TOKEN``, runnable where pytest was invoked."""
    path, sep, rest = item.nodeid.partition("::")
    config = item.config
    invoked, root = config.invocation_params.dir, config.rootpath
    if path and invoked != root:
        try:
            path = os.path.relpath(root / path, invoked)
        except ValueError:  # pragma: no cover - another drive on Windows
            path = str(root / path)
    nodeid = path + sep + rest
    quoted = "'" + nodeid.replace("'", "'\"'\"'") + "'"
    return f"pytest {quoted} --harness-replay={token}"


# ---------------------------------------------------------------- running
def _options(item: pytest.Function) -> dict[str, Any]:
    """Marker arguments over defaults, command-line options over both (validated)."""
    marker = item.get_closest_marker("harness")
    options = dict(DEFAULTS)
    if marker is not None:
        if marker.args:
            _usage(item, "takes keyword arguments only")
        unknown = sorted(set(marker.kwargs) - set(MARKER_ARGS))
        if unknown:
            _usage(item, f"unknown argument(s) {', '.join(unknown)} (use {', '.join(MARKER_ARGS)})")
        options.update(marker.kwargs)
    config = item.config
    for name in ("schedules", "seed", "strategy"):
        value = config.getoption(f"harness_{name}")
        if value is not None:
            options[name] = value
    _validate(item, options)
    return options


def _validate(item: pytest.Function, o: dict[str, Any]) -> None:
    from .faults import Faults
    from .strategies import Strategy

    def count(name: str, low: int) -> None:
        value = o[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            _usage(item, f"{name}= must be an int >= {low}, not {value!r}")

    count("schedules", 1)
    count("seed", 0)
    count("max_steps", 1)
    strategy = o["strategy"]
    if isinstance(strategy, str):
        if strategy not in STRATEGY_NAMES:
            _usage(item, f"unknown strategy {strategy!r} (choose from {', '.join(STRATEGY_NAMES)})")
    elif isinstance(strategy, Strategy):
        o["strategy"] = copy.deepcopy(strategy)  # strategies are stateful: one per test
    else:
        _usage(item, f"strategy= must be a name or a harness.Strategy, not {strategy!r}")
    if o["mode"] not in ("fifo", "parallel"):
        _usage(item, f"mode= must be 'fifo' or 'parallel', not {o['mode']!r}")
    if o["faults"] is not None and not isinstance(o["faults"], Faults):
        _usage(item, f"faults= must be a harness.Faults, not {o['faults']!r}")
    if o["recover"] is not None and not callable(o["recover"]):
        _usage(item, f"recover= must be an async function taking a Sim, not {o['recover']!r}")
    if not isinstance(o["shrink"], bool):
        _usage(item, f"shrink= must be True or False, not {o['shrink']!r}")


def _usage(item: pytest.Function, message: str) -> NoReturn:
    where = "@pytest.mark.harness on" if item.get_closest_marker("harness") else "harness test"
    pytest.fail(f"{where} {item.name}: {message}", pytrace=False)


def _body(item: pytest.Function) -> Callable[[Any], Any]:
    """The test function as a harness body: ``sim`` per schedule, other fixtures as set up."""
    function = item.obj
    funcargs = item.funcargs
    names = tuple(item._fixtureinfo.argnames)

    def body(sim: Any) -> Any:
        # the test's own coroutine is the schedule's main task: the timeline names it
        return function(**{name: sim if name == "sim" else funcargs[name] for name in names})

    return body


class _Runner:
    """The ``pytest_pyfunc_call`` of harness tests (see the module docstring)."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> bool | None:
        if not is_harness_test(pyfuncitem):
            return None
        function = pyfuncitem.obj
        if hasattr(function, "hypothesis"):
            _usage(
                pyfuncitem,
                "a Hypothesis test cannot also be a harness test; "
                "call harness.hypothesis.run_schedule(data, body) inside it instead",
            )
        if not inspect.iscoroutinefunction(function):
            _usage(pyfuncitem, "a harness test must be an `async def` function")
        options = _options(pyfuncitem)
        misuse = pyfuncitem.config.stash.get(_REPLAY_MISUSE, None)
        if misuse is not None:
            pytest.fail(misuse, pytrace=False)
        token = pyfuncitem.config.getoption("harness_replay")
        if token is not None:
            _replay(pyfuncitem, token, options)
        else:
            _explore(pyfuncitem, options)
        return True


def _verbose(item: pytest.Item) -> bool:
    return item.config.get_verbosity() > 0


def _explore(item: pytest.Function, o: dict[str, Any]) -> None:
    import harness

    from .trace import decode_token

    seed = derive_seed(item.nodeid, o["seed"])
    try:
        result: ExploreResult = harness.explore(
            _body(item),
            schedules=o["schedules"],
            strategy=o["strategy"],
            seed=seed,
            mode=o["mode"],
            faults=o["faults"],
            recover=o["recover"],
            shrink=o["shrink"],
            max_steps=o["max_steps"],
            label="",
        )
    except harness.HarnessError as exc:
        _harness_error(item, exc, "while exploring")
    if not result.failed:
        summary = (
            f"{result.schedules_run} schedules ({result.strategy}, mode {o['mode']}, test seed "
            f"{seed}), {result.distinct_schedules} distinct: no failure; {result.stop_reason.value}"
        )
        item.add_report_section("call", "harness", summary)
        return
    f = result.failures[0]
    headline = (
        f"harness: schedule {f.schedule + 1} failed (budget {o['schedules']}, strategy "
        f"{result.strategy}, mode {o['mode']}, test seed {seed})"
    )
    if f.original_token != f.token:
        before = decode_token(f.original_token).deviations
        headline += f"; shrunk from {before} to {f.deviations} deviation(s)"
    item.user_properties.append(("harness_token", f.token))
    _fail(item, headline, f.error, f.events, f.token, f.notes)


def _replay(item: pytest.Function, token: str, o: dict[str, Any]) -> None:
    import harness

    from .trace import decode_token

    try:
        run = harness.replay(_body(item), token, recover=o["recover"], max_steps=o["max_steps"])
    except harness.NondeterminismError as exc:
        hint = (
            "\n\nIf the code or the test changed since the token was printed, the recorded "
            "schedule may no longer exist: run the test without --harness-replay to explore again."
        )
        _harness_error(item, exc, "while replaying", hint)
    except harness.HarnessError as exc:
        _harness_error(item, exc, "while replaying")
    if run.error is None:
        return
    item.user_properties.append(("harness_token", run.token))
    schedule = decode_token(token)
    headline = (
        f"harness: the replayed schedule failed (mode {schedule.mode}, "
        f"{schedule.deviations} deviation(s))"
    )
    _fail(item, headline, run.error, run.events, run.token, run.notes)


def _fail(
    item: pytest.Function,
    headline: str,
    error: BaseException,
    events: Sequence[Event],
    token: str,
    notes: dict[str, Any],
) -> NoReturn:
    import harness

    from ._excerpt import failure_report
    from .trace import format_timeline

    report = failure_report(
        headline=headline,
        error=error,
        events=events,
        replay=replay_command(item, token),
        verbose=_verbose(item),
        notes=notes,
    )
    item.stash[_REPORT] = report
    raise harness.InterleavingError(
        report, token=token, timeline=format_timeline(events), error=error
    ) from error


def _harness_error(
    item: pytest.Function, exc: BaseException, when: str, hint: str = ""
) -> NoReturn:
    text = f"harness: {type(exc).__name__} {when} {item.name}: {exc}{hint}"
    item.stash[_REPORT] = text
    raise exc


# ------------------------------------------------------------------- anyio
def simulated_backend(*, mode: str = "fifo", seed: int = 0) -> tuple[str, dict[str, Any]]:
    """See :func:`harness.anyio.simulated_backend` (kept here for fixtures that import it)."""
    from .anyio import simulated_backend as backend

    return backend(mode=mode, seed=seed)
