"""Reading compose files: YAML with anchors and merge keys, positions, interpolation, merging.

Errors are ``ManifestParseError`` with file and line (the CLI's exit code 2).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hardened_operator.errors import ManifestParseError

# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, $VAR and $$ (a literal $).
_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
    r"|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\})"
)

# Bounds on a compose file once its aliases are expanded: far beyond any real file, far below
# what a "billion laughs" alias bomb expands to (go-yaml, which compose uses, refuses those
# too), and shallow enough that the recursive steps after loading cannot overflow the stack.
MAX_VALUES = 200_000
MAX_DEPTH = 64


@dataclass
class Service:
    """One service after merging every file that mentions it."""

    name: str
    data: dict[str, Any]
    file: Path
    line: int
    key_locations: dict[str, str] = field(default_factory=dict)  # key -> "file:line"


@dataclass
class Project:
    services: dict[str, Service] = field(default_factory=dict)
    volumes: dict[str, Any] = field(default_factory=dict)
    top_level_unmapped: list[tuple[str, str]] = field(default_factory=list)
    # Variables referenced but unset (compose substitutes ""): reported, never silent.
    unset_variables: set[str] = field(default_factory=set)


def read_dotenv(path: Path) -> dict[str, str | None]:
    """KEY=VALUE lines (``export`` prefix, quotes and comments handled) as compose reads them.

    A bare ``KEY`` (value taken from the shell by compose) maps to ``None``.
    """
    values: dict[str, str | None] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestParseError(f"not UTF-8 text: {exc}", file=str(path)) from None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, eq, value = line.partition("=")
        key = key.strip()
        if not key or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", key):
            raise ManifestParseError(f"not a KEY=VALUE line: {raw!r}", file=str(path), line=number)
        if not eq:
            values[key] = None
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            quote, value = value[0], value[1:-1]
            if quote == '"':
                value = value.replace("\\n", "\n").replace('\\"', '"')
        else:
            value = re.sub(r"\s+#.*$", "", value)  # an inline comment needs whitespace before #
        values[key] = value
    return values


def _interpolate(value: Any, env: Mapping[str, str], project: Project, where: str) -> Any:
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            if match.group("escaped"):
                return "$"
            name = match.group("bare") or match.group("name")
            op, arg = match.group("op"), match.group("arg") or ""
            current = env.get(name)
            if op in (":-", "-"):
                unset = current is None or (op == ":-" and current == "")
                return arg if unset else str(current)
            if op in (":?", "?"):
                if current is None or (op == ":?" and current == ""):
                    raise ManifestParseError(
                        f"required variable {name} is not set: {arg or 'no message'}",
                        file=where,
                    )
                return current
            if op in (":+", "+"):
                present = current is not None and (op == "+" or current != "")
                return arg if present else ""
            if current is None:
                project.unset_variables.add(name)
                return ""
            return current

        return _VARIABLE.sub(substitute, value)
    if isinstance(value, list):
        return [_interpolate(item, env, project, where) for item in value]
    if isinstance(value, dict):
        return {key: _interpolate(item, env, project, where) for key, item in value.items()}
    return value


class ComposeLoader(yaml.SafeLoader):
    """YAML as compose (go-yaml, YAML 1.2 core schema) reads it, plus ``<<`` merge keys.

    PyYAML's YAML 1.1 resolvers would turn ``80:80`` into the base-60 integer 4880 and ``yes``
    into ``True``; compose reads both as strings.
    """


ComposeLoader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in (
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("int", r"^(?:[-+]?(?:0|[1-9][0-9]*)|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "float",
        r"^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*|[0-9]+(?:\.[0-9]*)?[eE][-+]?[0-9]+)$",
        "-+0123456789.",
    ),
    ("float", r"^(?:[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", "-+."),
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("merge", r"^(?:<<)$", "<"),
):
    ComposeLoader.add_implicit_resolver(
        f"tag:yaml.org,2002:{_tag}", re.compile(_pattern), list(_first)
    )


STDIN_PATH = Path("<stdin>")


def _read_text(path: Path, stdin: str | None) -> str:
    if path == STDIN_PATH and stdin is not None:
        return stdin
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ManifestParseError("no such file", file=str(path)) from None
    except IsADirectoryError:
        raise ManifestParseError("is a directory, not a compose file", file=str(path)) from None
    except OSError as exc:
        raise ManifestParseError(f"cannot read: {exc.strerror or exc}", file=str(path)) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ManifestParseError("not UTF-8 text", file=str(path), line=line) from None


def _load_yaml(
    path: Path, stdin: str | None = None
) -> tuple[Any, dict[str, int], dict[str, dict[str, int]]]:
    """The document, the line of each service key and of each key inside a service."""
    text = _read_text(path, stdin)
    loader = ComposeLoader(text)
    try:
        node = loader.get_single_node()
        lines: dict[str, int] = {}
        key_lines: dict[str, dict[str, int]] = {}
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == "services" and isinstance(value_node, yaml.MappingNode):
                    for service_key, body in value_node.value:
                        lines[str(service_key.value)] = service_key.start_mark.line + 1
                        if isinstance(body, yaml.MappingNode):
                            key_lines[str(service_key.value)] = {
                                str(k.value): k.start_mark.line + 1 for k, _ in body.value
                            }
        # Constructing resolves anchors, aliases and "<<" merge keys (YAML 1.1 merge).
        data = loader.construct_document(node) if node is not None else None
    except RecursionError:
        raise ManifestParseError(
            "invalid YAML: nested too deeply to read", file=str(path)
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ManifestParseError(
            f"invalid YAML: {exc.problem or exc}", file=str(path), line=line
        ) from None
    except yaml.YAMLError as exc:
        raise ManifestParseError(f"invalid YAML: {exc}", file=str(path)) from None
    finally:
        loader.dispose()
    _check_size(data, path)
    return data, lines, key_lines


def _check_size(data: Any, path: Path) -> None:
    """Refuse alias bombs and absurd nesting before anything walks the data recursively.

    Counts values as they would be after expanding aliases (a shared list counts each time
    it is reached), iteratively, stopping at the first bound crossed.
    """
    budget = MAX_VALUES
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        budget -= 1
        if budget < 0:
            raise ManifestParseError(
                f"the file expands to more than {MAX_VALUES} values (YAML aliases?): refused",
                file=str(path),
            )
        if depth > MAX_DEPTH:
            raise ManifestParseError(
                f"values nested more than {MAX_DEPTH} levels deep: refused", file=str(path)
            )
        if isinstance(value, dict):
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)


def _normalise_env_files(value: Any, base: Path, where: str, line: int) -> list[dict[str, Any]]:
    """``env_file`` (string, list of strings or ``{path, required}``) with absolute paths."""
    items = value if isinstance(value, list) else [value]
    result: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, str):
            result.append({"path": str(base / item), "required": True})
        elif isinstance(item, dict) and isinstance(item.get("path"), str):
            result.append(
                {"path": str(base / item["path"]), "required": item.get("required", True)}
            )
        else:
            raise ManifestParseError(
                f"env_file entry is not a path: {item!r}", file=where, line=line
            )
    return result


def _as_mapping(value: Any, key: str) -> dict[str, Any]:
    """environment/labels in list ("K=V") or mapping form → a mapping (None = "from the shell")."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list):
        result: dict[str, Any] = {}
        for item in value:
            text = str(item)
            name, eq, rest = text.partition("=")
            result[name] = rest if eq else None
        return result
    raise ValueError(f"{key} must be a list or a mapping, not {type(value).__name__}")


