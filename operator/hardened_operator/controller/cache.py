"""What the watches have seen, by object and by owner (pure: fed by handlers, no I/O).

Why our own cache and not kopf's indexes: kopf makes every object's first event wait until
*all* indexed objects are indexed, through one condition that every waiting object re-checks
against every toggle -- quadratic at start-up; with 1000 HardenedServices (6000 owned objects)
a restart did not finish its listing in minutes. Instead, the startup handler LISTs the kinds
once (before kopf starts watching), and the event handlers keep the cache current. Pods are
kept too (slim: status and labels), by the ``app.kubernetes.io/instance`` label their pod
template gives them: their status is what says why replicas are not ready.

Newer wins: an object replaces the cached one only if its resourceVersion is not older
(resourceVersions are etcd revisions; an unparsable one always replaces). Our own writes are
put in as soon as the API answers, so when the watch echoes them back they are not news.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hardened_operator import KIND

Key = tuple[str, str, str]  # (kind, namespace, name)
OWNER_LABEL = "app.kubernetes.io/instance"
POD = "Pod"


def owner_of(obj: Mapping[str, Any]) -> str | None:
    """The HardenedService name an owned object belongs to (ownerReference, else label)."""
    meta = obj.get("metadata") or {}
    for ref in meta.get("ownerReferences") or []:
        if ref.get("kind") == KIND:
            return str(ref.get("name"))
    owner = (meta.get("labels") or {}).get(OWNER_LABEL)
    return str(owner) if owner else None


def resource_version(obj: Mapping[str, Any] | None) -> int:
    try:
        return int(((obj or {}).get("metadata") or {}).get("resourceVersion") or -1)
    except ValueError:
        return -1


_POD_METADATA = (
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "labels",
    "ownerReferences",
    "deletionTimestamp",
)
# ConfigMaps and Secrets (config rollouts): only which version exists, never their data.
VERSION_ONLY = frozenset({"ConfigMap", "Secret"})
_VERSION_METADATA = ("name", "namespace", "uid", "resourceVersion")
_POD_STATUS = ("phase", "conditions", "containerStatuses", "initContainerStatuses")


def slim(obj: Mapping[str, Any], kind: str | None = None) -> dict[str, Any]:
    """A plain-dict copy without managedFields (the bulk of an object's bytes).

    A Pod keeps only what says why it is not ready (its status) and whose it is: we never
    write pods, and there are replicas-times more of them than of anything else we cache.
    """
    if (kind or obj.get("kind")) in VERSION_ONLY:
        meta = obj.get("metadata") or {}
        return {
            "kind": kind or obj.get("kind"),
            "metadata": {k: meta[k] for k in _VERSION_METADATA if k in meta},
        }
    if (kind or obj.get("kind")) == "Pod":
        meta = obj.get("metadata") or {}
        status = obj.get("status") or {}
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {k: meta[k] for k in _POD_METADATA if k in meta},
            "status": {k: status[k] for k in _POD_STATUS if k in status},
        }
    out = {key: obj[key] for key in obj}
    meta = dict(out.get("metadata") or {})
    meta.pop("managedFields", None)
    out["metadata"] = meta
    if kind and "kind" not in out:
        out["kind"] = kind  # LIST items carry no kind
    return out


class Cache:
    """Objects by (kind, namespace, name), and owned objects by (namespace, owner)."""

    def __init__(self) -> None:
        self._objects: dict[Key, dict[str, Any]] = {}
        self._owned: dict[tuple[str, str], set[Key]] = {}

    def __len__(self) -> int:
        return len(self._objects)

    @staticmethod
    def key(obj: Mapping[str, Any]) -> Key:
        meta = obj.get("metadata") or {}
        return (str(obj.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name")))

    def observe(self, obj: Mapping[str, Any]) -> bool:
        """Remember ``obj`` unless we hold a newer one; True when it is news (new or changed)."""
        key = self.key(obj)
        cached = self._objects.get(key)
        if cached is not None:
            new, old = resource_version(obj), resource_version(cached)
            if new != -1 and old != -1 and new <= old:
                return False
        self._objects[key] = slim(obj)
        if key[0] != KIND and key[0] not in VERSION_ONLY:
            owner = owner_of(obj)
            if owner:
                self._owned.setdefault((key[1], owner), set()).add(key)
        return True

    def remove(self, obj: Mapping[str, Any]) -> None:
        key = self.key(obj)
        gone = self._objects.pop(key, None)
        if gone is not None and key[0] != KIND:
            owner = owner_of(gone)
            if owner:
                keys = self._owned.get((key[1], owner))
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del self._owned[(key[1], owner)]

    def get(self, kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        """Any cached object by kind, namespace and name."""
        return self._objects.get((kind, namespace, name))

    def hardened_service(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self._objects.get((KIND, namespace, name))

    def owned(self, namespace: str, name: str) -> list[Mapping[str, Any]]:
        """What we generated for the HardenedService (not its pods: see :meth:`pods`)."""
        keys = self._owned.get((namespace, name)) or set()
        return [self._objects[k] for k in keys if k in self._objects and k[0] != POD]

    def pods(self, namespace: str, name: str) -> list[Mapping[str, Any]]:
        """The pods labelled for the HardenedService (its ReplicaSets own them, not it)."""
        keys = self._owned.get((namespace, name)) or set()
        return [self._objects[k] for k in sorted(keys) if k in self._objects and k[0] == POD]

    def hardened_services(self) -> list[tuple[str, str]]:
        return [(ns, name) for kind, ns, name in self._objects if kind == KIND]
