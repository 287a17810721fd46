"""Config rollouts: a change to a ConfigMap or Secret a HardenedService reads rolls its pods.

Kubernetes does not restart pods when the ConfigMaps and Secrets behind their ``env`` and
``envFrom`` change (kubernetes #22368). With ``hardened run --config-rollouts`` the operator
watches ConfigMaps and Secrets and puts a hash of the ones each HardenedService references on
its pod templates (annotation ``ai-system.io/config-hash``): a change to one of them changes
the hash of exactly the HardenedServices that reference it, and their Deployments roll.

What is hashed is each object's ``uid`` and ``resourceVersion``, never its data: no Secret
value is read into a hash, a log line, an Event or an annotation, and the cache keeps only the
objects' names and versions (``cache.slim``). A metadata-only change (a label) rolls too.

Opt-in because it needs ``list``/``watch`` on ConfigMaps and Secrets in every watched
namespace, which the chart's least-privilege RBAC does not grant (docs/hardenedservice.md).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

import kopf

from hardened_operator.k8s import KubeClient
from hardened_operator.k8s.resources import CONFIG_MAPS, SECRETS, Resource

log = logging.getLogger(__name__)

HASH_ANNOTATION: Final = "ai-system.io/config-hash"
CONFIG_KINDS: Final = (CONFIG_MAPS, SECRETS)

Ref = tuple[str, str]  # (kind, name), in the HardenedService's namespace
Lookup = Callable[[str, str, str], Mapping[str, Any] | None]  # (kind, namespace, name)


def references(spec: Mapping[str, Any]) -> set[Ref]:
    """The ConfigMaps and Secrets a (raw) HardenedService spec reads through env/envFrom."""
    found: set[Ref] = set()
    for var in _list(spec.get("env")):
        source = _map(_map(var).get("valueFrom"))
        for field, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
            name = _map(source.get(field)).get("name")
            if isinstance(name, str):
                found.add((kind, name))
    for source in _list(spec.get("envFrom")):
        for field, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
            name = _map(_map(source).get(field)).get("name")
            if isinstance(name, str):
                found.add((kind, name))
    return found


def config_hash(namespace: str, refs: Iterable[Ref], lookup: Lookup) -> str:
    """A hash of the referenced objects' identities and versions (absent ones count too:
    creating a missing Secret is a change). Deterministic: sorted, no clock."""
    lines = []
    for kind, name in sorted(refs):
        meta = _map(_map(lookup(kind, namespace, name)).get("metadata"))
        version = f"{meta.get('uid')}:{meta.get('resourceVersion')}" if meta else "absent"
        lines.append(f"{kind}/{name}={version}")
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:32]


def annotate(desired: Sequence[Mapping[str, Any]], value: str | None) -> list[Mapping[str, Any]]:
    """``desired`` with the hash on every workload's pod template (None: unchanged)."""
    if value is None:
        return list(desired)
    out: list[Mapping[str, Any]] = []
    for obj in desired:
        if obj.get("kind") not in ("Deployment", "StatefulSet"):
            out.append(obj)
            continue
        template = obj["spec"]["template"]
        metadata = dict(template.get("metadata") or {})
        metadata["annotations"] = {**(metadata.get("annotations") or {}), HASH_ANNOTATION: value}
        out.append({**obj, "spec": {**obj["spec"], "template": {**template, "metadata": metadata}}})
    return out


def users(namespace: str, kind: str, name: str, services: Iterable[Mapping[str, Any]]) -> list[str]:
    """Names of the HardenedServices in ``namespace`` that reference ``kind``/``name``."""
    out = []
    for hsvc in services:
        meta = _map(hsvc.get("metadata"))
        if meta.get("namespace") != namespace:
            continue
        if (kind, name) in references(_map(hsvc.get("spec"))):
            out.append(str(meta.get("name")))
    return sorted(out)


async def prime(cache: Any, client: KubeClient, namespaces: Sequence[str]) -> None:
    """List ConfigMaps and Secrets into ``cache`` (versions only) before the watches start, so
    the first reconcile after a restart computes the same hash as before: no restart rolls."""
    for namespace in namespaces or (None,):
        for resource in CONFIG_KINDS:
            async for page in client.pages(resource, namespace):
                for item in page:
                    cache.observe({"kind": resource.kind, "metadata": item.get("metadata") or {}})


def register(
    registry: kopf.OperatorRegistry,
    cache: Any,
    trigger: Callable[[str, str], Any],
) -> None:
    """kopf event handlers for ConfigMaps and Secrets: keep their versions in ``cache`` and
    reconcile the HardenedServices that reference a changed one (only those)."""
    for resource in CONFIG_KINDS:
        _register(registry, cache, trigger, resource)


def _register(
    registry: kopf.OperatorRegistry,
    cache: Any,
    trigger: Callable[[str, str], Any],
    resource: Resource,
) -> None:
    async def on_event(
        *, type: str, namespace: str | None, name: str, body: kopf.Body, **_: Any
    ) -> None:
        if namespace is None:  # pragma: no cover - both kinds are namespaced
            return
        obj = {
            "apiVersion": resource.api_version,
            "kind": resource.kind,
            "metadata": dict(body.metadata),
        }
        if type == "DELETED":
            cache.remove(obj)
        elif not cache.observe(obj):
            return  # the listing again: nothing new
        services = [cache.hardened_service(ns, n) for ns, n in cache.hardened_services()]
        for user in users(namespace, resource.kind, name, [s for s in services if s]):
            log.info(
                "%s %s/%s changed: reconciling HardenedService %s",
                resource.kind,
                namespace,
                name,
                user,
            )
            await trigger(namespace, user)

    kopf.on.event(
        resource.group,
        resource.version,
        resource.plural,
        id=f"config_{resource.plural}",
        registry=registry,
    )(on_event)


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
