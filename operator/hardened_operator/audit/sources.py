"""Turn the command line's PATH arguments into texts to audit (files, directories, stdin)."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from hardened_operator.errors import ManifestParseError

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
STDIN_NAME = "<stdin>"


@dataclass(frozen=True)
class Source:
    """One input text and where it came from (``path`` is None for stdin)."""

    name: str
    text: str
    is_json: bool
    path: Path | None = None


def _looks_like_json(text: str) -> bool:
    # stdin has no suffix: JSON objects and arrays start with { or [ (YAML flow style too, but
    # the JSON reader falls back to YAML for those, see documents.parse_source).
    return text.lstrip()[:1] in ("{", "[")


def _walk(directory: Path) -> Iterator[Path]:
    """Manifest files under ``directory``, sorted, skipping hidden directories (.git, .venv)."""
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.endswith(MANIFEST_SUFFIXES):
                yield Path(root) / name


def _read(path: Path, name: str) -> Source:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ManifestParseError(f"cannot read: {exc.strerror or exc}", file=name) from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ManifestParseError("not UTF-8 text", file=name, line=line) from exc
    return Source(name=name, text=text, is_json=path.suffix == ".json", path=path)


def _read_stream(stream: TextIO) -> str:
    """Standard input as text: its bytes when it has them, so that input which is not UTF-8
    is an error naming the line (as for files) instead of a decoding crash."""
    buffer = getattr(stream, "buffer", None)
    if buffer is None:
        return stream.read()
    data = buffer.read()
    try:
        return data.decode("utf-8-sig") if isinstance(data, bytes) else str(data)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ManifestParseError("not UTF-8 text", file=STDIN_NAME, line=line) from exc


def iter_sources(
    paths: Sequence[str], stdin: TextIO | None = None
) -> Iterator[Source | ManifestParseError]:
    """Each readable input as a Source, each unreadable one as the error that says why.

    Errors are yielded, not raised, so that one bad file is reported without hiding the others.
    """
    for raw in paths:
        if raw == "-":
            stream = stdin if stdin is not None else sys.stdin
            try:
                text = _read_stream(stream)
            except ManifestParseError as exc:
                yield exc
                continue
            yield Source(name=STDIN_NAME, text=text, is_json=_looks_like_json(text))
            continue
        path = Path(raw)
        if path.is_dir():
            found = False
            for file in _walk(path):
                found = True
                try:
                    yield _read(file, str(file))
                except ManifestParseError as exc:
                    yield exc
            if not found:
                yield ManifestParseError("directory holds no .yaml, .yml or .json file", file=raw)
        elif path.exists():
            try:
                yield _read(path, raw)
            except ManifestParseError as exc:
                yield exc
        else:
            yield ManifestParseError("no such file or directory", file=raw)


def write_back(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically, keeping its permission bits.

    Written beside the file and renamed over it: an interrupted ``--in-place`` never leaves a
    half-written manifest behind.
    """
    temporary = path.with_name(f".{path.name}.hardened-fix.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        shutil.copymode(path, temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
