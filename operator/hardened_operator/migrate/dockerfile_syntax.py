"""A small Dockerfile tokenizer that keeps source positions, so fixes can edit in place.

Handles parser directives (``# escape=``), comments, line continuations (with comment and
blank lines inside them, as BuildKit does), heredocs (``RUN <<EOF``, ``<<-EOF``, quoted
delimiters), multi-stage builds (``FROM … AS name``) and ARG/ENV substitution.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hardened_operator.errors import ManifestParseError

_DIRECTIVE = re.compile(r"^#\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(.*?)\s*$")
_HEREDOC = re.compile(r"<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")
_HEREDOC_KEYWORDS = ("RUN", "COPY", "ADD")
_VARIABLE = re.compile(
    r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))"
)


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case
    args: str  # continuations joined, inner comments dropped, heredoc bodies excluded
    start: int  # offset of the first character of its first line
    end: int  # offset just past its last line (newline included)
    line: int  # 1-based
    end_line: int
    heredoc_bodies: tuple[str, ...] = ()


@dataclass
class Stage:
    index: int
    from_instruction: Instruction
    image: str  # FROM's image argument as written
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)  # after FROM


@dataclass
class Dockerfile:
    source: str
    directives: dict[str, str]
    escape: str
    global_args: dict[str, str | None]  # ARGs before the first FROM (default or None)
    preamble: list[Instruction]
    stages: list[Stage]
    newline: str

    @property
    def final(self) -> Stage | None:
        return self.stages[-1] if self.stages else None

    def stage_named(self, name: str) -> Stage | None:
        for stage in self.stages:
            if stage.name is not None and stage.name.lower() == name.lower():
                return stage
        return None


def _line_starts(source: str) -> list[int]:
    starts = [0]
    for index, char in enumerate(source):
        if char == "\n":
            starts.append(index + 1)
    return starts


def parse(source: str, *, file: str = "Dockerfile") -> Dockerfile:
    """Tokenize a Dockerfile; raises ``ManifestParseError`` (file and line) on broken input."""
    lines = source.splitlines(keepends=True)
    offsets = _line_starts(source)
    newline = "\r\n" if "\r\n" in source else "\n"
    directives: dict[str, str] = {}
    index = 0
    while index < len(lines):
        match = _DIRECTIVE.match(lines[index].strip())
        if match is None:
            break
        directives[match.group(1).lower()] = match.group(2)
        index += 1
    escape = directives.get("escape", "\\")
    if escape not in ("\\", "`"):
        raise ManifestParseError(f"invalid escape directive {escape!r}", file=file, line=index)
    instructions: list[Instruction] = []
    while index < len(lines):
        text = lines[index].rstrip("\r\n")
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            index += 1
            continue
        first = index
        parts: list[str] = []
        current = text
        while True:
            body = current.rstrip()
            if body.endswith(escape) and not body.endswith(escape * 2):
                parts.append(body[: -len(escape)])
                index += 1
                # Inside a continuation, comment and blank lines are dropped (BuildKit does).
                while index < len(lines) and (
                    not lines[index].strip() or lines[index].lstrip().startswith("#")
                ):
                    index += 1
                if index >= len(lines):
                    break
                current = lines[index].rstrip("\r\n")
                continue
            parts.append(current)
            break
        logical = "".join(parts).strip()
        keyword, _, args = logical.partition(" ")
        keyword = keyword.upper()
        args = args.strip()
        index = min(index, len(lines) - 1) + 1
        bodies: list[str] = []
        if keyword in _HEREDOC_KEYWORDS:
            for match in _HEREDOC.finditer(args):
                strip_tabs, delimiter = match.group(1) == "-", match.group(3)
                body_lines: list[str] = []
                while True:
                    if index >= len(lines):
                        raise ManifestParseError(
                            f"heredoc <<{delimiter} is never terminated", file=file, line=first + 1
                        )
                    content = lines[index].rstrip("\r\n")
                    index += 1
                    if (content.lstrip("\t") if strip_tabs else content) == delimiter:
                        break
                    body_lines.append(content)
                bodies.append("\n".join(body_lines))
        end = offsets[index] if index < len(offsets) else len(source)
        instructions.append(
            Instruction(keyword, args, offsets[first], end, first + 1, index, tuple(bodies))
        )
    return _stages(source, directives, escape, instructions, newline, file)


def _stages(
    source: str,
    directives: dict[str, str],
    escape: str,
    instructions: list[Instruction],
    newline: str,
    file: str,
) -> Dockerfile:
    global_args: dict[str, str | None] = {}
    preamble: list[Instruction] = []
    stages: list[Stage] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            words = [w for w in instruction.args.split() if not w.startswith("--")]
            if not words:
                raise ManifestParseError("FROM without an image", file=file, line=instruction.line)
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
            stages.append(Stage(len(stages), instruction, words[0], name))
        elif not stages:
            if instruction.keyword != "ARG":
                raise ManifestParseError(
                    f"{instruction.keyword} before the first FROM", file=file, line=instruction.line
                )
            preamble.append(instruction)
            global_args.update(parse_arg(instruction.args))
        else:
            stages[-1].instructions.append(instruction)
    return Dockerfile(source, directives, escape, global_args, preamble, stages, newline)


def parse_arg(args: str) -> dict[str, str | None]:
    """``ARG A=1 B`` → {"A": "1", "B": None}."""
    result: dict[str, str | None] = {}
    for word in _split_words(args):
        name, eq, value = word.partition("=")
        result[name] = _unquote(value) if eq else None
    return result


def parse_pairs(args: str) -> dict[str, str]:
    """``LABEL``/``ENV`` arguments (``k=v k2="v 2"``, or the legacy ``ENV k v``)."""
    words = _split_words(args)
    if words and "=" not in words[0]:
        return {words[0]: _unquote(args.strip()[len(words[0]) :].strip())}
    result: dict[str, str] = {}
    for word in words:
        key, _, value = word.partition("=")
        result[_unquote(key)] = _unquote(value)
    return result


def _split_words(text: str) -> list[str]:
    """Split on whitespace outside quotes (quotes kept; _unquote removes them)."""
    return re.findall(r"(?:\"(?:\\.|[^\"\\])*\"|'[^']*'|[^\s\"'])+", text)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        inner = value[1:-1]
        return re.sub(r"\\(.)", r"\1", inner) if value[0] == '"' else inner
    return re.sub(r"(?:\"|')", "", value)


def substitute(text: str, variables: dict[str, str | None]) -> str | None:
    """Expand ``$VAR``, ``${VAR}``, ``${VAR:-word}``, ``${VAR:+word}``; None if one is unknown."""
    unknown = False

    def replace(match: re.Match[str]) -> str:
        nonlocal unknown
        name = match.group(1) or match.group(4)
        operator, word = match.group(2), match.group(3) or ""
        value = variables.get(name)
        unset = value is None or (operator is not None and operator.startswith(":") and not value)
        if operator in (":-", "-"):
            return word if unset else str(value)
        if operator in (":+", "+"):
            return "" if unset else word
        if value is None:
            unknown = True
            return ""
        return value

    result = _VARIABLE.sub(replace, text)
    return None if unknown else result
