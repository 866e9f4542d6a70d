"""Command-line entries for stress runs, report merging and the CI gate (filled in below)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, TextIO

COMMANDS: dict[str, Callable[[argparse.Namespace, TextIO], int]] = {}


def add_commands(sub: Any) -> None:
    return None
