"""``hardened convert``: docker-compose services → HardenedService YAML on stdout."""

from __future__ import annotations

import os
from pathlib import Path

import click
import yaml

from hardened_operator.cli._io import STDIN, output_option, read_input, write_output
from hardened_operator.errors import ConversionError


def _namespace(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    from hardened_operator.model.names import is_dns1123_label

    if value is not None and not is_dns1123_label(value):
        raise click.BadParameter(f"{value!r} is not a valid namespace name (DNS-1123 label)")
    return value


@click.command()
@click.argument("compose_files", nargs=-1, required=True, metavar="COMPOSE_FILE...")
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
@output_option
def convert(
    compose_files: tuple[str, ...],
    namespace: str | None,
    image_prefix: str | None,
    strict: bool,
    output: Path | None,
) -> None:
    """Print a HardenedService for every service of COMPOSE_FILE... (merged in order, like
    `docker compose -f a -f b`; '-' reads standard input). What has no faithful mapping is
    listed on stderr; the YAML goes to stdout or -o FILE.

    Every object is validated against the HardenedService model before anything is printed.
    Exit codes: 0 converted; 1 a service cannot be converted, or something is unmappable
    under --strict; 2 unreadable input (file and line given).
    """
    from hardened_operator.migrate.compose import convert_files
    from hardened_operator.migrate.compose_load import STDIN_PATH

    if compose_files.count(STDIN) > 1:
        raise click.UsageError("stdin (-) can be given only once")
    stdin = read_input(STDIN) if STDIN in compose_files else None
    result = convert_files(
        [STDIN_PATH if name == STDIN else Path(name) for name in compose_files],
        namespace=namespace,
        image_prefix=image_prefix,
        environ=dict(os.environ),
        stdin=stdin,
    )
    for note in result.notes:
        click.echo(note.describe(), err=True)
    if strict and result.unmappable:
        raise ConversionError(
            f"--strict: {len(result.unmappable)} setting(s) have no faithful mapping "
            "(listed above); nothing printed"
        )
    write_output(
        yaml.dump_all(result.documents, Dumper=_NoAliasDumper, sort_keys=False, width=100),
        output,
    )


class _NoAliasDumper(yaml.SafeDumper):
    """Probes share one command list; print it three times, not as &id001/*id001."""

    def ignore_aliases(self, data: object) -> bool:
        return True
