"""pytest plugin (DESIGN §5): run ``async def test_x(sim)`` under many schedules.

Registered through the ``pytest11`` entry point, so installing harness is
enough. A test is a *harness test* when it carries ``@pytest.mark.harness(...)``
or requests the ``sim`` fixture (then the marker's defaults apply)::

    @pytest.mark.harness(schedules=300, strategy="pct", mode="parallel")
    async def test_last_writer_wins(sim, tmp_path):
        ...

The test function becomes the body of :func:`harness.explore`: each schedule
calls it with a fresh :class:`harness.Sim` as ``sim``. Its async fixtures, and
fixtures that depend on them or on ``sim``, are set up inside every schedule
(:mod:`harness._plugin.fixtures`); its other fixtures are set up once per test,
as usual. ``setup=``/``teardown=`` (marker or ``--harness-setup``/``-teardown``)
run at the start/end of every schedule. A failing schedule fails the test with
a report: the error, the steps of the timeline that matter (all of them with
``-v``) and, on its own last line, the command that replays it: ``pytest '<node
id>' --harness-replay=h1.…``. A passing one says how many schedules ran and what
that proves (:mod:`harness._plugin.summary`).

Options override the marker: ``--harness-schedules=N``, ``--harness-seed=S``,
``--harness-strategy=NAME``, ``--harness-setup=MODULE:NAME``,
``--harness-teardown=MODULE:NAME``, ``--harness-replay=TOKEN``.

Invariants:

* the exploration seed of a test is ``blake2b(node id, S)`` where ``S`` is
  ``--harness-seed``, else the marker's ``seed=``, else 0 — never ``hash()``,
  never the xdist worker, test order or the global ``random`` state — so
  ``pytest -n N`` and ``pytest -p randomly`` find the same failures and print
  the same tokens as a serial run;
* tokens carry no node id, path or other local detail (``label`` is empty);
* a harness test is deterministic: pytest-rerunfailures does not rerun it, and
  its ``harness_token`` user property is recorded once;
* pytest's outcomes raised in a body (``pytest.skip``/``xfail``/``fail``, a
  pytest-timeout timeout) keep their pytest meaning: the engine lets them
  through and the plugin does not catch them;
* importing this module imports nothing of harness's engine: pytest loads it
  in every session, harness tests or not.

The hook that runs harness tests is registered in ``pytest_configure`` (after
every entry-point plugin) with ``tryfirst``, so it is called before anyio's and
pytest-asyncio's own handling of ``async def`` tests; it runs the function
pytest collected, not the synchronous wrapper pytest-asyncio puts in its place.
An ``@pytest.mark.anyio`` test whose ``anyio_backend`` is
:func:`harness.anyio.simulated_backend` runs the same way, as one default-order
schedule, whatever pytest-asyncio's mode.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from ._args import STRATEGY_NAMES
from ._plugin import fixtures as _fixtures
from ._plugin.options import DEFAULTS, MARKER_ARGS, add_options
from ._plugin.options import derive_seed as derive_seed
from ._plugin.options import is_harness_test as is_harness_test
from ._plugin.options import options as _options
from ._plugin.options import simulated_options as _simulated_options
from ._plugin.options import usage as _usage
from ._plugin.program import FUNCTION as _FUNCTION
from ._plugin.program import PLAN as _PLAN
from ._plugin.program import collected_function, schedule_program
from ._plugin.summary import KEY as SUMMARY_KEY
from ._plugin.summary import SummaryReporter
from ._thirdparty import pytest as _pytest

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ._explore import ExploreResult
    from .anyio import SimulatedLoopFactory
    from .trace import Event

__all__ = (  # what harness.stress._user and users' conftest files use
    "DEFAULTS",
    "MARKER_ARGS",
    "STRATEGY_NAMES",
    "_options",
    "collected_function",
    "derive_seed",
    "is_harness_test",
    "replay_command",
    "schedule_program",
    "sim",
    "simulated_backend",
)
TOKEN_KEY = "harness_token"
_REPORT = pytest.StashKey[str]()
_REPLAY_MISUSE = pytest.StashKey[str]()
_SIMULATED = pytest.StashKey["SimulatedLoopFactory | None"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "harness(schedules=200, strategy='pct', seed=0, mode='fifo', faults=None, "
        "recover=None, setup=None, teardown=None, shrink=True, max_steps=100000): run this "
        "async test as a harness body under many schedules; it receives a harness.Sim as "
        "the `sim` fixture",
    )
    token = config.getoption("harness_replay")
    if token is not None:
        from .trace import decode_token

        try:
            decode_token(token)
        except ValueError as exc:  # harness.TokenError: one line, made for this
            raise pytest.UsageError(f"--harness-replay: {exc}") from None
    config.pluginmanager.register(_Runner(), "harness-runner")
    config.pluginmanager.register(SummaryReporter(config), "harness-summary")
    if config.getoption("harness_stress") is not None or config.getoption("harness_report"):
        from .stress._user import register  # registered later, so its pyfunc_call runs first

        register(config)


class _SimPlaceholder:
    """Stands for the Sim until a schedule runs; only harness tests receive a real one."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(
            "the `sim` fixture is only usable inside a harness test's schedule: as an "
            "argument of an `async def` harness test or of a function-scoped fixture it uses"
        )

    def __repr__(self) -> str:
        return "<harness sim placeholder>"


