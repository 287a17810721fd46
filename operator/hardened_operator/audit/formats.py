"""Render a Report as a table (humans), JSON (scripts) or SARIF 2.1.0 (code-scanning UIs)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from hardened_operator import __version__
from hardened_operator.audit.report import ERROR_CHECKS, Entry, Report
from hardened_operator.audit.sources import STDIN_NAME

FORMATS = ("table", "json", "sarif")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

_CONTAINER_LABEL = {"initContainer": "init:", "ephemeralContainer": "ephemeral:"}


def location(entry: Entry) -> str:
    return f"{entry.file}:{entry.line}" if entry.line is not None else entry.file


def object_label(entry: Entry) -> str:
    if entry.kind is None:
        return "-"
    prefix = f"{entry.namespace}/" if entry.namespace else ""
    return f"{entry.kind}/{prefix}{entry.name or '<unnamed>'}"


def container_label(entry: Entry) -> str:
    if entry.container is None:
        return "-"
    return _CONTAINER_LABEL.get(entry.container_type or "", "") + entry.container


def detail(entry: Entry) -> str:
    text = entry.message
    if entry.field and not (entry.fix and entry.field in entry.fix):
        text = f"{entry.field}: {text}"
    if entry.fix:
        text = f"{text} (fix: {entry.fix})"
    return text


def summary(report: Report) -> str:
    parts = []
    count = len(report.violations)
    parts.append(f"{count} violation{'s' if count != 1 else ''}")
    if report.errors:
        parts.append(f"{len(report.errors)} unreadable or invalid input(s)")
    files = f"{report.files} file{'s' if report.files != 1 else ''}"
    objects = f"{report.objects} object{'s' if report.objects != 1 else ''}"
    line = f"{', '.join(parts)} in {objects} from {report.origin or files}"
    if report.notes:
        line += f"; {len(report.notes)} non-Kubernetes document(s) skipped"
    return line + "."


_MIN_DETAIL = 30  # narrower than this, the table becomes one block per entry
_RED, _YELLOW, _BOLD, _RESET = "\033[31m", "\033[33m", "\033[1m", "\033[0m"


def _paint(text: str, code: str, colour: bool) -> str:
    return f"{code}{text}{_RESET}" if colour and text else text


def _wrap(text: str, width: int, indent: str = "") -> list[str]:
    import textwrap  # only a terminal needs it

    return textwrap.wrap(
        text,
        width=max(width, 10),
        subsequent_indent=indent,
        break_long_words=True,
        break_on_hyphens=False,
    ) or [""]


def render_table(report: Report, *, width: int | None = None, colour: bool = False) -> str:
    """One row per entry. ``width`` (a terminal's columns) wraps DETAIL to fit, or, when even
    that does not fit, prints one indented block per entry; None never wraps (files, pipes).
    ``colour`` marks the CHECK column (red: violation, yellow: unreadable input)."""
    header = ("LOCATION", "OBJECT", "CONTAINER", "CHECK", "DETAIL")
    rows = [
        (location(e), object_label(e), container_label(e), e.check, detail(e))
        for e in report.entries
    ]
    kinds = [None, *(_YELLOW if e.check in ERROR_CHECKS else _RED for e in report.entries)]
    lines: list[str] = []
    if rows:
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
        detail_width = None if width is None else width - sum(widths) - 2 * 4
        if detail_width is not None and detail_width < _MIN_DETAIL:
            lines.extend(_blocks(rows, kinds, width or 80, colour))
        else:
            for row, code in zip([header, *rows], kinds, strict=True):
                cells = [row[i].ljust(widths[i]) for i in range(4)]
                if code is None:
                    cells = [_paint(cell, _BOLD, colour) for cell in cells]
                    text = [_paint(row[4], _BOLD, colour)]
                else:
                    cells[3] = _paint(cells[3], code, colour)
                    text = [row[4]] if detail_width is None else _wrap(row[4], detail_width)
                lines.append("  ".join([*cells, text[0]]).rstrip())
                pad = " " * (sum(widths) + 2 * 4)
                lines.extend(pad + more for more in text[1:])
        lines.append("")
    lines.append(summary(report))
    return "\n".join(lines) + "\n"


def _blocks(
    rows: list[tuple[str, str, str, str, str]],
    kinds: list[str | None],
    width: int,
    colour: bool,
) -> list[str]:
    """A narrow terminal: each entry as "LOCATION CHECK", then where and what, indented."""
    lines: list[str] = []
    for (where, obj, container, check, text), code in zip(rows, kinds[1:], strict=True):
        head = _wrap(f"{where} {check}", width, "    ")
        if colour and code is not None:
            head[-1] = head[-1].replace(check, _paint(check, code, colour))
        lines.extend(head)
        if obj != "-":
            owner = obj if container == "-" else f"{obj}, container {container}"
            lines.extend("  " + line for line in _wrap(owner, width - 2, "  "))
        lines.extend("  " + line for line in _wrap(text, width - 2, "  "))
    return lines


def render_json(report: Report) -> str:
    """A JSON array, one entry per line (grep- and diff-friendly; the C encoder is ~10x faster
    than ``indent=``, which matters for a whole repository)."""
    if not report.entries:
        return "[]\n"
    lines = ",\n".join("  " + json.dumps(e.to_json()) for e in report.entries)
    return f"[\n{lines}\n]\n"


def _artifact_uri(file: str) -> str:
    from urllib.parse import quote  # only SARIF needs it

    if file == STDIN_NAME:
        return "stdin"
    path = PurePath(file)
    if path.is_absolute():
        return "file://" + quote(path.as_posix())
    return quote(path.as_posix())


def _sarif_text(entry: Entry) -> str:
    if entry.kind is None:
        return detail(entry)
    where = object_label(entry)
    if entry.container is not None:
        where = f"{where} container {container_label(entry)}"
    return f"{where}: {detail(entry)}"


def _rule(check_id: str, description: str) -> dict[str, Any]:
    return {
        "id": check_id,
        "name": check_id,
        "shortDescription": {"text": description},
        "defaultConfiguration": {"level": "error"},
    }


def render_sarif(
    report: Report, rules: Mapping[str, str], properties: Mapping[str, Any] | None = None
) -> str:
    """SARIF 2.1.0: one rule per check of the profile (plus input errors), one result per entry.

    ``rules`` maps check id -> one-line description, in the order to list them;
    ``properties`` (the run's property bag) carries what is not a result, e.g. a cluster
    audit's per-namespace summary.
    """
    all_rules = dict(rules)
    for entry in report.entries:  # an id the caller did not know still gets a rule
        all_rules.setdefault(entry.check, ERROR_CHECKS.get(entry.check, entry.check))
    index = {rule_id: i for i, rule_id in enumerate(all_rules)}
    results = []
    for entry in report.entries:
        physical: dict[str, Any] = {"artifactLocation": {"uri": _artifact_uri(entry.file)}}
        if entry.line is not None:
            physical["region"] = {"startLine": entry.line}
        result: dict[str, Any] = {
            "ruleId": entry.check,
            "ruleIndex": index[entry.check],
            "level": "error",
            "message": {"text": _sarif_text(entry)},
            "locations": [{"physicalLocation": physical}],
            "properties": {
                k: v
                for k, v in entry.to_json().items()
                if k in ("type", "kind", "namespace", "name", "container", "containerType", "field")
                and v is not None
            },
        }
        results.append(result)
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "hardened audit",
                "version": __version__,
                "rules": [_rule(rule_id, text) for rule_id, text in all_rules.items()],
            }
        },
        "results": results,
    }
    if properties:
        run["properties"] = dict(properties)
    log = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(log, indent=2) + "\n"
