"""The objects a HardenedService becomes, in apply order (pure: no I/O here).

PVCs first (the pods mount them), then the Deployment (or the StatefulSet, whose claims come
from its volumeClaimTemplates), the Service, the debug Deployment, the HorizontalPodAutoscaler
and the PodDisruptionBudget.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from hardened_operator.builders.availability import (
    horizontal_pod_autoscaler,
    network_policy,
    pod_disruption_budget,
    rolling_update,
    stateful,
    wants_disruption_budget,
)
from hardened_operator.builders.labels import (
    COMPONENT_DEBUG,
    COMPONENT_STORAGE,
    COMPONENT_WORKLOAD,
    VOLUME_LABEL,
    object_labels,
    selector_labels,
)
from hardened_operator.builders.pod import pod_template, single_node_volumes
from hardened_operator.model import HardenedService, VolumeSpec
from hardened_operator.model.validation import parse

DEBUG_SUFFIX: Final = "-debug"
WORKLOAD_KINDS: Final = ("Deployment", "StatefulSet")
"""The kinds whose pod templates the builders make (what a HardenedService's review checks)."""


def claim_name(name: str, volume: str) -> str:
    """PVC name of ``volume`` of HardenedService ``name``."""
    return f"{name}-{volume}"


def debug_name(name: str) -> str:
    """Name of the debug Deployment."""
    return f"{name}{DEBUG_SUFFIX}"


def _metadata(hs: HardenedService, name: str, labels: dict[str, str]) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if hs.namespace is not None:
        metadata["namespace"] = hs.namespace
    metadata["labels"] = labels
    return metadata


def replica_claim_name(name: str, volume: str, ordinal: int) -> str:
    """PVC name of ``volume`` of replica ``ordinal`` of a StatefulSet HardenedService (the
    StatefulSet controller's ``<template>-<statefulset>-<ordinal>``)."""
    return f"{volume}-{name}-{ordinal}"


def _claim_names(hs: HardenedService) -> dict[str, str]:
    if stateful(hs):
        # The debug pod of a StatefulSet mounts replica 0's claims.
        return {v: replica_claim_name(hs.name, v, 0) for v, _ in hs.spec.volumes.enabled()}
    return {name: claim_name(hs.name, name) for name, _ in hs.spec.volumes.enabled()}


def _claim_spec(spec: VolumeSpec) -> dict[str, Any]:
    claim_spec: dict[str, Any] = {
        "accessModes": list(spec.accessModes),
        "resources": {"requests": {"storage": spec.size}},
    }
    if spec.storageClassName is not None:
        claim_spec["storageClassName"] = spec.storageClassName
    return claim_spec


def _storage_labels(hs: HardenedService, volume: str) -> dict[str, str]:
    return {**object_labels(hs, COMPONENT_STORAGE), VOLUME_LABEL: volume}


def persistent_volume_claims(hs: HardenedService) -> list[dict[str, Any]]:
    """One PVC per enabled volume, named ``<name>-<volume>`` (none for a StatefulSet: each
    replica gets its own from the volumeClaimTemplates)."""
    if stateful(hs):
        return []
    claims = []
    for volume, spec in hs.spec.volumes.enabled():
        labels = _storage_labels(hs, volume)
        claim_spec = _claim_spec(spec)
        claims.append(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": _metadata(hs, claim_name(hs.name, volume), labels),
                "spec": claim_spec,
            }
        )
    return claims


def _strategy(hs: HardenedService) -> dict[str, Any]:
    # A rolling update would start the new pod while the old one still holds a single-node
    # volume; on another node it waits forever, so such services recreate instead.
    if single_node_volumes(hs):
        return {"type": "Recreate"}
    strategy: dict[str, Any] = {"type": "RollingUpdate"}
    pace = rolling_update(hs)
    if pace:
        strategy["rollingUpdate"] = pace
    return strategy