@pytest.fixture
def sim() -> object:
    """The schedule's :class:`harness.Sim` (a fresh one per schedule, harness tests only)."""
    return _SimPlaceholder()


def pytest_itemcollected(item: pytest.Item) -> None:
    if not isinstance(item, pytest.Function):
        return
    item.stash[_FUNCTION] = item.obj
    if is_harness_test(item) and item.config.pluginmanager.has_plugin("rerunfailures"):
        # deterministic: a rerun would fail the same way (and record its token twice)
        item.add_marker(pytest.mark.flaky(reruns=0, condition=False), append=False)


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


# ---------------------------------------------------------------- fixtures
def _may_run_under_harness(item: pytest.Function) -> bool:
    if is_harness_test(item):
        return True
    return "anyio_backend" in item.fixturenames and inspect.iscoroutinefunction(
        collected_function(item)
    )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if not isinstance(item, pytest.Function) or not _may_run_under_harness(item):
        return
    plan = _fixtures.plan_for(item)
    item.stash[_PLAN] = plan
    if plan.refusal is not None and is_harness_test(item):
        pytest.fail(f"harness test {item.name}: {plan.refusal}", pytrace=False)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_fixture_setup(fixturedef: Any, request: Any) -> Generator[None, Any, Any]:
    """Schedule fixtures get a placeholder here; their value is made inside each schedule."""
    item = _pytest.requesting_item(request)
    plan = item.stash.get(_PLAN, None) if isinstance(item, pytest.Function) else None
    if plan is None or not isinstance(item, pytest.Function):
        return (yield)
    if fixturedef.argname not in plan.names and fixturedef.argname != plan.refused:
        return (yield)
    if not is_harness_test(item) and _simulated(item, request) is None:
        return (yield)  # an anyio test on another backend: anyio's, as always
    if plan.refusal is not None:
        pytest.fail(f"anyio test {item.name} on harness's loop: {plan.refusal}", pytrace=False)
    placeholder = _fixtures.InSchedule(fixturedef.argname)
    with _pytest.fixture_function(fixturedef, lambda **_: placeholder):
        return (yield)


def _simulated(item: pytest.Function, request: Any = None) -> SimulatedLoopFactory | None:
    """The simulated anyio backend ``item`` runs on, if any."""
    if _SIMULATED in item.stash:
        return item.stash[_SIMULATED]
    if "anyio_backend" not in item.fixturenames:
        return None
    if "anyio_backend" in item.funcargs:
        backend = item.funcargs["anyio_backend"]
    elif request is not None:
        backend = request.getfixturevalue("anyio_backend")
    else:
        return None
    from .anyio import simulated_factory

    factory = simulated_factory(backend)
    item.stash[_SIMULATED] = factory
    return factory


# ---------------------------------------------------------------- reports
@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    text = item.stash.get(_REPORT, None)
    if text is not None and call.when == "call" and report.failed:
        report.longrepr = _pytest.native_longrepr(item, text)
    return report


