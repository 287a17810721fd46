"""``hardened dockerfile lint|fix``: Dockerfiles whose final stage runs non-root."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from hardened_operator.cli._exit import EXIT_FAILED, EXIT_OK
from hardened_operator.cli._io import STDIN, display_name, read_input

_BASE_HELP = (
    "Your organisation's base image: the final stage must be built on it (rule HF008), and "
    "`fix` rebases a python:* final stage on it. Not checked without it."
)
_PROFILE_HELP = (
    "nonroot: what makes the image run as root (USER, group root, setuid, world-writable "
    "chmod, secrets in ENV/ARG). hardened: also the seed's conventions (no USER root in the "
    "final stage, HEALTHCHECK, security LABELs, VOLUMEs, duplicate WORKDIR)."
)
_PROFILES = ("nonroot", "hardened")
F = TypeVar("F", bound=Callable[..., Any])


def _read(path: str) -> str:
    # Bytes, not universal newlines: CRLF files must stay CRLF; a BOM stays too.
    return read_input(path, encoding="utf-8")


def _profile_option(func: F) -> F:
    return click.option(
        "--profile",
        type=click.Choice(_PROFILES),
        default="nonroot",
        show_default=True,
        help=_PROFILE_HELP,
    )(func)


@click.group()
def dockerfile() -> None:
    """Lint and fix Dockerfiles so that their final stage runs non-root."""


@dockerfile.command()
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option("--base", default=None, metavar="IMAGE", help=_BASE_HELP)
@_profile_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def lint(files: tuple[str, ...], base: str | None, profile: str, fmt: str) -> None:
    """Report what keeps FILE...'s final stage from running non-root ('-' reads stdin).

    Exit codes: 0 clean; 1 findings; 2 unreadable input (file and line given).
    """
    from hardened_operator.migrate.dockerfile import Finding, lint_dockerfile

    if files.count(STDIN) > 1:
        raise click.UsageError("stdin (-) can be given only once")
    findings: list[Finding] = []
    for path in files:
        name = display_name(path)
        findings.extend(lint_dockerfile(_read(path), file=name, base=base, profile=profile))
    if fmt == "json":
        click.echo(json.dumps([f.as_dict() for f in findings], indent=2))
    else:
        for finding in findings:
            click.echo(finding.describe())
        if not findings:
            click.echo(f"{len(files)} Dockerfile(s): no findings ({profile})", err=True)
    sys.exit(EXIT_FAILED if findings else EXIT_OK)


@dockerfile.command()
@click.argument("file")
@click.option("--base", default=None, metavar="IMAGE", help=_BASE_HELP)
@_profile_option
@click.option("--in-place", is_flag=True, help="Rewrite FILE instead of printing to stdout.")
def fix(file: str, base: str | None, profile: str, in_place: bool) -> None:
    """Fix what `lint` (same --profile and --base) finds in FILE's final stage; builder
    stages are left alone. FILE '-' reads stdin.

    Prints the result (or rewrites FILE with --in-place); lists the changes, and what needs a
    human, on stderr. Exit codes: 0 the result passes `lint`; 1 it still has findings (listed:
    they need a human); 2 unreadable input.
    """
    from hardened_operator.migrate.dockerfile import fix_dockerfile

    if in_place and file == STDIN:
        raise click.UsageError("--in-place cannot rewrite stdin")
    name = display_name(file)
    source = _read(file)
    result = fix_dockerfile(source, file=name, base=base, profile=profile)
    for change in result.changes:
        click.echo(f"{name}: fixed: {change}", err=True)
    for manual in result.manual:
        click.echo(f"{name}: by hand: {manual}", err=True)
    if in_place:
        if result.text != source:
            with Path(file).open("w", encoding="utf-8", newline="") as handle:
                handle.write(result.text)
    else:
        sys.stdout.write(result.text)
    if result.remaining:
        where = name if in_place else "the printed result"
        click.echo(
            f"{name}: lint --profile {profile} still finds {len(result.remaining)} "
            f"finding(s) in {where}:",
            err=True,
        )
        for finding in result.remaining:
            click.echo(f"  {finding.describe()}", err=True)
        sys.exit(EXIT_FAILED)
