"""``hardened crd``: print (or check) the HardenedService CRD generated from the typed model."""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

import click

from hardened_operator.cli._exit import EXIT_FAILED
from hardened_operator.cli._io import read_input, write_output


@click.command()
@click.option(
    "--check",
    "check_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Compare FILE with the generated CRD; exit 1 with a diff when they differ.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the CRD to this file instead of stdout.",
)
def crd(check_file: Path | None, output: Path | None) -> None:
    """Print the HardenedService CRD generated from the typed model.

    \b
    Regenerate the committed copy:  hardened crd -o crds/hardenedservices.ai-system.io.yaml
    Check it is current (CI):       hardened crd --check crds/hardenedservices.ai-system.io.yaml
    """
    from hardened_operator.model import crd_yaml

    text = crd_yaml()
    if check_file is not None:
        current = read_input(str(check_file), encoding="utf-8")
        if current != text:
            diff = difflib.unified_diff(
                current.splitlines(keepends=True),
                text.splitlines(keepends=True),
                fromfile=str(check_file),
                tofile="generated",
            )
            sys.stderr.writelines(diff)
            click.echo(
                f"error: {check_file} is stale; regenerate with: hardened crd -o {check_file}",
                err=True,
            )
            sys.exit(EXIT_FAILED)
        click.echo(f"{check_file} is up to date", err=True)
        return
    write_output(text, output)
