"""Scaling, availability and per-replica state (issue 12): the HPA, the disruption budget,
spreading, the rollout pace, the StatefulSet, and the spec warnings."""

from __future__ import annotations

from typing import Any

import pytest

from hardened_operator.builders import build_objects, pod_templates, warnings_for
from hardened_operator.workloads import review_object

NO_VOLUMES = {v: {"enabled": False} for v in ("logs", "data", "models", "cache")}
SHARED = {
    "data": {"accessModes": ["ReadWriteMany"]},
    "logs": {"enabled": False},
    "models": {"enabled": False},
    "cache": {"enabled": False},
}


def service(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "ai-system.io/v1alpha1",
        "kind": "HardenedService",
        "metadata": {"name": "svc", "namespace": "ai"},
        "spec": {"image": "busybox:1.36", "ports": [{"containerPort": 80}], **spec},
    }


def by_ref(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in build_objects(obj)}


SELECTOR = {
    "app.kubernetes.io/name": "svc",
    "app.kubernetes.io/instance": "svc",
    "app.kubernetes.io/component": "workload",
}


def test_autoscaling_makes_an_hpa_that_targets_the_hardenedservice() -> None:
    autoscaling = {
        "minReplicas": 2,
        "maxReplicas": 9,
        "targetCPUUtilizationPercentage": 70,
        "targetMemoryUtilizationPercentage": 80,
    }
    hpa = by_ref(service(autoscaling=autoscaling))["HorizontalPodAutoscaler/svc"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "ai-system.io/v1alpha1",
        "kind": "HardenedService",
        "name": "svc",
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 9)
    targets = {m["resource"]["name"]: m["resource"]["target"] for m in hpa["spec"]["metrics"]}
    assert targets == {
        "cpu": {"type": "Utilization", "averageUtilization": 70},
        "memory": {"type": "Utilization", "averageUtilization": 80},
    }


def test_the_deployment_follows_spec_replicas_even_with_autoscaling() -> None:
    # The HPA writes spec.replicas through /scale; the builders copy it, never override it.
    autoscaling = {"minReplicas": 2, "maxReplicas": 9, "targetCPUUtilizationPercentage": 70}
    deployment = by_ref(service(replicas=5, autoscaling=autoscaling))["Deployment/svc"]
    assert deployment["spec"]["replicas"] == 5


@pytest.mark.parametrize(
    ("spec", "budget"),
    [
        ({}, False),  # one replica: a budget would block drains or protect nothing
        ({"replicas": 2}, True),
        ({"replicas": 2, "disruptionBudget": {"enabled": False}}, False),
        (
            {"autoscaling": {"maxReplicas": 2, "targetCPUUtilizationPercentage": 50}},
            True,
        ),
        ({"replicas": 0}, False),
    ],
)
def test_a_budget_exactly_when_there_can_be_two_replicas(
    spec: dict[str, Any], budget: bool
) -> None:
    pdb = by_ref(service(**spec)).get("PodDisruptionBudget/svc")
    assert (pdb is not None) is budget
    if pdb is not None:
        assert pdb["spec"] == {
            "maxUnavailable": 1,
            "selector": {"matchLabels": SELECTOR},
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        }


def test_budget_takes_a_percentage() -> None:
    obj = service(replicas=4, disruptionBudget={"maxUnavailable": "25%"})
    assert by_ref(obj)["PodDisruptionBudget/svc"]["spec"]["maxUnavailable"] == "25%"


def test_spreading_is_preferred_over_nodes_and_zones_and_can_be_turned_off() -> None:
    pod = by_ref(service())["Deployment/svc"]["spec"]["template"]["spec"]
    spread = pod["topologySpreadConstraints"]
    assert [c["topologyKey"] for c in spread] == [
        "kubernetes.io/hostname",
        "topology.kubernetes.io/zone",
    ]
    assert all(c["whenUnsatisfiable"] == "ScheduleAnyway" for c in spread)
    assert all(c["labelSelector"] == {"matchLabels": SELECTOR} for c in spread)
    off = by_ref(service(topologySpread=False))["Deployment/svc"]["spec"]["template"]["spec"]
    assert "topologySpreadConstraints" not in off


def test_scaling_does_not_change_the_pod_template() -> None:
    # A template that depended on replicas would roll every pod on `kubectl scale`.
    one = by_ref(service(replicas=1))["Deployment/svc"]["spec"]["template"]
    three = by_ref(service(replicas=3))["Deployment/svc"]["spec"]["template"]
    assert one == three


def test_rolling_update_pace_only_when_the_volumes_allow_a_rolling_update() -> None:
    pace = {"maxSurge": 1, "maxUnavailable": 0}
    rolling = by_ref(service(volumes=SHARED, rollingUpdate=pace))["Deployment/svc"]
    assert rolling["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": pace}
    recreate = by_ref(service(rollingUpdate=pace))["Deployment/svc"]  # ReadWriteOnce claims
    assert recreate["spec"]["strategy"] == {"type": "Recreate"}


