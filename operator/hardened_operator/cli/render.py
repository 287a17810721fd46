"""``hardened render``: the objects HardenedServices become, as YAML, without a cluster."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import yaml

from hardened_operator.cli._io import display_name, output_option, read_input, write_output
from hardened_operator.errors import InputError, ManifestParseError


def _documents(source: str, text: str) -> Iterator[tuple[str, Any]]:
    """(where, document) for every non-empty YAML document; ``where`` locates it for errors."""
    try:
        for index, document in enumerate(yaml.safe_load_all(text), start=1):
            if document is not None:
                yield f"{source} (document {index})", document
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(error, "problem", None) or str(error)
        raise ManifestParseError(f"invalid YAML: {problem}", file=source, line=line) from None


def _items(where: str, document: Any) -> list[tuple[str, dict[str, Any]]]:
    """The HardenedServices of one document: itself, or the items of a ``kind: List``
    (what ``kubectl get hsvc -o yaml`` prints)."""
    kind = document.get("kind") if isinstance(document, dict) else None
    if kind == "HardenedService":
        return [(where, document)]
    if kind == "List" and isinstance(document.get("items"), list):
        found = []
        for index, item in enumerate(document["items"]):
            found += _items(f"{where} items[{index}]", item)
        return found
    got = f"kind: {kind}" if isinstance(kind, str) else "no kind"
    raise InputError(f"{where}: not a HardenedService ({got})")


def render_text(sources: list[tuple[str, str]]) -> str:
    """YAML of every object the HardenedServices in ``sources`` (name, text) become.

    Raises ``InputError`` (with ``SpecValidationError``'s field path in its message) on the
    first document that is not a valid HardenedService.
    """
    from hardened_operator.builders import build_objects

    rendered: list[dict[str, Any]] = []
    for source, text in sources:
        for where, document in _documents(source, text):
            for item_where, item in _items(where, document):
                name = (item.get("metadata") or {}).get("name")
                try:
                    rendered.extend(build_objects(item))
                except InputError as error:
                    label = f" {name}" if isinstance(name, str) else ""
                    raise type(error)(f"{item_where}: HardenedService{label}: {error}") from None
    return yaml.safe_dump_all(rendered, sort_keys=False, explicit_start=True) if rendered else ""


@click.command()
@click.argument("files", nargs=-1, required=True)
@output_option
def render(files: tuple[str, ...], output: Path | None) -> None:
    """Print the Kubernetes objects each HardenedService in FILES becomes.

    FILES are YAML files, possibly multi-document or a kind: List (kubectl get hsvc -o yaml);
    '-' reads standard input. Nothing is printed
    unless every document is a valid HardenedService; an invalid one exits 2 naming the field,
    e.g. spec.securityContext.runAsUser. Input without any HardenedService (an empty file, an
    empty List) prints nothing and says so on stderr (exit 0).

    \b
    Example:  hardened render docs/examples/hardenedservice/minimal.yaml | kubectl diff -f -
    """
    text = render_text([(display_name(path), read_input(path)) for path in files])
    if not text:
        names = ", ".join(display_name(path) for path in files)
        click.echo(f"warning: no HardenedService found in {names}; nothing rendered", err=True)
    write_output(text, output)
