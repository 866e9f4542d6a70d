"""Exceptions raised by harness.

Two families:

* *schedule failures* — what a body did wrong under one schedule. The body's
  own exception is the usual one; :class:`DeadlockError` and
  :class:`LivelockError` are raised by the engine when the body cannot finish.
  They end one schedule and are reported with a token and a timeline.
* *harness errors* — misuse or lost control (:class:`TokenError`,
  :class:`EscapeError`, :class:`NondeterminismError`). They stop exploration:
  a result computed without control would be a lie.
"""

from __future__ import annotations


class HarnessError(Exception):
    """Base class of errors about harness itself (not about the code under test)."""


class TokenError(HarnessError, ValueError):
    """A replay token is malformed, corrupt, or from an unknown format version.

    The message is always one line, so a CLI can print it as is.
    """


class EscapeError(HarnessError):
    """The body did something that escapes the simulation's control.

    Examples: starting a real thread, a wall-clock ``time.sleep``, a real socket,
    ``call_soon_threadsafe`` from another thread. Inside a simulation that would
    make schedules irreproducible, so it is reported instead of tolerated.
    """


class NondeterminismError(HarnessError):
    """A replay did not follow the recorded schedule.

    ``step`` is the first differing step (1-based, or ``None`` when only the final
    digest differs), ``detail`` says what differed and ``suspects`` lists what the
    body did that harness does not control (calls to ``os.urandom``, ``uuid``,
    unseeded module-level ``random`` …) — the likely leak.
    """

    def __init__(
        self, message: str, *, step: int | None = None, suspects: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message)
        self.step = step
        self.suspects = suspects


class ScheduleError(Exception):
    """Base class of the engine's own schedule failures (the body could not finish)."""


class DeadlockError(ScheduleError):
    """Nothing is runnable, no timer is pending, and the body has not finished."""


class LivelockError(ScheduleError):
    """The schedule exceeded its step budget (``max_steps``) without finishing."""


class InterleavingError(AssertionError):
    """Raised by :func:`harness.check` when some schedule fails.

    Carries the replay ``token``, the ``timeline`` and the body's ``error``.
    """

    def __init__(self, message: str, *, token: str, timeline: str, error: BaseException) -> None:
        super().__init__(message)
        self.token = token
        self.timeline = timeline
        self.error = error
