"""Desired vs live, on the fields we manage only (pure: no I/O).

The API server adds defaults (``protocol: TCP``, ``terminationMessagePath``, ...) and other
actors add their own fields (status, annotations of other controllers). None of that is drift:
we compare the desired object as a *subset* of the live one. What is drift is exactly what a
server-side apply would change -- so when :func:`drift` is empty the apply is skipped and an
idle resync issues no write at all.

Rules, chosen to match server-side-apply semantics:

* maps: every desired key must match; extra live keys are ignored (another manager's fields);
* keyed lists (containers, env, ports, volumes, mounts, ...): matched by key, order ignored;
  live elements we do not list are ignored, because an apply would not remove them either;
* other lists (``command``, ``capabilities.drop``, ``tolerations``, ``accessModes``): atomic --
  same length, element by element;
* a desired zero value (``false``, ``0``, ``""``, ``[]``, ``{}``, ``null``) matches an absent
  live field, because the API server omits zero values when it serialises;
* resource quantities compare by value (``1024Mi`` == ``1Gi``, ``0.5`` == ``500m``);
* ``metadata`` compares labels, annotations and our ownerReferences (by owner uid), nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hardened_operator import KIND
from hardened_operator.model.quantity import quantity_or_none

# Keyed ("associative") lists of the kinds we generate, by the field holding the list.
_LIST_KEYS: dict[str, tuple[str, ...]] = {
    "containers": ("name",),
    "initContainers": ("name",),
    "env": ("name",),
    "envFrom": (),  # atomic
    "ports": ("containerPort", "port", "protocol"),
    "volumes": ("name",),
    "volumeMounts": ("mountPath",),
    "imagePullSecrets": ("name",),
    "ownerReferences": ("uid",),
}
_QUANTITY_PARENTS = frozenset({"limits", "requests", "capacity", "hard"})


def drift(desired: Mapping[str, Any], live: Mapping[str, Any] | None) -> list[str]:
    """Paths where ``live`` differs from ``desired`` (empty: nothing to apply)."""
    if live is None:
        return ["<missing>"]
    found: list[str] = []
    meta_d, meta_l = desired.get("metadata", {}), live.get("metadata", {})
    for key in ("labels", "annotations"):
        _compare(meta_d.get(key) or {}, meta_l.get(key) or {}, f"metadata.{key}", found)
    if _owner_uids(meta_d) != _owner_uids(meta_l):
        found.append("metadata.ownerReferences")
    for key, value in desired.items():
        if key in ("metadata", "apiVersion", "kind", "status"):
            continue
        _compare(value, live.get(key), key, found)
    return found


def owner_uids(obj: Mapping[str, Any]) -> set[str]:
    """The uids of the HardenedServices owning ``obj``."""
    return _owner_uids(obj.get("metadata", {}))


def _owner_uids(meta: Mapping[str, Any]) -> set[str]:
    return {
        str(ref.get("uid")) for ref in meta.get("ownerReferences") or [] if ref.get("kind") == KIND
    }


def _is_zero(value: Any) -> bool:
    return value is None or value is False or value == 0 or value in ("", [], {})


def _compare(desired: Any, live: Any, path: str, found: list[str]) -> None:
    if live is None:
        if not _is_zero(desired):
            found.append(path)
        return
    if isinstance(desired, Mapping):
        if not isinstance(live, Mapping):
            found.append(path)
            return
        for key, value in desired.items():
            _compare(value, live.get(key), f"{path}.{key}", found)
        return
    if isinstance(desired, list):
        if not isinstance(live, list):
            found.append(path)
            return
        _compare_list(desired, live, path, found)
        return
    if desired is None or desired == live:
        return
    if _last(path) and _parent(path) in _QUANTITY_PARENTS and _same_quantity(desired, live):
        return
    found.append(path)


def _compare_list(desired: list[Any], live: list[Any], path: str, found: list[str]) -> None:
    keys = _LIST_KEYS.get(_last(path), ())
    if keys and all(isinstance(item, Mapping) for item in desired + live):
        index = {_key_of(item, keys): item for item in live}
        for item in desired:
            key = _key_of(item, keys)
            _compare(item, index.get(key), f"{path}[{'/'.join(map(str, key))}]", found)
        return
    if len(desired) != len(live):
        found.append(path)
        return
    for i, (want, have) in enumerate(zip(desired, live, strict=True)):
        _compare(want, have, f"{path}[{i}]", found)


def _key_of(item: Mapping[str, Any], keys: Sequence[str]) -> tuple[Any, ...]:
    # Ports default their protocol to TCP on the server: key on the defaulted value.
    return tuple(item.get(k, "TCP" if k == "protocol" else None) for k in keys)


def _last(path: str) -> str:
    return path.rsplit(".", 1)[-1].split("[", 1)[0]


def _parent(path: str) -> str:
    parts = path.split(".")
    return parts[-2].split("[", 1)[0] if len(parts) > 1 else ""


def _same_quantity(desired: Any, live: Any) -> bool:
    a, b = quantity_or_none(desired), quantity_or_none(live)
    return a is not None and a == b
