"""Command-line argument handling shared by ``harness``'s commands and the pytest plugin.

Bad input is one line on stderr and exit status 2 (DESIGN §7): the parser
raises :class:`UsageError` instead of printing argparse's usage and exiting.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import NoReturn

STRATEGY_NAMES = ("portfolio", "pct", "random", "pos", "exhaustive")
"""The strategies that have names (``harness.strategies.by_name``)."""
DEFAULT_STRATEGY = "portfolio"


class UsageError(Exception):
    """Bad input: printed as one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors raise :class:`UsageError`."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def int_at_least(low: int) -> Callable[[str], int]:
    """An argparse type: an integer >= ``low`` (1: "positive", 0: "non-negative")."""
    what = "a positive integer" if low == 1 else f"an integer >= {low}"
    if low == 0:
        what = "a non-negative integer"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


def workers(text: str) -> int | None:
    """An argparse type: a number of processes, or ``auto`` (``None``: the CPUs available)."""
    if text == "auto":
        return None
    return int_at_least(1)(text)