def _merge_service(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``docker compose -f a -f b`` merge rules, for the keys we map."""
    merged = dict(base)
    for key, value in override.items():
        old = merged.get(key)
        if key in ("environment", "labels"):
            merged[key] = {**_as_mapping(old, key), **_as_mapping(value, key)}
        elif key in ("ports", "expose", "env_file", "dns", "extra_hosts", "cap_add", "cap_drop"):
            seen = list(old) if isinstance(old, list) else ([] if old is None else [old])
            new = value if isinstance(value, list) else [value]
            merged[key] = seen + [item for item in new if item not in seen]
        elif key == "volumes" and isinstance(old, list) and isinstance(value, list):
            by_target: dict[str, Any] = {}
            for item in [*old, *value]:
                by_target[_volume_target(item)] = item
            merged[key] = list(by_target.values())
        elif isinstance(old, dict) and isinstance(value, dict) and key not in ("healthcheck",):
            merged[key] = _merge_mapping(old, value)
        else:
            merged[key] = value  # scalars and command/entrypoint/healthcheck: replaced
    return merged


def _merge_mapping(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        old = merged.get(key)
        merged[key] = (
            _merge_mapping(old, value)
            if isinstance(old, dict) and isinstance(value, dict)
            else value
        )
    return merged


def _volume_target(item: Any) -> str:
    if isinstance(item, dict):
        return str(item.get("target", item))
    parts = str(item).split(":")
    return parts[1] if len(parts) > 1 else parts[0]


def load_project(
    paths: list[Path], environ: Mapping[str, str], stdin: str | None = None
) -> Project:
    """Load and merge compose files in order, like ``docker compose -f a -f b``.

    The path ``<stdin>`` (``STDIN_PATH``) reads ``stdin``; its ``.env`` is the working
    directory's, as with ``docker compose -f -``.
    """
    project = Project()
    for path in paths:
        data, lines, key_lines = _load_yaml(path, stdin)
        where = str(path)
        if not isinstance(data, dict):
            raise ManifestParseError(
                "a compose file must be a mapping with `services:`", file=where
            )
        services = data.get("services")
        if not isinstance(services, dict):
            hint = " (compose v1 files without `services:` are not supported)" if data else ""
            raise ManifestParseError(f"no `services:` mapping{hint}", file=where)
        dotenv_path = path.parent / ".env"
        dotenv = read_dotenv(dotenv_path) if dotenv_path.is_file() else {}
        env = {key: value for key, value in dotenv.items() if value is not None}
        env.update(environ)  # the shell wins over .env, as in compose
        data = _interpolate(data, env, project, where)
        services = data["services"]
        for key, value in data.items():
            if key in ("services", "version", "name") or str(key).startswith("x-"):
                continue
            if key == "volumes" and isinstance(value, dict):
                project.volumes.update({k: v or {} for k, v in value.items()})
            elif key not in ("volumes", "networks"):
                project.top_level_unmapped.append((str(key), where))
        for name, body in services.items():
            line = lines.get(str(name), 1)
            if body is None:
                body = {}
            if not isinstance(body, dict):
                raise ManifestParseError(
                    f"service {name!r} must be a mapping, not {type(body).__name__}",
                    file=where,
                    line=line,
                )
            body = dict(body)
            try:
                for key in ("environment", "labels"):
                    if key in body:
                        body[key] = _as_mapping(body[key], key)
            except ValueError as exc:
                raise ManifestParseError(
                    f"service {name!r}: {exc}", file=where, line=line
                ) from None
            if "env_file" in body:
                body["env_file"] = _normalise_env_files(body["env_file"], path.parent, where, line)
            existing = project.services.get(str(name))
            keys = {key: f"{where}:{n}" for key, n in key_lines.get(str(name), {}).items()}
            if existing is None:
                project.services[str(name)] = Service(str(name), body, path, line, keys)
            else:
                existing.data = _merge_service(existing.data, body)
                existing.key_locations.update(keys)
    return project
