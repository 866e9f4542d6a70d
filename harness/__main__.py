"""``python -m harness`` — the same as the ``harness`` command."""

from .cli import run

run()
