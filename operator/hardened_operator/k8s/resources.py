"""Where each kind lives in the REST API (pure: paths only, no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from hardened_operator import API_GROUP, API_VERSION, KIND, PLURAL


@dataclass(frozen=True)
class Resource:
    """One API resource: enough to build its URL."""

    group: str  # "" for the core group
    version: str
    plural: str
    kind: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(
        self, namespace: str | None = None, name: str | None = None, subresource: str = ""
    ) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace is not None:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        if name is not None:
            base += f"/{quote(name, safe='')}"
            if subresource:
                base += f"/{subresource}"
        return base


HARDENED_SERVICES = Resource(API_GROUP, API_VERSION, PLURAL, KIND)
DEPLOYMENTS = Resource("apps", "v1", "deployments", "Deployment")
STATEFULSETS = Resource("apps", "v1", "statefulsets", "StatefulSet")
SERVICES = Resource("", "v1", "services", "Service")
PVCS = Resource("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim")
PODS = Resource("", "v1", "pods", "Pod")
HPAS = Resource("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler")
PDBS = Resource("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget")
NETWORK_POLICIES = Resource("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy")
EVENTS = Resource("", "v1", "events", "Event")
SECRETS = Resource("", "v1", "secrets", "Secret")
CONFIG_MAPS = Resource("", "v1", "configmaps", "ConfigMap")
VALIDATING_WEBHOOKS = Resource(
    "admissionregistration.k8s.io",
    "v1",
    "validatingwebhookconfigurations",
    "ValidatingWebhookConfiguration",
    namespaced=False,
)
KOPF_PEERINGS = Resource("kopf.dev", "v1", "kopfpeerings", "KopfPeering")
CLUSTER_KOPF_PEERINGS = Resource(
    "kopf.dev", "v1", "clusterkopfpeerings", "ClusterKopfPeering", namespaced=False
)

OWNED = (DEPLOYMENTS, STATEFULSETS, SERVICES, PVCS, HPAS, PDBS, NETWORK_POLICIES)
"""The kinds the controller generates (watched, indexed, compared)."""

WATCHED = (*OWNED, PODS)
"""What the controller watches by our labels: the kinds it generates, and the pods the
Deployments' ReplicaSets create from its pod templates (read only: their status says why
replicas are not ready)."""

_BY_KIND = {
    r.kind: r
    for r in (
        HARDENED_SERVICES,
        DEPLOYMENTS,
        STATEFULSETS,
        SERVICES,
        PVCS,
        HPAS,
        PDBS,
        NETWORK_POLICIES,
        EVENTS,
        SECRETS,
        VALIDATING_WEBHOOKS,
    )
}


def for_object(obj: Mapping[str, Any]) -> Resource:
    """The resource of a manifest, from its ``apiVersion`` and ``kind`` (known kinds only)."""
    kind = obj.get("kind")
    resource = _BY_KIND.get(str(kind))
    if resource is None or resource.api_version != obj.get("apiVersion"):
        raise ValueError(f"no resource known for {obj.get('apiVersion')}/{kind}")
    return resource
