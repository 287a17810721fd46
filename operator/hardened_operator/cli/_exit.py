"""Exit codes, mapped once at the command line's boundary (see ``hardened_operator.errors``)."""

from __future__ import annotations

from typing import Final

from hardened_operator.errors import HardenedError, InputError, PolicyError

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
"""Understood, and the answer is no: findings, a stale file, an unmappable conversion, a
refusal or failure of the cluster or the local control plane."""
EXIT_BAD_INPUT: Final = 2
"""Unusable input or options (click's own usage errors exit 2 too)."""


def exit_code(error: HardenedError) -> int:
    """The exit code of a command that stops on ``error``."""
    if isinstance(error, InputError | PolicyError):
        return EXIT_BAD_INPUT
    return EXIT_FAILED
