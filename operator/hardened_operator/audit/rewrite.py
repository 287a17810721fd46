"""Rewrite a manifest text with the fixers' edits, changing nothing else.

YAML: the text is cut into documents (PyYAML events give their lines); a document without
edits is copied byte for byte; one with edits is round-tripped through ruamel.yaml, which keeps
comments, key order, quoting and flow style. New keys go at the end of their mapping, and a
comment that trailed the old last entry (typically about what follows) is moved after the new
key so it stays where it was in the text. JSON: each value is re-serialised with the
indentation the file used.
"""

from __future__ import annotations

import copy
import io
import itertools
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from hardened_operator.audit.documents import KubeObject, expand, raw_documents
from hardened_operator.audit.fixers import Edit, apply_edit, plan_object
from hardened_operator.audit.sources import Source
from hardened_operator.errors import InputError, ManifestParseError
from hardened_operator.policy.types import Profile

_DOC_MARKER = re.compile(r"^---[ \t]*(#.*)?$")


@dataclass(frozen=True)
class FixResult:
    text: str
    edits: int


def _plan_document(data: Any, name: str, profile: Profile) -> list[Edit]:
    """All edits for one document (an object, or every item of a List)."""
    edits: list[Edit] = []
    for item in expand(copy.deepcopy(data), name, None, lambda _p: None):
        if isinstance(item, KubeObject) and isinstance(item.obj, dict):
            try:
                edits.extend(plan_object(item.obj, item.path, profile))
            except InputError:
                continue  # the audit of the result reports it; nothing safe to edit here
    return edits


# ---------------------------------------------------------------------------- YAML


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _document_spans(text: str, name: str) -> list[tuple[int, int, int]]:
    """(start, end of content, end of span) per document, as character offsets into ``text``.

    Cuts are at line starts: a document starts at its ``---`` line (or first content line) and
    its span runs to the next document, so comments between documents stay with the one above.
    The pure-Python parser is used because its marks count characters of this very string.
    """
    starts: list[int] = []
    ends: list[int | None] = []
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            mark = event.start_mark
            if mark is None:
                continue
            if isinstance(event, yaml.DocumentStartEvent):
                starts.append(_line_start(text, mark.index))
            elif isinstance(event, yaml.DocumentEndEvent):
                ends.append(_line_start(text, mark.index) if event.explicit else None)
    except yaml.YAMLError as exc:  # audit reports parse errors; be defensive here too
        raise ManifestParseError(f"invalid YAML: {exc}", file=name) from exc
    spans = []
    for index, start in enumerate(starts):
        span_end = starts[index + 1] if index + 1 < len(starts) else len(text)
        explicit_end = ends[index] if index < len(ends) else None
        spans.append((start, explicit_end if explicit_end is not None else span_end, span_end))
    return spans


def guess_indent(text: str) -> tuple[int, int]:
    """(mapping indent, sequence dash offset) most used in ``text``; (2, 0) when unsure."""
    lines = [
        line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]
    mapping_steps: Counter[int] = Counter()
    dash_offsets: Counter[int] = Counter()
    for prev, cur in itertools.pairwise(lines):
        if not prev.rstrip().endswith(":"):
            continue
        prev_stripped = prev.lstrip()
        key_col = len(prev) - len(prev_stripped)
        if prev_stripped.startswith("- "):
            key_col += 2
        cur_col = len(cur) - len(cur.lstrip())
        if cur.lstrip().startswith("- ") and cur_col >= key_col:
            dash_offsets[cur_col - key_col] += 1
        elif cur_col > key_col:
            mapping_steps[cur_col - key_col] += 1
    mapping = mapping_steps.most_common(1)[0][0] if mapping_steps else 2
    offset = dash_offsets.most_common(1)[0][0] if dash_offsets else 0
    return mapping, offset


def _ruamel_rewrite(body: str, document_edits: list[Edit], name: str, line: int) -> str:
    from ruamel.yaml.error import YAMLError  # imported here: only --fix pays for ruamel

    try:
        return _round_trip(body, document_edits)
    except (YAMLError, RecursionError) as exc:
        # PyYAML read it, the round-trip parser did not (YAML 1.1 vs 1.2 corners): leave the
        # file alone and say so, rather than guess.
        raise ManifestParseError(
            f"cannot rewrite this document: {exc}", file=name, line=line
        ) from exc


