"""Autoscaler, disruption budget, spreading and rollout pace (pure: no I/O here).

Design (docs/hardenedservice.md#scaling): the HorizontalPodAutoscaler targets the
HardenedService itself, through its ``/scale`` subresource. The HPA writes ``spec.replicas``,
the operator copies it into the Deployment: one writer per field, so the operator and the HPA
never undo each other's work (an HPA aimed at the Deployment would be reverted by drift
correction on every reconcile).
"""

from __future__ import annotations

from typing import Any, Final

from hardened_operator import API_GROUP, API_VERSION, KIND
from hardened_operator.builders.labels import COMPONENT_WORKLOAD, selector_labels
from hardened_operator.model import HardenedService

HOSTNAME_KEY: Final = "kubernetes.io/hostname"
ZONE_KEY: Final = "topology.kubernetes.io/zone"


def stateful(hs: HardenedService) -> bool:
    """Each replica keeps its own claims (``spec.workload: StatefulSet``)."""
    return hs.spec.workload == "StatefulSet"


def most_replicas(hs: HardenedService) -> int:
    """The most pods the service can run: ``autoscaling.maxReplicas``, else ``replicas``."""
    if hs.spec.autoscaling is not None:
        return max(hs.spec.autoscaling.maxReplicas, hs.spec.replicas)
    return hs.spec.replicas


def wants_disruption_budget(hs: HardenedService) -> bool:
    """A budget only protects something with 2 or more replicas; with 1 it would either block
    every drain (minAvailable 1) or allow everything (maxUnavailable 1)."""
    return hs.spec.disruptionBudget.enabled and most_replicas(hs) >= 2


def topology_spread(hs: HardenedService) -> list[dict[str, Any]]:
    """Preferred spreading over nodes, then zones (``ScheduleAnyway``: a single node or an
    unlabelled cluster still schedules every replica; the scheduler just prefers spreading).

    Whatever ``replicas`` says: with one pod the constraints change nothing, and a pod
    template that depended on the replica count would restart every pod on ``kubectl scale``
    (or on each autoscaler step across 1 and 2).
    """
    if not hs.spec.topologySpread:
        return []
    return [
        {
            "maxSkew": 1,
            "topologyKey": key,
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": selector_labels(hs, COMPONENT_WORKLOAD)},
            # A Deployment: spread each rollout's pods, not old and new together (a
            # StatefulSet replaces its pods one by one, in place: nothing to tell apart).
            **({"matchLabelKeys": ["pod-template-hash"]} if not stateful(hs) else {}),
        }
        for key in (HOSTNAME_KEY, ZONE_KEY)
    ]


def horizontal_pod_autoscaler(hs: HardenedService, metadata: dict[str, Any]) -> dict[str, Any]:
    """The ``autoscaling/v2`` HPA scaling the HardenedService (``spec.autoscaling`` is set)."""
    autoscaling = hs.spec.autoscaling
    assert autoscaling is not None  # callers check; keeps mypy's narrowing
    metrics = []
    for resource, target in (
        ("cpu", autoscaling.targetCPUUtilizationPercentage),
        ("memory", autoscaling.targetMemoryUtilizationPercentage),
    ):
        if target is not None:
            metrics.append(
                {
                    "type": "Resource",
                    "resource": {
                        "name": resource,
                        "target": {"type": "Utilization", "averageUtilization": target},
                    },
                }
            )
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata,
        "spec": {
            "scaleTargetRef": {
                "apiVersion": f"{API_GROUP}/{API_VERSION}",
                "kind": KIND,
                "name": hs.name,
            },
            "minReplicas": autoscaling.minReplicas,
            "maxReplicas": autoscaling.maxReplicas,
            "metrics": metrics,
        },
    }


def pod_disruption_budget(hs: HardenedService, metadata: dict[str, Any]) -> dict[str, Any]:
    """The ``policy/v1`` PDB over the workload's pods (``wants_disruption_budget`` is true).

    ``unhealthyPodEvictionPolicy: AlwaysAllow``: a pod that is not ready protects nothing, so
    a crash-looping replica never blocks a node drain.
    """
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata,
        "spec": {
            "maxUnavailable": hs.spec.disruptionBudget.maxUnavailable,
            "selector": {"matchLabels": selector_labels(hs, COMPONENT_WORKLOAD)},
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }


def network_policy(hs: HardenedService, metadata: dict[str, Any]) -> dict[str, Any]:
    """The ingress NetworkPolicy over the workload's pods (``spec.networkPolicy`` is set).

    One rule: from the listed peers, to the declared ports. No peers or no ports: no rule at
    all, which denies every ingress -- an empty ``from`` or ``ports`` would mean "any" instead.
    """
    given = hs.spec.networkPolicy
    assert given is not None  # callers check; keeps mypy's narrowing
    peers = [peer.model_dump(exclude_none=True) for peer in given.allowFrom]
    ports = [
        {"port": port.containerPort, "protocol": port.protocol} for port in hs.spec.ports or []
    ]
    rules = [{"from": peers, "ports": ports}] if peers and ports else []
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata,
        "spec": {
            "podSelector": {"matchLabels": selector_labels(hs, COMPONENT_WORKLOAD)},
            "policyTypes": ["Ingress"],
            "ingress": rules,
        },
    }


def rolling_update(hs: HardenedService) -> dict[str, Any]:
    """The spec's ``rollingUpdate`` fields that are set (empty: Kubernetes' defaults)."""
    given = hs.spec.rollingUpdate
    return given.model_dump(exclude_none=True) if given is not None else {}