def deployment(hs: HardenedService, *, debug: bool) -> dict[str, Any]:
    """The workload Deployment, or (``debug``) the one-replica debug shell."""
    component = COMPONENT_DEBUG if debug else COMPONENT_WORKLOAD
    name = debug_name(hs.name) if debug else hs.name
    template = pod_template(hs, component=component, claim_names=_claim_names(hs), debug=debug)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(hs, name, object_labels(hs, component)),
        "spec": {
            "replicas": 1 if debug else hs.spec.replicas,
            "selector": {"matchLabels": selector_labels(hs, component)},
            "strategy": _strategy(hs),
            "template": template,
        },
    }


def stateful_set(hs: HardenedService) -> dict[str, Any]:
    """The workload StatefulSet: per-replica claims from volumeClaimTemplates named like the
    volumes, removed with the HardenedService only under ``volumeReclaimPolicy: Delete`` and
    never when scaling down (a replica scaled back up finds its data)."""
    templates = [
        {
            "metadata": {"name": volume, "labels": _storage_labels(hs, volume)},
            "spec": _claim_spec(spec),
        }
        for volume, spec in hs.spec.volumes.enabled()
    ]
    spec: dict[str, Any] = {
        "replicas": hs.spec.replicas,
        "selector": {"matchLabels": selector_labels(hs, COMPONENT_WORKLOAD)},
        "serviceName": hs.name,
        "template": pod_template(hs, component=COMPONENT_WORKLOAD, claim_names=None, debug=False),
        "updateStrategy": {"type": "RollingUpdate"},
        "persistentVolumeClaimRetentionPolicy": {
            "whenDeleted": hs.spec.volumeReclaimPolicy,
            "whenScaled": "Retain",
        },
    }
    if templates:
        spec["volumeClaimTemplates"] = templates
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": _metadata(hs, hs.name, object_labels(hs, COMPONENT_WORKLOAD)),
        "spec": spec,
    }


def service(hs: HardenedService) -> dict[str, Any]:
    """The ClusterIP Service exposing every port under its container port number; headless
    for a StatefulSet (its governing Service: ``<name>-0.<name>`` names replica 0)."""
    ports = []
    for port in hs.spec.ports or []:
        entry: dict[str, Any] = {}
        if port.name is not None:
            entry["name"] = port.name
        entry |= {
            "port": port.containerPort,
            "protocol": port.protocol,
            "targetPort": port.containerPort,
        }
        ports.append(entry)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(hs, hs.name, object_labels(hs, COMPONENT_WORKLOAD)),
        "spec": {
            "type": "ClusterIP",
            **({"clusterIP": "None"} if stateful(hs) else {}),
            "selector": selector_labels(hs, COMPONENT_WORKLOAD),
            "ports": ports,
        },
    }


def objects_for(hs: HardenedService) -> list[dict[str, Any]]:
    """Every object of a parsed HardenedService, in apply order."""
    result = persistent_volume_claims(hs)
    result.append(stateful_set(hs) if stateful(hs) else deployment(hs, debug=False))
    if hs.spec.ports or stateful(hs):
        result.append(service(hs))
    if hs.spec.debug:
        result.append(deployment(hs, debug=True))
    workload_labels = object_labels(hs, COMPONENT_WORKLOAD)
    if hs.spec.autoscaling is not None:
        result.append(horizontal_pod_autoscaler(hs, _metadata(hs, hs.name, workload_labels)))
    if wants_disruption_budget(hs):
        result.append(pod_disruption_budget(hs, _metadata(hs, hs.name, workload_labels)))
    if hs.spec.networkPolicy is not None:
        result.append(network_policy(hs, _metadata(hs, hs.name, workload_labels)))
    return result


def build_objects(obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    """HardenedService (a mapping) → PVCs, Deployment, Service, debug Deployment.

    Raises ``errors.SpecValidationError`` naming the field when the spec is invalid.
    """
    return objects_for(parse(obj))


def pod_templates(obj: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """("Deployment/<name>", pod template) for every pod the HardenedService would run.

    This is what ``review`` checks a HardenedService by: the pods it becomes, not its spec.
    """
    return [
        (f"{item['kind']}/{item['metadata']['name']}", item["spec"]["template"])
        for item in objects_for(parse(obj))
        if item["kind"] in WORKLOAD_KINDS
    ]
