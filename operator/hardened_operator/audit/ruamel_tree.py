"""Apply an Edit to a ruamel.yaml round-trip tree, keeping comments where the reader left them.

Only imported by ``--fix``. ruamel attaches a comment that follows an entry to that entry (the
last key of a mapping, or the mapping's ``ca.end``), so appending a key would push it below
the comment meant for the *next* block; ``_append`` moves such trailing full-line comments to
after the new key.
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.tokens import CommentToken

from hardened_operator.audit.fixers import Edit, apply_edit


def make(value: Any) -> Any:
    """A plain JSON value as block-style ruamel containers."""
    if isinstance(value, dict):
        result = CommentedMap()
        for key, item in value.items():
            result[key] = make(item)
        return result
    if isinstance(value, list):
        return CommentedSeq(make(item) for item in value)
    return value


def _is_block(node: Any) -> bool:
    return (
        isinstance(node, CommentedMap | CommentedSeq)
        and len(node) > 0
        and not (node.fa.flow_style())
    )


def _split(token: CommentToken) -> str | None:
    """Cut ``# eol comment\\n  # next block\\n`` after its first line; return the rest."""
    head, sep, rest = token.value.partition("\n")
    if not rest.strip():
        return None
    token.value = head + sep
    return rest


def _pop_trailing(node: Any) -> str | None:
    """Detach the full-line comments that follow the last entry of ``node``, as text."""
    end = getattr(node.ca, "end", None)
    if end:
        node.ca.end = None
        return "".join(
            (" " * tok.column if tok.value.startswith("#") else "") + tok.value for tok in end
        )
    if isinstance(node, CommentedMap):
        key = list(node.keys())[-1]
        slot = 2
    else:
        key = len(node) - 1
        slot = 0
    child = node[key]
    if _is_block(child):
        found = _pop_trailing(child)
        if found:
            return found
    entry = node.ca.items.get(key)
    if entry and len(entry) > slot and entry[slot] is not None:
        return _split(entry[slot])
    return None


def _attach_trailing(mapping: CommentedMap, key: Any, text: str) -> None:
    """Put ``text`` (full-line comments) after ``mapping[key]``, descending into new blocks."""
    node, last = mapping, key
    while isinstance(node[last], CommentedMap) and len(node[last]):
        node = node[last]
        last = list(node.keys())[-1]
    if isinstance(node[last], CommentedSeq) and len(node[last]):
        seq = node[last]
        seq.ca.items[len(seq) - 1] = [CommentToken("\n" + text, CommentMark(0), None), None]
        return
    node.ca.items[last] = [None, None, CommentToken("\n" + text, CommentMark(0), None), None]


def _set(parent: Any, key: str, value: Any) -> None:
    if isinstance(parent, CommentedMap) and key not in parent and len(parent) and _is_block(parent):
        trailing = _pop_trailing(parent)
        parent[key] = value
        if trailing:
            _attach_trailing(parent, key, trailing)
        return
    parent[key] = value


def apply(document: Any, edit: Edit) -> bool:
    """Apply ``edit`` to a ruamel tree (creating block-style containers where needed)."""
    return apply_edit(document, edit, make, setter=_set)
