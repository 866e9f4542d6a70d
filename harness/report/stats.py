"""Binomial statistics for flake rates: the Wilson score interval.

A cell's failures are modelled as ``failures`` successes in ``runs``
Bernoulli trials. The Wilson score interval is used rather than the normal
("Wald") interval because it stays inside [0, 1] and is still informative
when no failure was seen at all: 0 failures in 180 runs gives a 95 % upper
bound of about 2.09 %, not 0 %.

Invariants:

* ``0 <= low <= failures / runs <= high <= 1`` for every valid input, and
  ``wilson(f, 0) == (0.0, 1.0)`` (no runs, no information);
* for a fixed number of failures the upper bound decreases as clean runs are
  added, which is what makes :func:`runs_to_prove` a search on a monotone
  function;
* :func:`runs_to_prove` is exact: it returns the smallest ``k`` such that
  ``wilson(failures, runs + k)[1] <= max_rate`` (and ``k - 1`` does not
  qualify), or ``None`` when no ``k <= MAX_EXTRA_RUNS`` does.
"""

from __future__ import annotations

import math
from statistics import NormalDist

MAX_EXTRA_RUNS = 10**9
"""The largest answer :func:`runs_to_prove` gives before it says ``None``."""


def _check_counts(failures: int, runs: int) -> None:
    if runs < 0:
        raise ValueError(f"runs must be >= 0, got {runs}")
    if failures < 0:
        raise ValueError(f"failures must be >= 0, got {failures}")
    if failures > runs:
        raise ValueError(f"failures ({failures}) cannot exceed runs ({runs})")


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence}")


def z_score(confidence: float) -> float:
    """The two-sided standard normal quantile for ``confidence`` (1.96 for 0.95)."""
    _check_confidence(confidence)
    return NormalDist().inv_cdf(1.0 - (1.0 - confidence) / 2.0)


def wilson(failures: int, runs: int, confidence: float = 0.95) -> tuple[float, float]:
    """The two-sided Wilson score interval ``(low, high)`` for ``failures / runs``.

    ``runs == 0`` gives ``(0.0, 1.0)``. Bounds are clamped to [0, 1]; the low
    bound is exactly 0 when ``failures == 0`` and the high bound exactly 1
    when ``failures == runs`` (the closed form only reaches them up to
    rounding). Raises :class:`ValueError` for negative counts,
    ``failures > runs`` or a confidence outside (0, 1).
    """
    _check_counts(failures, runs)
    z = z_score(confidence)
    if runs == 0:
        return 0.0, 1.0
    return _wilson(failures, runs, z)


def _wilson(failures: int, runs: int, z: float) -> tuple[float, float]:
    n = float(runs)
    p = failures / n
    z2 = z * z
    denominator = 1.0 + z2 / n
    centre = (p + z2 / (2.0 * n)) / denominator
    half = z * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n)) / denominator
    low = 0.0 if failures == 0 else min(max(centre - half, 0.0), 1.0)
    high = 1.0 if failures == runs else min(max(centre + half, 0.0), 1.0)
    return low, high


def runs_to_prove(
    failures: int, runs: int, max_rate: float, confidence: float = 0.95
) -> int | None:
    """How many more runs, all clean, until the Wilson upper bound is <= ``max_rate``.

    Returns 0 when the bound already is, ``None`` when even
    :data:`MAX_EXTRA_RUNS` more clean runs would not be enough (always the
    case for ``max_rate == 0``). The answer is the smallest such number:
    exponential search finds a bracket, bisection narrows it, and the result
    ``k`` satisfies ``upper(k) <= max_rate < upper(k - 1)`` by construction.
    """
    _check_counts(failures, runs)
    _check_confidence(confidence)
    if not 0.0 <= max_rate <= 1.0:
        raise ValueError(f"max_rate must be between 0 and 1, got {max_rate}")
    z = z_score(confidence)

    def proven(extra: int) -> bool:
        total = runs + extra
        return total > 0 and _wilson(failures, total, z)[1] <= max_rate

    if max_rate >= 1.0 or proven(0):
        return 0
    if not proven(MAX_EXTRA_RUNS):
        return None
    low, high = 0, 1  # invariant: not proven(low), proven(high) once found
    while not proven(high):
        low, high = high, min(high * 2, MAX_EXTRA_RUNS)
    while high - low > 1:
        middle = (low + high) // 2
        if proven(middle):
            high = middle
        else:
            low = middle
    return high
