"""``hardened dockerfile lint|fix``: Dockerfiles whose final stage runs non-root."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from hardened_operator import conventions
from hardened_operator.errors import InputError

_BASE_HELP = f"The hardened base image (default {conventions.HARDENED_BASE_IMAGE})."


def _read(path: Path) -> str:
    try:
        # Bytes, not read_text(): universal newlines would turn CRLF files into LF ones.
        return path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        click.echo(f"error: {path}: cannot read: {exc}", err=True)
        sys.exit(2)


@click.group()
def dockerfile() -> None:
    """Lint and fix Dockerfiles so that their final stage runs non-root."""


@dockerfile.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--base", default=conventions.HARDENED_BASE_IMAGE, show_default=True, help=_BASE_HELP)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def lint(files: tuple[Path, ...], base: str, fmt: str) -> None:
    """Report what keeps FILE...'s final stage from running hardened.

    Exit codes: 0 clean; 1 findings; 2 unreadable input (file and line given).
    """
    from hardened_operator.migrate.dockerfile import Finding, lint_dockerfile

    findings: list[Finding] = []
    for path in files:
        try:
            findings.extend(lint_dockerfile(_read(path), file=str(path), base=base))
        except InputError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
    if fmt == "json":
        click.echo(json.dumps([f.as_dict() for f in findings], indent=2))
    else:
        for finding in findings:
            click.echo(finding.describe())
        if not findings:
            click.echo(f"{len(files)} Dockerfile(s): no findings", err=True)
    sys.exit(1 if findings else 0)


@dockerfile.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--base", default=conventions.HARDENED_BASE_IMAGE, show_default=True, help=_BASE_HELP)
@click.option("--in-place", is_flag=True, help="Rewrite FILE instead of printing to stdout.")
def fix(file: Path, base: str, in_place: bool) -> None:
    """Make FILE's final stage non-root and hardened; builder stages are left alone.

    Prints the result (or rewrites FILE with --in-place); lists the changes, and what needs a
    human, on stderr. Exit codes: 0 done; 2 unreadable input.
    """
    from hardened_operator.migrate.dockerfile import fix_dockerfile

    source = _read(file)
    try:
        result = fix_dockerfile(source, file=str(file), base=base)
    except InputError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    for change in result.changes:
        click.echo(f"{file}: fixed: {change}", err=True)
    for manual in result.manual:
        click.echo(f"{file}: by hand: {manual}", err=True)
    if in_place:
        if result.text != source:
            with file.open("w", encoding="utf-8", newline="") as handle:
                handle.write(result.text)
    else:
        sys.stdout.write(result.text)
