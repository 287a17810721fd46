"""Per-replica state on the real node (issue 12 part 4): ``workload: StatefulSet`` gives each
replica its own claim, and each replica finds its own data again after its pod is replaced."""

from __future__ import annotations

from typing import Any

import pytest

from tests.node.node_support import (
    NodeCluster,
    core_api,
    create_hsvc,
    pods_of,
    sample_service,
    wait_for,
    wait_ready,
)

pytestmark = pytest.mark.node

VOLUMES = {
    "data": {"size": "16Mi"},
    "logs": {"enabled": False},
    "models": {"enabled": False},
    "cache": {"enabled": False},
}
REPLICAS = ("keeper-0", "keeper-1")


def ready_pods(api: Any, namespace: str) -> dict[str, str] | None:
    """{pod name: uid} once both replicas run and are ready (else None)."""
    found = {}
    for pod in pods_of(api, namespace, "keeper"):
        statuses = pod.status.container_statuses or []
        if pod.status.phase == "Running" and statuses and all(s.ready for s in statuses):
            found[str(pod.metadata.name)] = str(pod.metadata.uid)
    return found if sorted(found) == list(REPLICAS) else None


def test_each_statefulset_replica_keeps_its_own_data_across_restarts(
    node_cluster: NodeCluster, node_api: Any, node_namespace: str
) -> None:
    extra = {"workload": "StatefulSet", "replicas": 2, "volumes": VOLUMES}
    create_hsvc(node_api, node_namespace, sample_service("keeper", extra=extra))
    wait_ready(node_api, node_namespace, "keeper", timeout=240)
    before = wait_for(lambda: ready_pods(node_api, node_namespace), 120, "two ready replicas")

    claims = core_api(node_api).list_namespaced_persistent_volume_claim(node_namespace).items
    assert sorted((c.metadata.name, c.status.phase) for c in claims) == [
        ("data-keeper-0", "Bound"),
        ("data-keeper-1", "Bound"),
    ]
    for pod in REPLICAS:
        wrote = node_cluster.exec(node_namespace, pod, f"echo {pod} > /app/data/owner")
        assert wrote.returncode == 0, wrote.stderr

    for pod in REPLICAS:
        core_api(node_api).delete_namespaced_pod(pod, node_namespace)

    def replaced() -> dict[str, str] | None:
        now = ready_pods(node_api, node_namespace)
        return now if now and not set(now.values()) & set(before.values()) else None

    wait_for(replaced, 240, "both replicas replaced and ready")
    for pod in REPLICAS:
        read = node_cluster.exec(node_namespace, pod, "cat /app/data/owner; id -u")
        assert read.stdout.split() == [pod, "1000"], read.stderr
