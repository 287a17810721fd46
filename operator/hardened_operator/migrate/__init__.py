"""Migration front ends: docker-compose → HardenedService, and Dockerfile lint/fix.

Rule of this package: local files in, YAML/text out. It reads the compose files, env files and
Dockerfiles it is given and nothing else; it never talks to a cluster or the network and never
imports kubernetes, kopf or aiohttp. Every input without a faithful mapping is *reported*
(``Note``), never dropped silently.
"""

from __future__ import annotations

from hardened_operator.migrate.compose import ConversionResult, convert_files
from hardened_operator.migrate.dockerfile import (
    RULES,
    Finding,
    FixResult,
    fix_dockerfile,
    lint_dockerfile,
)
from hardened_operator.migrate.notes import Note

__all__ = [
    "RULES",
    "ConversionResult",
    "Finding",
    "FixResult",
    "Note",
    "convert_files",
    "fix_dockerfile",
    "lint_dockerfile",
]
