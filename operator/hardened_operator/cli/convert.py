"""``hardened convert``: docker-compose services → HardenedService YAML on stdout."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import click
import yaml

from hardened_operator.errors import ConversionError, InputError


def _namespace(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", value):
        raise click.BadParameter(f"{value!r} is not a valid namespace name (DNS-1123 label)")
    return value


@click.command()
@click.argument("compose_files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--namespace",
    "-n",
    default=None,
    callback=_namespace,
    help="metadata.namespace of every object.",
)
@click.option(
    "--image-prefix",
    default=None,
    help="Image for build-only services: <prefix><service> (e.g. registry.example.com/team/).",
)
@click.option("--strict", is_flag=True, help="Fail (exit 1) if anything has no faithful mapping.")
def convert(
    compose_files: tuple[Path, ...], namespace: str | None, image_prefix: str | None, strict: bool
) -> None:
    """Print a HardenedService for every service of COMPOSE_FILE... (merged in order, like
    `docker compose -f a -f b`). What has no faithful mapping is listed on stderr.

    Every object is validated against the HardenedService model before anything is printed.
    Exit codes: 0 converted; 1 a service cannot be converted, or something is unmappable
    under --strict; 2 unreadable input (file and line given).
    """
    from hardened_operator.migrate.compose import convert_files

    try:
        result = convert_files(
            list(compose_files),
            namespace=namespace,
            image_prefix=image_prefix,
            environ=dict(os.environ),
        )
    except InputError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except ConversionError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    for note in result.notes:
        click.echo(note.describe(), err=True)
    if strict and result.unmappable:
        click.echo(
            f"error: --strict: {len(result.unmappable)} setting(s) have no faithful mapping "
            "(listed above); nothing printed",
            err=True,
        )
        sys.exit(1)
    click.echo(
        yaml.dump_all(result.documents, Dumper=_NoAliasDumper, sort_keys=False, width=100),
        nl=False,
    )


class _NoAliasDumper(yaml.SafeDumper):
    """Probes share one command list; print it three times, not as &id001/*id001."""

    def ignore_aliases(self, data: object) -> bool:
        return True
