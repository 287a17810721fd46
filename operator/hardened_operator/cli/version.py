"""``hardened version``: what is installed (the same as ``hardened --version``)."""

from __future__ import annotations

import platform

import click


@click.command()
def version() -> None:
    """Print the version of hardened-operator (and of Python running it)."""
    from hardened_operator import __version__

    click.echo(f"hardened-operator {__version__} (Python {platform.python_version()})")
