"""The virtual wall clock: ``time`` and ``datetime`` inside a simulation.

Inside a simulation every way a body reads the time reads the virtual clock,
so a timestamp it stores or compares agrees with ``asyncio.sleep`` and
replays identically on any machine:

* ``time.time``, ``time.monotonic``, ``time.perf_counter`` (and ``_ns``);
* ``time.localtime``, ``time.gmtime``, ``time.ctime``, ``time.asctime`` and
  ``time.strftime`` without an explicit time;
* ``datetime.datetime.now`` / ``today`` / ``utcnow`` and ``datetime.date.today``.

Virtual wall-clock time starts at 2026-01-01T00:00:00Z, and the local time
zone is UTC (a host's time zone would make a replay depend on the machine).

``datetime``'s classes are C types whose methods cannot be replaced, so —
much as freezegun does — every module global bound to the ``datetime``
module, to ``datetime.datetime`` or to ``datetime.date`` is swapped, while an
exploration runs, for a proxy module and subclasses that read the virtual
clock (:class:`DatetimeSwap`); the real module is left alone, so ``pickle``
still finds its classes. The subclasses never have instances (every
constructor returns a real ``datetime``/``date``) and ``isinstance``
accepts real instances, so values keep their real type. Outside a
simulation they behave exactly as the real classes.
"""

from __future__ import annotations

import datetime as _datetime
import sys
import time
import types
import warnings
import weakref
from collections.abc import Callable
from typing import Any

from ._context import current_world

EPOCH = 1_767_225_600.0  # 2026-01-01T00:00:00Z: virtual wall-clock time at t = 0
MONOTONIC_BASE = 10_000.0

_real_time = time.time
_real_localtime = time.localtime
_real_gmtime = time.gmtime
_real_strftime = time.strftime
_real_asctime = time.asctime
_real_ctime = time.ctime
RealDatetime = _datetime.datetime
RealDate = _datetime.date


def wall_time() -> float:
    """Seconds since the epoch: virtual inside a simulation, real outside."""
    world = current_world()
    return _real_time() if world is None else EPOCH + world.now()


def virtual(orig: Callable[[], float], offset: float) -> Callable[[], float]:
    def clock() -> float:
        world = current_world()
        return orig() if world is None else offset + world.now()

    clock.__name__ = orig.__name__
    clock.__doc__ = f"harness: virtual inside a simulation, else {orig.__name__}()"
    return clock


def virtual_ns(orig: Callable[[], int], offset: float) -> Callable[[], int]:
    def clock() -> int:
        world = current_world()
        return orig() if world is None else int((offset + world.now()) * 1e9)

    clock.__name__ = orig.__name__
    return clock


def _struct(seconds: float | None) -> time.struct_time:
    return _real_gmtime(wall_time() if seconds is None else seconds)


def localtime(seconds: float | None = None) -> time.struct_time:
    if current_world() is None:
        return _real_localtime(seconds)
    return _struct(seconds)  # the simulation's time zone is UTC


def gmtime(seconds: float | None = None) -> time.struct_time:
    if current_world() is None:
        return _real_gmtime(seconds)
    return _struct(seconds)


def strftime(format: str, t: Any = None) -> str:
    if t is not None or current_world() is None:
        return _real_strftime(format) if t is None else _real_strftime(format, t)
    return _real_strftime(format, _struct(None))


def asctime(t: Any = None) -> str:
    if t is not None or current_world() is None:
        return _real_asctime() if t is None else _real_asctime(t)
    return _real_asctime(_struct(None))


def ctime(seconds: float | None = None) -> str:
    if current_world() is None:
        return _real_ctime(seconds)
    return _real_asctime(_struct(seconds))


TIME_PATCHES: tuple[tuple[str, Callable[..., Any]], ...] = (
    ("localtime", localtime),
    ("gmtime", gmtime),
    ("strftime", strftime),
    ("asctime", asctime),
    ("ctime", ctime),
)


# ------------------------------------------------------------------ datetime
class _AcceptsReal(type):
    """``isinstance(real_datetime, VirtualDatetime)`` is true (values keep their type)."""

    _real: type

    def __instancecheck__(cls, obj: object) -> bool:
        return isinstance(obj, cls._real)

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, cls._real)


def _naive_utc(seconds: float) -> _datetime.datetime:
    return RealDatetime.fromtimestamp(seconds, _datetime.UTC).replace(tzinfo=None)


class VirtualDatetime(RealDatetime, metaclass=_AcceptsReal):
    """``datetime.datetime`` during an exploration: ``now()`` reads the virtual clock."""

    _real = RealDatetime

    def __new__(cls, *args: Any, **kwargs: Any) -> VirtualDatetime:
        return RealDatetime(*args, **kwargs)  # type: ignore[return-value]

    @classmethod
    def now(cls, tz: _datetime.tzinfo | None = None) -> Any:
        if current_world() is None:
            return RealDatetime.now(tz)
        if tz is None:
            return _naive_utc(wall_time())
        return RealDatetime.fromtimestamp(wall_time(), tz)

    @classmethod
    def today(cls) -> Any:
        return cls.now()

    @classmethod
    def utcnow(cls) -> Any:
        if sys.version_info >= (3, 12):
            warnings.warn(
                "datetime.datetime.utcnow() is deprecated and scheduled for removal in a "
                "future version. Use timezone-aware objects to represent datetimes in UTC: "
                "datetime.datetime.now(datetime.UTC).",
                DeprecationWarning,
                stacklevel=2,
            )
        if current_world() is None:
            return RealDatetime.now(_datetime.UTC).replace(tzinfo=None)
        return _naive_utc(wall_time())

    @classmethod
    def fromtimestamp(cls, t: float, tz: _datetime.tzinfo | None = None) -> Any:
        if tz is None and current_world() is not None:
            return _naive_utc(t)  # local time is UTC inside a simulation
        return RealDatetime.fromtimestamp(t, tz)