def test_a_statefulset_gives_each_replica_its_own_claims() -> None:
    obj = service(workload="StatefulSet", replicas=3, volumeReclaimPolicy="Delete")
    objects = by_ref(obj)
    assert not [r for r in objects if r.startswith("PersistentVolumeClaim/")]
    assert "Deployment/svc" not in objects
    sts = objects["StatefulSet/svc"]["spec"]
    assert sts["replicas"] == 3 and sts["serviceName"] == "svc"
    assert [t["metadata"]["name"] for t in sts["volumeClaimTemplates"]] == [
        "logs",
        "data",
        "models",
        "cache",
    ]
    assert sts["volumeClaimTemplates"][1]["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "10Gi"}},
    }
    assert sts["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Delete",
        "whenScaled": "Retain",
    }
    pod = sts["template"]["spec"]
    assert pod["volumes"] == [{"name": "tmp", "emptyDir": {}}]  # claims from the templates
    mounts = [m["name"] for m in pod["containers"][0]["volumeMounts"]]
    assert mounts == ["tmp", "logs", "data", "models", "cache"]
    assert objects["Service/svc"]["spec"]["clusterIP"] == "None"  # the governing Service
    assert review_object(objects["StatefulSet/svc"], "restricted") == []


def test_the_statefulset_is_what_admission_reviews() -> None:
    [(label, template)] = pod_templates(service(workload="StatefulSet"))
    assert label == "StatefulSet/svc"
    assert template["spec"]["securityContext"]["runAsNonRoot"] is True


def test_a_statefulset_debug_pod_mounts_replica_zero_claims() -> None:
    objects = by_ref(service(workload="StatefulSet", debug=True, volumes=SHARED))
    volumes = objects["Deployment/svc-debug"]["spec"]["template"]["spec"]["volumes"]
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "data-svc-0"}} in volumes


def test_a_statefulset_without_ports_still_has_its_headless_service() -> None:
    obj = service(workload="StatefulSet")
    obj["spec"].pop("ports")
    assert by_ref(obj)["Service/svc"]["spec"]["ports"] == []


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"replicas": 2, "volumes": {**NO_VOLUMES, "data": {}}}, "single-node (ReadWriteOnce)"),
        ({"volumes": NO_VOLUMES, "ports": None}, "no startup/liveness/readiness probe"),
        ({}, "the default volume sizes request 71Gi"),
        ({"volumes": {**NO_VOLUMES, "data": {}}, "rollingUpdate": {"maxSurge": 1}}, "Recreate"),
        (
            {
                "volumes": NO_VOLUMES,
                "autoscaling": {"maxReplicas": 3, "targetCPUUtilizationPercentage": 50},
            },
            "needs resources.requests.cpu",
        ),
        (
            {"workload": "StatefulSet", "volumes": NO_VOLUMES, "rollingUpdate": {"maxSurge": 1}},
            "a StatefulSet replaces its pods one at a time",
        ),
    ],
)
def test_each_risky_choice_is_warned(spec: dict[str, Any], expected: str) -> None:
    obj = service(**spec)
    obj["spec"] = {k: v for k, v in obj["spec"].items() if v is not None}
    assert any(expected in w for w in warnings_for(obj)), warnings_for(obj)


def test_per_replica_claims_are_not_warned_about() -> None:
    obj = service(workload="StatefulSet", replicas=3, volumes={**NO_VOLUMES, "data": {}})
    assert warnings_for(obj) == []


def test_a_quiet_spec_has_no_warnings() -> None:
    assert warnings_for(service(replicas=3, volumes=SHARED)) == []


FRONTEND = {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "frontend"}}}
INGRESS_NS = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress"}},
    "podSelector": {"matchLabels": {"app": "nginx"}},
}


def test_no_network_policy_unless_asked() -> None:
    assert "NetworkPolicy/svc" not in by_ref(service())


def test_network_policy_admits_only_the_named_sources_to_the_declared_ports() -> None:
    ports = [
        {"name": "http", "containerPort": 80},
        {"name": "dns", "containerPort": 53, "protocol": "UDP"},
    ]
    obj = service(ports=ports, networkPolicy={"allowFrom": [FRONTEND, INGRESS_NS]})
    policy = by_ref(obj)["NetworkPolicy/svc"]
    assert policy["apiVersion"] == "networking.k8s.io/v1"
    assert policy["spec"] == {
        "podSelector": {"matchLabels": SELECTOR},
        "policyTypes": ["Ingress"],
        "ingress": [
            {
                "from": [FRONTEND, INGRESS_NS],
                "ports": [{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}],
            }
        ],
    }


@pytest.mark.parametrize(
    "spec",
    [
        {"networkPolicy": {"allowFrom": []}},  # nobody named: an empty `from` would mean anyone
        {"networkPolicy": {"allowFrom": [FRONTEND]}, "ports": None},  # no port to open
    ],
)
def test_network_policy_without_sources_or_ports_denies_all_ingress(spec: dict[str, Any]) -> None:
    obj = service(**spec)
    obj["spec"] = {k: v for k, v in obj["spec"].items() if v is not None}
    assert by_ref(obj)["NetworkPolicy/svc"]["spec"]["ingress"] == []


def test_the_documented_network_policy_is_what_the_builders_make() -> None:
    import re
    from pathlib import Path

    import yaml

    doc = Path(__file__).resolve().parents[2] / "docs" / "hardenedservice.md"
    text = doc.read_text(encoding="utf-8")
    blocks = [
        d
        for block in re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)
        for d in yaml.safe_load_all(block)
        if isinstance(d, dict)
    ]
    [source] = [
        b
        for b in blocks
        if b.get("metadata", {}).get("name") == "netpol-doc" and b["kind"] == "HardenedService"
    ]
    [shown] = [b for b in blocks if b.get("kind") == "NetworkPolicy"]
    made = {f"{o['kind']}": o for o in build_objects(source)}["NetworkPolicy"]
    assert made["metadata"]["name"] == shown["metadata"]["name"]
    assert made["spec"] == shown["spec"]