# ------------------------------------------------------------------ seeds
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


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Generator[None, Any, Any]:
    """Every ``pytest_pyfunc_call`` of a harness test sees the function pytest collected.

    (pytest-asyncio's ``runtest`` put a synchronous wrapper in ``item.obj``; the
    runner below and ``--harness-stress``'s both need the ``async def``.)
    """
    function = collected_function(pyfuncitem)
    current = pyfuncitem.obj
    if current is function or not (is_harness_test(pyfuncitem) or _simulated(pyfuncitem)):
        return (yield)
    pyfuncitem.obj = function
    try:
        return (yield)
    finally:
        pyfuncitem.obj = current


class _Runner:
    """The ``pytest_pyfunc_call`` of harness tests (see the module docstring)."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> bool | None:
        if is_harness_test(pyfuncitem):
            options = None
        else:
            factory = _simulated(pyfuncitem)
            if factory is None or not inspect.iscoroutinefunction(collected_function(pyfuncitem)):
                return None
            options = _simulated_options(factory)
        function = collected_function(pyfuncitem)
        if hasattr(function, "hypothesis"):
            _usage(
                pyfuncitem,
                "a Hypothesis test cannot also be a harness test; "
                "call harness.hypothesis.run_schedule(data, body) inside it instead",
            )
        if not inspect.iscoroutinefunction(function):
            _usage(pyfuncitem, "a harness test must be an `async def` function")
        if options is None:
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


def _record(item: pytest.Item, key: str, value: str) -> None:
    """Add a user property once (a rerun of the same item must not duplicate it)."""
    if (key, value) not in item.user_properties:
        item.user_properties.append((key, value))


def _explore(item: pytest.Function, o: dict[str, Any]) -> None:
    import harness

    from ._plugin.summary import explored
    from .trace import decode_token

    seed = derive_seed(item.nodeid, o["seed"])
    strategy = o["strategy"]
    try:
        result: ExploreResult = harness.explore(
            **schedule_program(item, o),
            schedules=o["schedules"],
            strategy=strategy,
            seed=seed,
            mode=o["mode"],
            faults=o["faults"],
            recover=o["recover"],
            shrink=o["shrink"],
            max_steps=o["max_steps"],
            workers=o["workers"],
            label="",
        )
    except harness.HarnessError as exc:
        _harness_error(item, exc, "while exploring")
    if not result.failed:
        if result.strategy == "replay":  # a simulated anyio test: the default order, once
            long = short = f"1 schedule (default order, mode {o['mode']}): no failure"
        else:
            if strategy == "exhaustive":
                strategy = harness.Exhaustive()  # what explore runs for the name
            long, short = explored(result, strategy, o["mode"], seed)
        item.add_report_section("call", "harness", long)
        _record(item, SUMMARY_KEY, short)
        return
    f = result.failures[0]
    headline = (
        f"harness: schedule {f.schedule + 1} failed (budget {o['schedules']}, strategy "
        f"{result.strategy}, mode {o['mode']}, test seed {seed})"
    )
    if f.original_token != f.token:
        before = decode_token(f.original_token).deviations
        headline += f"; shrunk from {before} to {f.deviations} deviation(s)"
    _record(item, TOKEN_KEY, f.token)
    _fail(item, headline, f.error, f.events, f.token, f.notes)


def _replay(item: pytest.Function, token: str, o: dict[str, Any]) -> None:
    import harness

    from .trace import decode_token

    program = schedule_program(item, o)
    try:
        run = harness.replay(**program, token=token, recover=o["recover"], max_steps=o["max_steps"])
    except harness.NondeterminismError as exc:
        hint = (
            "\n\nIf the code or the test changed since the token was printed, the recorded "
            "schedule may no longer exist: run the test without --harness-replay to explore again."
        )
        _harness_error(item, exc, "while replaying", hint)
    except harness.HarnessError as exc:
        _harness_error(item, exc, "while replaying")
    if run.error is None:
        _record(item, SUMMARY_KEY, "the replayed schedule passes")
        return
    _record(item, TOKEN_KEY, run.token)
    schedule = decode_token(token)
    headline = (
        f"harness: the replayed schedule failed (mode {schedule.mode}, "
        f"{schedule.deviations} deviation(s))"
    )
    if run.note:
        headline += f"\nharness: {run.note}"
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
