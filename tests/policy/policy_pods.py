"""Pod spec builders and path edits shared by the policy tests."""

from __future__ import annotations

import copy
import re
from typing import Any

DELETE = object()  # an edit value meaning "remove this key"

_STEP = re.compile(r"([A-Za-z0-9_]+)(?:\[(\d+)\])?")


def container(name: str) -> dict[str, Any]:
    """A container that passes every check on its own (restricted included)."""
    return {
        "name": name,
        "image": "registry.example/app:1.0",
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
    }


def compliant_spec() -> dict[str, Any]:
    """A pod spec with one init, one regular and one ephemeral container; passes both
    profiles. Each test edits one thing and expects exactly the matching checks to fail."""
    return {
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 1000,
            "runAsGroup": 1000,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "initContainers": [container("init")],
        "containers": [container("app")],
        "ephemeralContainers": [container("debug")],
    }


def edit(spec: dict[str, Any], path: str, value: Any) -> None:
    """Set (or with DELETE remove) ``path`` like ``containers[0].securityContext.runAsUser``,
    creating intermediate objects."""
    steps = path.split(".")
    node: Any = spec
    for position, step in enumerate(steps):
        match = _STEP.fullmatch(step)
        assert match, step
        key, index = match.group(1), match.group(2)
        last = position == len(steps) - 1
        if index is not None:
            node = node.setdefault(key, [])
            while len(node) <= int(index):
                node.append({})
            if last:
                node[int(index)] = value
                return
            node = node[int(index)]
            continue
        if last:
            if value is DELETE:
                node.pop(key, None)
            else:
                node[key] = value
            return
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]


def spec_with(*edits: tuple[str, Any], base: dict[str, Any] | None = None) -> dict[str, Any]:
    spec = copy.deepcopy(base if base is not None else compliant_spec())
    for path, value in edits:
        # Copy the value: a later edit may write below it, and tables share their values.
        edit(spec, path, value if value is DELETE else copy.deepcopy(value))
    return spec
