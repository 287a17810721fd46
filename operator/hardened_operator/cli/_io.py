"""Reading inputs and writing outputs the same way in every command.

``-`` is standard input everywhere; a file that is missing, a directory or not UTF-8 is an
``InputError`` naming it (never a traceback); ``-o/--output FILE`` writes the result to FILE.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from hardened_operator.errors import InputError, ManifestParseError

STDIN = "-"
STDIN_NAME = "<stdin>"

F = TypeVar("F", bound=Callable[..., Any])


def display_name(path: str) -> str:
    return STDIN_NAME if path == STDIN else path


def decode(data: bytes, name: str, encoding: str = "utf-8-sig") -> str:
    """UTF-8 text (a BOM is dropped unless ``encoding`` is "utf-8"); not UTF-8 is an error
    naming the line."""
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ManifestParseError("not UTF-8 text", file=name, line=line) from None


def read_input(path: str, encoding: str = "utf-8-sig") -> str:
    """The text of ``path`` (``-`` = standard input), newlines kept as they are."""
    name = display_name(path)
    if path == STDIN:
        data = sys.stdin.buffer.read()
    else:
        try:
            data = Path(path).read_bytes()
        except FileNotFoundError:
            raise ManifestParseError("no such file", file=name) from None
        except IsADirectoryError:
            raise ManifestParseError("is a directory, not a file", file=name) from None
        except OSError as exc:
            raise ManifestParseError(f"cannot read: {exc.strerror or exc}", file=name) from None
    return decode(data, name, encoding)


def output_option(func: F) -> F:
    """``-o/--output FILE``: write the result to FILE instead of standard output."""
    option = click.option(
        "-o",
        "--output",
        "output",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Write the result to FILE instead of standard output ('-' = stdout).",
    )
    return option(func)


def write_output(text: str, output: Path | None) -> None:
    """``text`` to stdout, or to ``output`` (replaced whole; ``InputError`` when it cannot be)."""
    if output is None or str(output) == STDIN:
        click.echo(text, nl=False)
        return
    try:
        with output.open("w", encoding="utf-8", newline="") as handle:
            handle.write(text)
    except OSError as exc:
        raise InputError(f"{output}: cannot write: {exc.strerror or exc}") from exc


def _isatty(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def terminal_width(stream: Any) -> int | None:
    """Columns to fit human output to on a terminal ($COLUMNS, else the terminal's); None for
    files and pipes, which get whole lines (grep, CI logs)."""
    if not _isatty(stream):
        return None
    return shutil.get_terminal_size().columns


def use_colour(stream: Any) -> bool:
    """Colour only on a terminal, never with NO_COLOR set (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    return _isatty(stream)


__all__ = [
    "STDIN",
    "STDIN_NAME",
    "decode",
    "display_name",
    "output_option",
    "read_input",
    "terminal_width",
    "use_colour",
    "write_output",
]