def _round_trip(body: str, document_edits: list[Edit]) -> str:
    from ruamel.yaml import YAML

    from hardened_operator.audit import ruamel_tree

    rt = YAML(typ="rt")
    rt.preserve_quotes = True
    rt.width = 1 << 16  # never re-wrap long lines
    mapping, offset = guess_indent(body)
    rt.indent(mapping=mapping, sequence=offset + 2, offset=offset)
    rt.explicit_start = body.lstrip().startswith("---")
    document = rt.load(body)
    for edit in document_edits:
        ruamel_tree.apply(document, edit)
    out = io.StringIO()
    rt.dump(document, out)
    return out.getvalue()


def _fix_yaml(source: Source, profile: Profile) -> FixResult:
    text = source.text
    spans = _document_spans(text, source.name)
    if not spans:
        return FixResult(text, 0)
    pieces = [text[: spans[0][0]]]
    total_edits = 0
    for start, content_end, span_end in spans:
        chunk = text[start:content_end]
        tail = text[content_end:span_end]
        edits: list[Edit] = []
        for data, _line, _locate in raw_documents(Source(source.name, chunk, False)):
            edits.extend(_plan_document(data, source.name, profile))
        if not edits:
            pieces.append(chunk + tail)
            continue
        total_edits += len(edits)
        head = ""
        body = chunk
        first, _, rest = chunk.partition("\n")
        if _DOC_MARKER.match(first.rstrip("\r")):
            head, body = first + "\n", rest
        line = text.count("\n", 0, start) + 1
        fixed = _ruamel_rewrite(body, edits, source.name, line)
        if not fixed.endswith("\n"):
            fixed += "\n"
        if "\r\n" in chunk:  # keep Windows line endings (ruamel writes \n)
            fixed = fixed.replace("\r\n", "\n").replace("\n", "\r\n")
        pieces.append(head + fixed + tail)
    return FixResult("".join(pieces), total_edits)


# ---------------------------------------------------------------------------- JSON


def _json_values(text: str) -> Iterator[tuple[int, int, Any]]:
    decoder = json.JSONDecoder()
    position = 0
    space = re.compile(r"\s*")
    while True:
        match = space.match(text, position)
        position = match.end() if match else position
        if position >= len(text):
            return
        value, end = decoder.raw_decode(text, position)
        yield position, end, value
        position = end


def _json_indent(text: str) -> int | None:
    match = re.search(r"\n([ \t]+)\S", text)
    if match is None:
        return None  # a one-line value stays on one line
    return len(match.group(1).expandtabs(4))


def _fix_json(source: Source, profile: Profile) -> FixResult:
    text = source.text
    pieces: list[str] = []
    last = 0
    total_edits = 0
    for start, end, value in _json_values(text):
        edits = _plan_document(value, source.name, profile)
        pieces.append(text[last:start])
        if edits:
            total_edits += len(edits)
            for edit in edits:
                apply_edit(value, edit, lambda v: v)
            dumped = json.dumps(value, indent=_json_indent(text[start:end]), ensure_ascii=False)
            if "\r\n" in text[start:end]:
                dumped = dumped.replace("\n", "\r\n")
            pieces.append(dumped)
        else:
            pieces.append(text[start:end])
        last = end
    pieces.append(text[last:])
    return FixResult("".join(pieces), total_edits)


def fix_source(source: Source, profile: Profile) -> FixResult:
    """The source's text with the minimal edits applied; parse errors raise ManifestParseError.

    Callers audit the result: whatever it still violates is what could not be fixed.
    """
    # Parse first with the audit's strict reader: no rewriting of text the audit rejects.
    for _ in raw_documents(source):
        pass
    if source.is_json and _is_json(source):
        return _fix_json(source, profile)
    return _fix_yaml(source, profile)


def _is_json(source: Source) -> bool:
    try:
        for _ in _json_values(source.text):
            pass
    except ValueError:
        return False  # stdin in YAML flow style
    return True
