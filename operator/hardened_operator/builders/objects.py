"""The objects a HardenedService becomes, in apply order (pure: no I/O here).

PVCs first (the pods mount them), then the Deployment, the Service, the debug Deployment,
the HorizontalPodAutoscaler and the PodDisruptionBudget.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from hardened_operator.builders.availability import (
    horizontal_pod_autoscaler,
    pod_disruption_budget,
    rolling_update,
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
from hardened_operator.model import HardenedService
from hardened_operator.model.validation import parse

DEBUG_SUFFIX: Final = "-debug"


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


def _claim_names(hs: HardenedService) -> dict[str, str]:
    return {name: claim_name(hs.name, name) for name, _ in hs.spec.volumes.enabled()}


def persistent_volume_claims(hs: HardenedService) -> list[dict[str, Any]]:
    """One PVC per enabled volume, named ``<name>-<volume>``."""
    claims = []
    for volume, spec in hs.spec.volumes.enabled():
        labels = {**object_labels(hs, COMPONENT_STORAGE), VOLUME_LABEL: volume}
        claim_spec: dict[str, Any] = {
            "accessModes": list(spec.accessModes),
            "resources": {"requests": {"storage": spec.size}},
        }
        if spec.storageClassName is not None:
            claim_spec["storageClassName"] = spec.storageClassName
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


def service(hs: HardenedService) -> dict[str, Any]:
    """The ClusterIP Service exposing every port under its container port number."""
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
            "selector": selector_labels(hs, COMPONENT_WORKLOAD),
            "ports": ports,
        },
    }


def objects_for(hs: HardenedService) -> list[dict[str, Any]]:
    """Every object of a parsed HardenedService, in apply order."""
    result = persistent_volume_claims(hs)
    result.append(deployment(hs, debug=False))
    if hs.spec.ports:
        result.append(service(hs))
    if hs.spec.debug:
        result.append(deployment(hs, debug=True))
    workload_labels = object_labels(hs, COMPONENT_WORKLOAD)
    if hs.spec.autoscaling is not None:
        result.append(horizontal_pod_autoscaler(hs, _metadata(hs, hs.name, workload_labels)))
    if wants_disruption_budget(hs):
        result.append(pod_disruption_budget(hs, _metadata(hs, hs.name, workload_labels)))
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
        if item["kind"] == "Deployment"
    ]
