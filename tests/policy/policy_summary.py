"""Counts the conformance tests record and ``conftest.py`` prints in the terminal summary.

A module of its own (not ``conftest``): other test directories have a ``conftest.py`` too, and
``from conftest import ...`` could pick up the wrong one.
"""

from __future__ import annotations

# (label, matched, total, what "matched" means)
CONFORMANCE_COUNTS: list[tuple[str, int, int, str]] = []
CONFORMANCE_NOTES: list[str] = []