for _name in ("fromisoformat", "fromordinal", "strptime", "combine", "utcfromtimestamp"):
    if hasattr(RealDatetime, _name):
        setattr(VirtualDatetime, _name, staticmethod(getattr(RealDatetime, _name)))
if hasattr(RealDatetime, "fromisocalendar"):
    VirtualDatetime.fromisocalendar = staticmethod(RealDatetime.fromisocalendar)  # type: ignore[method-assign,assignment]


class VirtualDate(RealDate, metaclass=_AcceptsReal):
    """``datetime.date`` during an exploration: ``today()`` reads the virtual clock."""

    _real = RealDate

    def __new__(cls, *args: Any, **kwargs: Any) -> VirtualDate:
        return RealDate(*args, **kwargs)  # type: ignore[return-value]

    @classmethod
    def today(cls) -> Any:
        if current_world() is None:
            return RealDate.today()
        return _naive_utc(wall_time()).date()

    @classmethod
    def fromtimestamp(cls, t: float) -> Any:
        if current_world() is not None:
            return _naive_utc(t).date()
        return RealDate.fromtimestamp(t)


for _name in ("fromisoformat", "fromordinal", "fromisocalendar"):
    if hasattr(RealDate, _name):
        setattr(VirtualDate, _name, staticmethod(getattr(RealDate, _name)))


class _DatetimeModule(types.ModuleType):
    """What a module's ``import datetime`` global is during an exploration.

    The real ``datetime`` module is left alone (``pickle`` finds its classes by
    name and identity); modules that imported it see this proxy, whose
    ``datetime`` and ``date`` are the virtual classes and whose every other
    attribute is the real module's.
    """

    def __init__(self) -> None:
        super().__init__("datetime", _datetime.__doc__)
        self.datetime = VirtualDatetime
        self.date = VirtualDate

    def __getattr__(self, name: str) -> Any:
        return getattr(_datetime, name)


_MODULE_PROXY = _DatetimeModule()
_SWAPS: dict[object, object] = {
    RealDatetime: VirtualDatetime,
    RealDate: VirtualDate,
    _datetime: _MODULE_PROXY,
}
_LEFT_ALONE = frozenset({"datetime", "_datetime", "harness._clock", "pickle", "_pickle", "copyreg"})


# by the id of the real object (alive for good in _SWAPS, so no other live object has it)
_SWAP_BY_ID: dict[int, object] = {id(real): virtual for real, virtual in _SWAPS.items()}
_VIRTUAL_IDS = frozenset(id(virtual) for virtual in _SWAPS.values())


class DatetimeSwap:
    """Module globals bound to ``datetime``, ``datetime.datetime`` or ``datetime.date``.

    ``install`` swaps every loaded module's globals for the virtual ones (the
    real ``datetime`` module itself is left alone); ``refresh`` swaps those of
    modules imported since (cheap: it only looks when ``sys.modules`` grew);
    ``uninstall`` puts every real one back.

    A module's namespace is scanned once per process and the names found are
    remembered with the namespace's size: a later exploration looks only at
    those names, and scans a module again when it is a new module object or
    its namespace grew or shrank. (Values are matched by identity, so no
    user object's ``__hash__`` or ``__eq__`` runs.) What this does not see: a
    global that already existed when the module was scanned and is rebound to
    a real ``datetime`` afterwards — the same assumption the in-exploration
    refresh has always made about modules it has seen.
    """

    def __init__(self) -> None:
        self._swapped: list[tuple[dict[str, Any], str, object]] = []
        self._seen = 0
        self._seen_modules: set[str] = set()
        # per module name: (the module, weakly, its namespace size when scanned, names bound to
        # a real datetime object then), kept across explorations
        self._scanned: dict[str, tuple[weakref.ref[Any], int, tuple[str, ...]]] = {}

    def install(self) -> None:
        self.refresh()

    def refresh(self) -> None:
        modules = sys.modules
        if len(modules) == self._seen:
            return
        self._seen = len(modules)
        seen, scanned = self._seen_modules, self._scanned
        for name, module in list(modules.items()):
            if name in seen:
                continue
            seen.add(name)
            known = scanned.get(name)
            if known is not None and known[0]() is module:  # scanned in an earlier exploration
                namespace = module.__dict__
                if known[1] == len(namespace):
                    if known[2]:
                        self._swap(namespace, known[2])
                    continue
            if module is None or name in _LEFT_ALONE:
                continue
            namespace = getattr(module, "__dict__", None)
            if not isinstance(namespace, dict):
                continue
            keys = tuple(k for k, v in list(namespace.items()) if id(v) in _SWAP_BY_ID)
            try:
                scanned[name] = (weakref.ref(module), len(namespace), keys)
            except TypeError:  # an object that takes no weak reference: scanned every time
                pass
            if keys:
                self._swap(namespace, keys)

    def _swap(self, namespace: dict[str, Any], keys: tuple[str, ...]) -> None:
        for key in keys:
            value = namespace.get(key)
            swap = _SWAP_BY_ID.get(id(value))
            if swap is not None:
                namespace[key] = swap
                self._swapped.append((namespace, key, value))

    def uninstall(self) -> None:
        for namespace, key, value in reversed(self._swapped):
            if id(namespace.get(key)) in _VIRTUAL_IDS:  # still one of ours: put the real back
                namespace[key] = value
        self._swapped = []
        self._seen = 0
        self._seen_modules = set()
