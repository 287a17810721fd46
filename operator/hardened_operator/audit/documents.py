"""Parse a Source into Kubernetes objects, each knowing its file and how to find line numbers.

YAML is parsed with PyYAML's C parser into nodes (which carry marks) and constructed with a
constructor that rejects duplicate keys: Kubernetes refuses them too, and "last key wins" would let
``runAsUser: 1000`` hide a later ``runAsUser: 0`` from a reader using the other convention.
JSON is read with the standard library (a stream of values is accepted); line numbers of fields
inside JSON come from re-reading the value's text as YAML, best effort.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from hardened_operator.audit.sources import Source
from hardened_operator.errors import ManifestParseError
from hardened_operator.workloads import POD_BEARING_KINDS

_POD_BEARING_LOWER = frozenset(kind.lower() for kind in POD_BEARING_KINDS)

try:  # the C parser is ~10x faster; fall back to pure Python where libyaml is missing
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

Locate = Callable[[str], "int | None"]
_MERGE_TAG = "tag:yaml.org,2002:merge"
_MAX_LIST_DEPTH = 8


@dataclass(frozen=True)
class KubeObject:
    """One Kubernetes object found in a file, with its 1-based line and a field locator."""

    file: str
    line: int | None
    obj: Mapping[str, Any]
    locate: Locate
    path: str = ""  # where the object sits in its document: "" or "items[3]" in a List


@dataclass(frozen=True)
class Note:
    """A document that is not a Kubernetes object: skipped, and said so on stderr."""

    file: str
    line: int | None
    message: str


class _StrictConstructor(SafeConstructor):
    """SafeConstructor that refuses duplicate mapping keys (merge keys ``<<`` may override)."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[tuple[str, str]] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag != _MERGE_TAG:
                key = (key_node.tag, key_node.value)
                if key in seen:
                    raise ConstructorError(
                        None, None, f"duplicate key {key_node.value!r}", key_node.start_mark
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_BOOLS = {"yes": True, "no": False, "true": True, "false": False, "on": True, "off": False}


class _FastBuilder:
    """Nodes -> Python for the common tags, ~3x faster than SafeConstructor's generators.

    Manifests are mostly plain maps, lists, strings, ints and booleans; anything else (merge
    keys, floats, timestamps, binary, sets) goes through :class:`_StrictConstructor`, so the
    result is exactly what ``yaml.safe_load`` returns, duplicate keys refused.
    """

    def __init__(self) -> None:
        self.fallback = _StrictConstructor()
        self.memo: dict[int, Any] = {}  # anchors/aliases: one node, one object

    def scalar(self, node: ScalarNode) -> Any:
        tag = node.tag
        value: str = node.value
        if tag == _STR:
            return value
        if tag == _INT and value.isdigit() and (value == "0" or value[0] != "0"):
            return int(value)
        if tag == _BOOL:
            return _BOOLS[value.lower()]
        if tag == _NULL:
            return None
        return self.fallback.construct_object(node, deep=True)

    def build(self, node: Node) -> Any:
        # Hot loop: plain strings (most keys and values) are taken without a method call.
        if node.__class__ is ScalarNode:
            return self.scalar(node)
        known = self.memo.get(id(node))
        if known is not None:
            return known
        tag = node.tag
        if node.__class__ is MappingNode and tag == _MAP:
            result: dict[Any, Any] = {}
            self.memo[id(node)] = result
            for key_node, value_node in node.value:
                if key_node.__class__ is not ScalarNode or key_node.tag == _MERGE_TAG:
                    del self.memo[id(node)]
                    return self.fallback.construct_object(node, deep=True)
                key = key_node.value if key_node.tag == _STR else self.scalar(key_node)
                if key in result:
                    raise ConstructorError(
                        None, None, f"duplicate key {key_node.value!r}", key_node.start_mark
                    )
                if value_node.__class__ is ScalarNode and value_node.tag == _STR:
                    result[key] = value_node.value
                else:
                    result[key] = self.build(value_node)
            return result
        if node.__class__ is SequenceNode and tag == _SEQ:
            items: list[Any] = []
            self.memo[id(node)] = items
            items.extend(self.build(child) for child in node.value)
            return items
        return self.fallback.construct_object(node, deep=True)


# ---------------------------------------------------------------------------- field locations

# a.b[0]["x.y"][x.y]: brackets hold an index or a key that may contain dots
_SEGMENT = re.compile(r"""\[(\d+)\]|\[["']?([^\]"']*)["']?\]|([^.\[\]]+)""")


def split_field(path: str) -> list[str | int]:
    """``spec.containers[0].securityContext`` -> ["spec", "containers", 0, "securityContext"]."""
    parts: list[str | int] = []
    for index, quoted, plain in _SEGMENT.findall(path):
        if index:
            parts.append(int(index))
        else:
            parts.append(quoted or plain)
    return parts


def node_locator(root: Node, line_offset: int = 0) -> Locate:
    """A function mapping a field path to the line of its deepest existing part (1-based)."""

    def locate(path: str) -> int | None:
        node: Node = root
        line = node.start_mark.line + 1 + line_offset
        for part in split_field(path):
            child: Node | None = None
            if isinstance(node, MappingNode) and isinstance(part, str):
                for key_node, value_node in node.value:
                    if isinstance(key_node, ScalarNode) and key_node.value == part:
                        line = key_node.start_mark.line + 1 + line_offset
                        child = value_node
                        break
            elif (
                isinstance(node, SequenceNode)
                and isinstance(part, int)
                and 0 <= part < len(node.value)
            ):
                child = node.value[part]
                line = child.start_mark.line + 1 + line_offset
            if child is None:
                break
            node = child
        return line

    return locate


def _fixed_line(line: int | None) -> Locate:
    return lambda _path: line


def _sub_locator(parent: Locate, prefix: str) -> Locate:
    return lambda path: parent(f"{prefix}.{path}" if path else prefix)


# ---------------------------------------------------------------------------- documents


def _yaml_documents(source: Source) -> Iterator[tuple[Any, int | None, Locate]]:
    try:
        for node in yaml.compose_all(source.text, Loader=_Loader):
            if node is None:  # an empty document (e.g. a trailing ---)
                continue
            data = _FastBuilder().build(node)
            yield data, node.start_mark.line + 1, node_locator(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise ManifestParseError(f"invalid YAML: {problem}", file=source.name, line=line) from exc
    except yaml.YAMLError as exc:
        raise ManifestParseError(f"invalid YAML: {exc}", file=source.name) from exc
    except RecursionError as exc:
        raise ManifestParseError("YAML nested too deeply", file=source.name) from exc


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _json_locator(text: str, start_line: int) -> Locate:
    """Locate fields of one JSON value by reading its text as YAML (JSON is nearly YAML)."""
    cache: list[Locate] = []

    def locate(path: str) -> int | None:
        if not cache:
            try:
                node = yaml.compose(text, Loader=_Loader)
            except yaml.YAMLError:
                node = None
            cache.append(
                node_locator(node, start_line - 1) if node is not None else _fixed_line(start_line)
            )
        return cache[0](path)

    return locate


def _json_documents(source: Source) -> Iterator[tuple[Any, int | None, Locate]]:
    decoder = json.JSONDecoder(object_pairs_hook=_reject_duplicates)
    text = source.text
    position = 0
    whitespace = re.compile(r"\s*")
    while True:
        position = whitespace.match(text, position).end()  # type: ignore[union-attr]
        if position >= len(text):
            return
        line = text.count("\n", 0, position) + 1
        try:
            data, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            raise ManifestParseError(
                f"invalid JSON: {exc.msg} (column {exc.colno})", file=source.name, line=exc.lineno
            ) from exc
        except ValueError as exc:  # duplicate key, from the hook
            raise ManifestParseError(f"invalid JSON: {exc}", file=source.name, line=line) from exc
        except RecursionError as exc:
            raise ManifestParseError("JSON nested too deeply", file=source.name, line=line) from exc
        yield data, line, _json_locator(text[position:end], line)
        position = end


def raw_documents(source: Source) -> Iterator[tuple[Any, int | None, Locate]]:
    """Every document of a source as (data, line, locator); raises ManifestParseError."""
    if not source.is_json:
        yield from _yaml_documents(source)
        return
    if source.path is not None:  # a .json file: JSON it is, errors are JSON errors
        yield from _json_documents(source)
        return
    # stdin that looks like JSON: YAML flow style looks the same, so try YAML if JSON fails
    try:
        documents = list(_json_documents(source))
    except ManifestParseError as json_error:
        try:
            documents = list(_yaml_documents(source))
        except ManifestParseError:
            raise json_error from None
    yield from documents


# ---------------------------------------------------------------------------- objects


def is_kubernetes_object(data: Any) -> bool:
    """A mapping with string ``apiVersion`` and ``kind``: anything else is not ours to judge."""
    return (
        isinstance(data, Mapping)
        and isinstance(data.get("apiVersion"), str)
        and isinstance(data.get("kind"), str)
        and bool(data["kind"])
    )


def _is_list(data: Mapping[str, Any]) -> bool:
    kind = data.get("kind")
    return isinstance(kind, str) and kind.endswith("List") and "items" in data


def expand(
    data: Any, file: str, line: int | None, locate: Locate, path: str = "", depth: int = 0
) -> Iterator[KubeObject | Note | ManifestParseError]:
    """Objects of one document: itself, or the items of a ``kind: List`` (recursively)."""
    if not is_kubernetes_object(data):
        kind = data.get("kind") if isinstance(data, Mapping) else None
        if isinstance(kind, str) and kind.lower() in _POD_BEARING_LOWER:
            # Plainly meant as a workload (kubectl would refuse it): skipping it with a note
            # would let a root pod pass; an input we cannot judge fails the run instead.
            yield ManifestParseError(
                f"a {kind} without a string apiVersion is not a valid object; it cannot be judged",
                file=file,
                line=line,
            )
            return
        what = "not a mapping" if not isinstance(data, Mapping) else "no apiVersion/kind"
        yield Note(file, line, f"skipped a document that is not a Kubernetes object ({what})")
        return
    if not _is_list(data):
        yield KubeObject(file, line, data, locate, path)
        return
    items = data["items"]
    if items is None:
        return
    if not isinstance(items, list) or depth >= _MAX_LIST_DEPTH:
        yield ManifestParseError(
            f"{data['kind']}.items must be a list of objects", file=file, line=locate("items")
        )
        return
    # A typed list from the API (PodList) leaves kind/apiVersion off its items: infer them.
    item_kind = data["kind"][: -len("List")] if data["kind"] != "List" else None
    for index, item in enumerate(items):
        item_path = f"{path}.items[{index}]" if path else f"items[{index}]"
        item_locate = _sub_locator(locate, f"items[{index}]")
        if item_kind and isinstance(item, Mapping) and "kind" not in item:
            item = {"apiVersion": data["apiVersion"], "kind": item_kind, **item}
        yield from expand(item, file, item_locate(""), item_locate, item_path, depth + 1)


def parse_source(source: Source) -> Iterator[KubeObject | Note | ManifestParseError]:
    """Objects, notes and (last, if any) the error that stopped reading this source."""
    try:
        for data, line, locate in raw_documents(source):
            yield from expand(data, source.name, line, locate)
    except ManifestParseError as exc:
        yield exc
