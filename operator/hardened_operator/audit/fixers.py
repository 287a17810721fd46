"""Turn violations into minimal field edits and apply them (pure: works on any mutable tree).

The policy engine says, for most findings, exactly which single field edit fixes it
(``Violation.fix_op``/``fix_field``/``fix_value``). ``--fix`` applies only the edits that stay
inside a ``securityContext`` (or an AppArmor annotation, the older spelling of the same setting):
removing a hostPath volume, a host namespace or a hostPort changes what the workload *does*, so
those are reported as unfixable instead.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, MutableMapping, MutableSequence
from dataclasses import dataclass
from typing import Any, Literal

from hardened_operator.audit.documents import split_field
from hardened_operator.policy.types import Profile, Violation
from hardened_operator.workloads import review_object

APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"
_MAX_ROUNDS = 4  # each round applies every edit the engine proposes; two are enough in practice

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Edit:
    """One field edit, with its path from the root of the document (not of the object)."""

    op: Literal["set", "remove"]
    path: Path
    value: Any = None


MakeValue = Callable[[Any], Any]  # turns a plain JSON value into the tree's own container types


def _anchor(path: Path) -> int | None:
    """Index of the first segment we may create: the securityContext (or annotations) key."""
    for index, part in enumerate(path):
        if part == "securityContext":
            return index
    last = path[-1] if path else None
    if (
        isinstance(last, str)
        and last.startswith(APPARMOR_ANNOTATION_PREFIX)
        and len(path) >= 2
        and path[-2] == "annotations"
    ):
        return len(path) - 2
    return None


def fixable(violation: Violation) -> bool:
    return (
        violation.fix_op in ("set", "remove")
        and bool(violation.fix_field)
        and _anchor(tuple(split_field(violation.fix_field or ""))) is not None
    )


Setter = Callable[[MutableMapping[str, Any], str, Any], None]


def _assign(parent: MutableMapping[str, Any], key: str, value: Any) -> None:
    parent[key] = value


def _parent(root: Any, path: Path) -> MutableMapping[str, Any] | None:
    node = root
    for part in path[:-1]:
        if isinstance(part, int):
            if not isinstance(node, MutableSequence) or not 0 <= part < len(node):
                return None
            node = node[part]
        elif isinstance(node, MutableMapping) and part in node:
            node = node[part]
        else:
            return None
    return node if isinstance(node, MutableMapping) else None


def apply_edit(root: Any, edit: Edit, make: MakeValue, setter: Setter = _assign) -> bool:
    """Apply one edit to a tree; True if it changed anything.

    Missing mappings are created only from the anchor (``securityContext``) down, in one
    assignment, so a HardenedService never grows a ``spec.template`` it does not have.
    """
    anchor = _anchor(edit.path)
    if anchor is None or not edit.path:
        return False
    key = edit.path[-1]
    if edit.op == "remove":
        parent = _parent(root, edit.path)
        if parent is not None and key in parent:
            del parent[key]  # type: ignore[arg-type]
            return True
        return False
    node = root
    for index, part in enumerate(edit.path[:-1]):
        if isinstance(part, int):
            if not isinstance(node, MutableSequence) or not 0 <= part < len(node):
                return False
            node = node[part]
            continue
        if not isinstance(node, MutableMapping):
            return False
        child = node.get(part)
        if child is None:
            rest = edit.path[index + 1 :]
            if index < anchor or any(isinstance(p, int) for p in rest):
                return False
            value: Any = copy.deepcopy(edit.value)
            for name in reversed(rest):
                value = {name: value}
            setter(node, part, make(value))
            return True
        node = child
    if not isinstance(node, MutableMapping) or isinstance(key, int):
        return False
    current = node.get(key, _MISSING)
    if current is not _MISSING and type(current) is type(edit.value) and current == edit.value:
        return False
    setter(node, key, make(copy.deepcopy(edit.value)))
    return True


_MISSING = object()


def _prefixed(prefix: str, field: str) -> Path:
    return tuple(split_field(f"{prefix}.{field}" if prefix else field))


def plan_object(obj: MutableMapping[str, Any], prefix: str, profile: Profile) -> list[Edit]:
    """Edits that make ``obj`` pass ``profile``, found by re-reviewing after each round.

    ``obj`` is a plain (dict/list) copy that this function mutates; ``prefix`` is the object's
    path inside its document, prepended to every edit. Raises InputError for wrong shapes.
    """
    edits: list[Edit] = []
    for _ in range(_MAX_ROUNDS):
        changed = False
        for violation in review_object(obj, profile):
            if not fixable(violation):
                continue
            local = Edit(
                violation.fix_op or "set",
                tuple(split_field(violation.fix_field or "")),
                violation.fix_value,
            )
            if apply_edit(obj, local, _plain):
                changed = True
                edits.append(
                    Edit(local.op, _prefixed(prefix, violation.fix_field or ""), local.value)
                )
        if not changed:
            break
    return edits


def _plain(value: Any) -> Any:
    return value
