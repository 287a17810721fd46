"""Scaling and availability on the real node (issue 12, parts 1 and 2).

- ``/scale``: scaling the HardenedService through its scale subresource (what ``kubectl scale
  hsvc`` does) scales the Deployment; ``/scale`` reports the replicas and the pods' selector.
- The real HorizontalPodAutoscaler controller (kube-controller-manager's) scales a
  HardenedService through ``/scale``, up to ``minReplicas`` and down to ``maxReplicas``, and
  the operator does not fight it: the replicas the HPA wrote stay, and the Deployment follows.
  The bounds move it first (applied before any metric is read); then, with a stand-in for
  metrics-server (``fake_metrics``: the metrics.k8s.io API with usage the test chooses), the
  HPA scales the service up on measured memory use, through the same /scale.
- The PodDisruptionBudget made for 2 replicas stops a second eviction while the first pod is
  replaced (a ``kubectl drain`` evicts through the same Eviction API).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

import tests.node.fake_metrics as fake_metrics
from hardened_operator import API_GROUP, API_VERSION, PLURAL
from tests.node.node_support import (
    apps_api,
    core_api,
    create_hsvc,
    pods_of,
    read_hsvc,
    sample_service,
    wait_for,
    wait_ready,
)

pytestmark = pytest.mark.node

NO_VOLUMES = {v: {"enabled": False} for v in ("logs", "data", "models", "cache")}


def scaled_service(name: str, **spec: Any) -> dict[str, Any]:
    extra = {"volumes": NO_VOLUMES, "resources": {"requests": {"cpu": "10m"}}, **spec}
    return sample_service(name, extra=extra)


def deployment_replicas(api: Any, namespace: str, name: str) -> tuple[int, int]:
    """(spec.replicas, status.readyReplicas) of the workload Deployment; (-1, -1): none yet."""
    try:
        live = apps_api(api).read_namespaced_deployment(name, namespace)
    except ApiException as error:
        if error.status == 404:
            return -1, -1
        raise
    return int(live.spec.replicas or 0), int(live.status.ready_replicas or 0)


def wait_replicas(api: Any, namespace: str, name: str, count: int, timeout: float = 180) -> None:
    """Until the HardenedService asks for ``count`` and the Deployment has ``count`` ready."""

    def settled() -> bool | None:
        wanted = read_hsvc(api, namespace, name)["spec"].get("replicas")
        return (
            wanted == count and deployment_replicas(api, namespace, name) == (count, count)
        ) or None

    wait_for(settled, timeout, f"{namespace}/{name} at {count} ready replicas")


def test_scale_subresource_scales_the_deployment(node_api: Any, node_namespace: str) -> None:
    create_hsvc(
        node_api, node_namespace, scaled_service("scaled", disruptionBudget={"enabled": False})
    )
    wait_ready(node_api, node_namespace, "scaled")
    custom = client.CustomObjectsApi(node_api)
    custom.patch_namespaced_custom_object_scale(
        API_GROUP, API_VERSION, node_namespace, PLURAL, "scaled", {"spec": {"replicas": 2}}
    )
    wait_replicas(node_api, node_namespace, "scaled", 2)

    def reported() -> dict[str, Any] | None:
        scale = custom.get_namespaced_custom_object_scale(
            API_GROUP, API_VERSION, node_namespace, PLURAL, "scaled"
        )
        assert isinstance(scale, dict)
        return scale if (scale.get("status") or {}).get("replicas") == 2 else None

    scale = wait_for(reported, 60, "/scale reporting 2 replicas")
    selector = scale["status"]["selector"]
    selected = core_api(node_api).list_namespaced_pod(node_namespace, label_selector=selector)
    assert len([p for p in selected.items if p.metadata.deletion_timestamp is None]) == 2


def _replica_writers(hsvc: dict[str, Any]) -> set[str]:
    """Managers that own spec.replicas (server-side apply bookkeeping)."""
    return {
        entry.get("manager", "")
        for entry in hsvc["metadata"].get("managedFields") or []
        if "f:replicas" in str((entry.get("fieldsV1") or {}).get("f:spec", {}))
    }


def test_the_hpa_scales_the_hardenedservice_and_the_operator_does_not_fight(
    node_api: Any, node_namespace: str
) -> None:
    name = "autoscaled"
    autoscaling = {"minReplicas": 2, "maxReplicas": 3, "targetCPUUtilizationPercentage": 50}
    create_hsvc(node_api, node_namespace, scaled_service(name, replicas=1, autoscaling=autoscaling))
    hpa = _hpa_once_made(node_api, node_namespace, name)
    assert hpa.spec.scale_target_ref.kind == "HardenedService"

    # Below minReplicas: the HPA controller writes spec.replicas 2 through /scale.
    wait_replicas(node_api, node_namespace, name, 2, timeout=240)
    hsvc = read_hsvc(node_api, node_namespace, name)
    assert "kube-controller-manager" in _replica_writers(hsvc), hsvc["metadata"]["managedFields"]

    # No fight: for several HPA syncs (15 s each) and operator reconciles, nothing moves.
    generation = (
        apps_api(node_api).read_namespaced_deployment(name, node_namespace).metadata.generation
    )
    end = time.monotonic() + 40
    while time.monotonic() < end:
        assert read_hsvc(node_api, node_namespace, name)["spec"]["replicas"] == 2
        assert deployment_replicas(node_api, node_namespace, name)[0] == 2
        time.sleep(2)
    after = apps_api(node_api).read_namespaced_deployment(name, node_namespace).metadata.generation
    assert after == generation, "the Deployment was rewritten while nothing changed"

    # Above maxReplicas: lowering the bounds makes the HPA scale the service down to 1.
    client.CustomObjectsApi(node_api).patch_namespaced_custom_object(
        API_GROUP,
        API_VERSION,
        node_namespace,
        PLURAL,
        name,
        {"spec": {"autoscaling": {"minReplicas": 1, "maxReplicas": 1}}},
    )
    wait_replicas(node_api, node_namespace, name, 1, timeout=240)


def _hpa_once_made(api: Any, namespace: str, name: str) -> Any:
    hpas = client.AutoscalingV2Api(api)

    def made() -> Any:
        try:
            return hpas.read_namespaced_horizontal_pod_autoscaler(name, namespace)
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    return wait_for(made, 60, f"the HPA {namespace}/{name}")


def _evict(api: Any, namespace: str, pod: str) -> int:
    body = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": pod, "namespace": namespace},
    }
    try:
        core_api(api).create_namespaced_pod_eviction(pod, namespace, body)
    except ApiException as error:
        return int(error.status)
    return 201


def test_an_eviction_respects_the_disruption_budget(node_api: Any, node_namespace: str) -> None:
    name = "budgeted"
    create_hsvc(node_api, node_namespace, scaled_service(name, replicas=2))
    wait_replicas(node_api, node_namespace, name, 2)
    policy = client.PolicyV1Api(node_api)

    def allowed() -> int | None:
        try:
            pdb = policy.read_namespaced_pod_disruption_budget(name, node_namespace)
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return 1 if pdb.status and pdb.status.disruptions_allowed == 1 else None

    wait_for(allowed, 90, "the PDB allowing exactly one disruption")
    first, second = sorted(p.metadata.name for p in pods_of(node_api, node_namespace, name))[:2]
    assert _evict(node_api, node_namespace, first) == 201
    # The first pod is going and its replacement is not ready: the budget is spent.
    assert _evict(node_api, node_namespace, second) == 429
    # Once the replacement is ready, the budget allows one disruption again.
    wait_replicas(node_api, node_namespace, name, 2)
    wait_for(allowed, 90, "the PDB allowing a disruption again")
    assert _evict(node_api, node_namespace, second) == 201


def test_the_hpa_scales_on_measured_load_through_the_metrics_api(
    node_api: Any, node_namespace: str, tmp_path: Path
) -> None:
    # Memory, not CPU: the HPA discounts CPU samples of pods in their first 5 minutes.
    name = "loaded"
    autoscaling = {"minReplicas": 1, "maxReplicas": 3, "targetMemoryUtilizationPercentage": 50}
    spec = {"replicas": 1, "autoscaling": autoscaling,
            "resources": {"requests": {"cpu": "10m", "memory": "64Mi"}}}  # fmt: skip
    with fake_metrics.served(node_api, tmp_path) as metrics:
        create_hsvc(node_api, node_namespace, scaled_service(name, **spec))
        wait_replicas(node_api, node_namespace, name, 1)
        metrics.usage = {"cpu": "5m", "memory": "16Mi"}  # 25% of the request: no reason to scale
        time.sleep(35)  # two HPA syncs with metrics below the target
        assert read_hsvc(node_api, node_namespace, name)["spec"]["replicas"] == 1
        assert metrics.requests > 0, "the HPA never asked the metrics API"

        metrics.usage = {"cpu": "5m", "memory": "128Mi"}  # 200%: four times the target
        wait_replicas(node_api, node_namespace, name, 3, timeout=240)  # capped at maxReplicas
        hsvc = read_hsvc(node_api, node_namespace, name)
        assert "kube-controller-manager" in _replica_writers(hsvc)
        end = time.monotonic() + 30  # and it stays there: no fight with the operator
        while time.monotonic() < end:
            assert deployment_replicas(node_api, node_namespace, name)[0] == 3
            time.sleep(2)
