"""Stress runs: scenarios and user tests repeated across pytest-xdist workers."""
