"""Reading inputs and writing outputs the same way in every command.

``-`` is standard input everywhere; a file that is missing, a directory or not UTF-8 is an
``InputError`` naming it (never a traceback); ``-o/--output FILE`` writes the result to FILE;
``--check FILE`` (the commands that print a generated file) compares FILE with it.
"""

from __future__ import annotations

import difflib
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from hardened_operator.cli._exit import EXIT_FAILED
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


def generated_file_options(func: F) -> F:
    """``--check FILE`` and ``-o/--output FILE``, for a command that prints a generated file
    whose committed copy CI keeps current (pass ``check_file`` to :func:`check_generated`)."""
    func = output_option(func)
    option = click.option(
        "--check",
        "check_file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Compare FILE with the generated output; exit 1 with a diff when they differ.",
    )
    return option(func)


def check_generated(path: Path, text: str, command: str) -> None:
    """``--check``: ``path`` holds exactly ``text`` (says so on stderr and returns), or a
    unified diff from ``path`` to ``text`` and the command that regenerates it
    (``COMMAND -o PATH``) go to stderr and the command exits 1. An unreadable ``path`` is an
    ``InputError`` (exit 2), not a stale file."""
    current = read_input(str(path), encoding="utf-8")
    if current == text:
        click.echo(f"{path} is up to date", err=True)
        return
    diff = difflib.unified_diff(
        current.splitlines(keepends=True),
        text.splitlines(keepends=True),
        fromfile=str(path),
        tofile="generated",
    )
    sys.stderr.writelines(diff)
    click.echo(f"error: {path} is stale; regenerate with: {command} -o {path}", err=True)
    sys.exit(EXIT_FAILED)


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
    "check_generated",
    "decode",
    "display_name",
    "generated_file_options",
    "output_option",
    "read_input",
    "terminal_width",
    "use_colour",
    "write_output",
]
