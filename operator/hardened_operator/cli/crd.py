"""``hardened crd``: print (or check) the HardenedService CRD generated from the typed model."""

from __future__ import annotations

from pathlib import Path

import click

from hardened_operator.cli._io import check_generated, generated_file_options, write_output


@click.command()
@generated_file_options
def crd(check_file: Path | None, output: Path | None) -> None:
    """Print the HardenedService CRD generated from the typed model.

    \b
    Regenerate the committed copy:  hardened crd -o crds/hardenedservices.ai-system.io.yaml
    Check it is current (CI):       hardened crd --check crds/hardenedservices.ai-system.io.yaml
    """
    from hardened_operator.model import crd_yaml

    text = crd_yaml()
    if check_file is not None:
        check_generated(check_file, text, "hardened crd")
        return
    write_output(text, output)
