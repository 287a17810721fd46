"""Scaling, availability, ingress and spec warnings through the real operator and API server
(issue 12).

The API-only plane has no controller-manager, so nothing here scales by itself: the tests check
what the operator writes (HPA, PDB, the Deployment's replicas from ``/scale``, status.selector,
the SpecWarnings condition). tests/node/test_node_scaling.py has the real HPA controller.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hardened_operator import API_GROUP, API_VERSION, PLURAL
from tests.operator.operator_support import (
    conditions,
    create_hsvc,
    custom,
    get_hsvc,
    hsvc,
    patch_hsvc,
    read,
    running_operator,
    wait_for,
)

pytestmark = pytest.mark.controlplane

NO_VOLUMES = {v: {"enabled": False} for v in ("logs", "data", "models", "cache")}
PORTS = [{"containerPort": 8080}]


def test_autoscaling_makes_an_hpa_on_the_hardenedservice_and_a_budget(
    control_plane: Any, k8s_api: Any, namespace: str, tmp_path: Path
) -> None:
    spec = {
        "ports": PORTS,
        "volumes": NO_VOLUMES,
        "resources": {"requests": {"cpu": "100m"}},
        "autoscaling": {"minReplicas": 2, "maxReplicas": 4, "targetCPUUtilizationPercentage": 60},
    }
    with running_operator(control_plane.env(), namespace, tmp_path):
        create_hsvc(k8s_api, hsvc("web", namespace, **spec))
        hpa = wait_for(
            "the HPA", lambda: read(k8s_api, "HorizontalPodAutoscaler", namespace, "web")
        )
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": f"{API_GROUP}/{API_VERSION}",
            "kind": "HardenedService",
            "name": "web",
        }
        assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 4)
        assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 60
        pdb = wait_for("the PDB", lambda: read(k8s_api, "PodDisruptionBudget", namespace, "web"))
        assert pdb["spec"]["maxUnavailable"] == 1
        assert pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
        owner = hpa["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"], owner["controller"]) == (
            "HardenedService",
            "web",
            True,
        )

        # Autoscaling off, one replica: both go (nothing left for them to protect or scale).
        patch_hsvc(k8s_api, namespace, "web", {"spec": {"autoscaling": None, "replicas": 1}})
        wait_for(
            "the HPA and the PDB deleted",
            lambda: (
                read(k8s_api, "HorizontalPodAutoscaler", namespace, "web") is None
                and read(k8s_api, "PodDisruptionBudget", namespace, "web") is None
            ),
        )


def test_scale_subresource_moves_the_deployment_and_status_names_the_pods(
    control_plane: Any, k8s_api: Any, namespace: str, tmp_path: Path
) -> None:
    with running_operator(control_plane.env(), namespace, tmp_path):
        create_hsvc(k8s_api, hsvc("api", namespace, ports=PORTS, volumes=NO_VOLUMES))
        wait_for("the Deployment", lambda: read(k8s_api, "Deployment", namespace, "api"))
        custom(k8s_api).patch_namespaced_custom_object_scale(
            API_GROUP, API_VERSION, namespace, PLURAL, "api", {"spec": {"replicas": 3}}
        )
        wait_for(
            "Deployment replicas 3",
            lambda: (read(k8s_api, "Deployment", namespace, "api") or {})["spec"]["replicas"] == 3,
        )
        scale = custom(k8s_api).get_namespaced_custom_object_scale(
            API_GROUP, API_VERSION, namespace, PLURAL, "api"
        )
        assert scale["spec"]["replicas"] == 3
        assert scale["status"]["selector"] == (
            "app.kubernetes.io/component=workload,app.kubernetes.io/instance=api,"
            "app.kubernetes.io/name=api"
        )
        # Three replicas possible: a budget now exists.
        wait_for("the PDB", lambda: read(k8s_api, "PodDisruptionBudget", namespace, "api"))


def test_replicas_on_a_read_write_once_claim_get_a_spec_warnings_condition(
    control_plane: Any, k8s_api: Any, namespace: str, tmp_path: Path
) -> None:
    volumes = {**NO_VOLUMES, "data": {"size": "1Gi"}}
    with running_operator(control_plane.env(), namespace, tmp_path):
        create_hsvc(k8s_api, hsvc("db", namespace, replicas=2, ports=PORTS, volumes=volumes))

        def warned() -> dict[str, Any] | None:
            return conditions(get_hsvc(k8s_api, namespace, "db")).get("SpecWarnings")

        condition = wait_for("the SpecWarnings condition", warned)
        assert condition["status"] == "True" and condition["reason"] == "RiskySpec"
        assert "ReadWriteOnce" in condition["message"] and "data" in condition["message"]
        generation = get_hsvc(k8s_api, namespace, "db")["metadata"]["generation"]
        assert condition["observedGeneration"] == generation

        # Fixed (one replica): the condition goes away.
        patch_hsvc(k8s_api, namespace, "db", {"spec": {"replicas": 1}})
        wait_for("SpecWarnings gone", lambda: warned() is None)


def test_network_policy_is_applied_and_removed_when_switched_off(
    control_plane: Any, k8s_api: Any, namespace: str, tmp_path: Path
) -> None:
    peer = {"podSelector": {"matchLabels": {"app": "frontend"}}}
    spec = {"ports": PORTS, "volumes": NO_VOLUMES, "networkPolicy": {"allowFrom": [peer]}}
    with running_operator(control_plane.env(), namespace, tmp_path):
        create_hsvc(k8s_api, hsvc("guarded", namespace, **spec))
        policy = wait_for(
            "the NetworkPolicy", lambda: read(k8s_api, "NetworkPolicy", namespace, "guarded")
        )
        [rule] = policy["spec"]["ingress"]
        assert rule["from"] == [peer]
        assert rule["ports"] == [{"port": 8080, "protocol": "TCP"}]
        patch_hsvc(k8s_api, namespace, "guarded", {"spec": {"networkPolicy": None}})
        wait_for(
            "the NetworkPolicy deleted",
            lambda: read(k8s_api, "NetworkPolicy", namespace, "guarded") is None,
        )
