"""What the operator owns and what it leaves alone, on a real API server: a user's claim or
Deployment of the same name is never adopted, two HardenedServices never fight over a debug
Deployment, unsafe fields someone else adds are removed, the longest name gets every object,
and an idle restart writes nothing anywhere (kopf's own writes included)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from hardened_operator.builders import build_objects
from tests.operator.operator_support import (
    conditions,
    create_hsvc,
    get_hsvc,
    hsvc,
    read,
    running_operator,
    wait_for,
)

pytestmark = pytest.mark.controlplane


def _degraded(api: Any, namespace: str, name: str) -> dict[str, Any] | None:
    cond = conditions(get_hsvc(api, namespace, name)).get("Degraded")
    return cond if cond and cond["status"] == "True" else None


def test_a_users_existing_claim_is_never_adopted_even_under_delete(
    control_plane: Any, k8s_api: Any, namespace: str, tmp_path: Path
) -> None:
    """A PVC the user made, named like one we would generate: taking it over (and owning it
    under Delete) would hand the user's data to the garbage collector."""
    core: Any = client.CoreV1Api(k8s_api)
    core.create_namespaced_persistent_volume_claim(
        namespace,
        {
            "metadata": {"name": "shop-data", "labels": {"team": "shop"}},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
    )
    before = read(k8s_api, "PersistentVolumeClaim", namespace, "shop-data")
    assert before is not None
    with running_operator(control_plane.env(), namespace, tmp_path):
        create_hsvc(k8s_api, hsvc("shop", namespace, volumeReclaimPolicy="Delete"))
        cond = wait_for("Degraded naming the claim", lambda: _degraded(k8s_api, namespace, "shop"))
        assert "PersistentVolumeClaim/shop-data" in cond["message"], cond
        time.sleep(2)
        after = read(k8s_api, "PersistentVolumeClaim", namespace, "shop-data")
        assert after is not None
        assert not after["metadata"].get("ownerReferences"), after["metadata"]
        assert after["metadata"]["labels"] == {"team": "shop"}
        assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
        # The claims that are free are still created (owned, as Delete asks).
        logs = read(k8s_api, "PersistentVolumeClaim", namespace, "shop-logs")
        assert logs is not None and logs["metadata"]["ownerReferences"]


def test_a_users_deployment_of_the_same_name_is_left_alone(
    control_plane: Any, k8s_api: Any, namespace: str, tmp_path: Path
) -> None:
    apps: Any = client.AppsV1Api(k8s_api)
    labels = {"app": "legacy"}
    apps.create_namespaced_deployment(
        namespace,
        {
            "metadata": {"name": "legacy", "labels": labels},
            "spec": {
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "c", "image": "legacy:1"}]},
                },
            },
        },
    )
    with running_operator(control_plane.env(), namespace, tmp_path):
        create_hsvc(k8s_api, hsvc("legacy", namespace))
        cond = wait_for("Degraded", lambda: _degraded(k8s_api, namespace, "legacy"))
        assert "Deployment/legacy" in cond["message"], cond
        dep = read(k8s_api, "Deployment", namespace, "legacy")
        assert dep is not None and not dep["metadata"].get("ownerReferences")
        assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "legacy:1"


def test_two_hardened_services_never_fight_over_a_debug_deployment(
    control_plane: Any, k8s_api: Any, namespace: str, tmp_path: Path
) -> None:
    """``x`` with debug makes Deployment ``x-debug``; a HardenedService named ``x-debug`` wants
    the same name. Before: each took it from the other forever (a write loop)."""
    with running_operator(control_plane.env(), namespace, tmp_path) as op:
        x = create_hsvc(k8s_api, hsvc("x", namespace, debug=True))
        wait_for("x-debug", lambda: read(k8s_api, "Deployment", namespace, "x-debug"))
        create_hsvc(k8s_api, hsvc("x-debug", namespace))
        cond = wait_for("x-debug Degraded", lambda: _degraded(k8s_api, namespace, "x-debug"))
        assert "Deployment/x-debug" in cond["message"], cond
        time.sleep(3)
        writes = op.writes()
        time.sleep(5)
        assert op.writes() == writes  # no ping-pong
        dep = read(k8s_api, "Deployment", namespace, "x-debug")
        assert dep is not None
        assert [r["uid"] for r in dep["metadata"]["ownerReferences"]] == [x["metadata"]["uid"]]


def test_an_idle_restart_changes_no_object_at_all(
    control_plane: Any, k8s_api: Any, namespace: str, tmp_path: Path
) -> None:
    """Our write counter cannot see kopf's own writes (finalizers, annotations, events):
    compare every object's resourceVersion across a restart instead."""
    spec = {"ports": [{"containerPort": 8080}], "debug": True, "volumeReclaimPolicy": "Delete"}
    with running_operator(control_plane.env(), namespace, tmp_path):
        create_hsvc(k8s_api, hsvc("idle", namespace, **spec))

        def converged() -> dict[str, Any] | None:
            obj = get_hsvc(k8s_api, namespace, "idle")
            if (obj.get("status") or {}).get("observedGeneration") != 1:
                return None
            wants = build_objects(obj)
            got = [read(k8s_api, o["kind"], namespace, o["metadata"]["name"]) for o in wants]
            return obj if all(got) else None

        obj = wait_for("convergence", converged)
        time.sleep(2)

    def versions() -> dict[str, str]:
        obj = get_hsvc(k8s_api, namespace, "idle")
        out = {"HardenedService/idle": obj["metadata"]["resourceVersion"]}
        for want in build_objects(obj):
            live = read(k8s_api, want["kind"], namespace, want["metadata"]["name"])
            assert live is not None
            out[f"{want['kind']}/{want['metadata']['name']}"] = live["metadata"]["resourceVersion"]
        return out

    events: Any = client.CoreV1Api(k8s_api)
    before, n_events = versions(), len(events.list_namespaced_event(namespace).items)
    assert len(before) == 8  # hsvc, 2 Deployments, Service, 4 claims
    with running_operator(control_plane.env(), namespace, tmp_path) as op:
        wait_for(
            "the restart compared it",
            lambda: (
                op.metrics().get('hardened_operator_reconciles_total{result="unchanged"}', 0) >= 1
            ),
        )
        time.sleep(3)
        assert op.writes() == 0
    assert versions() == before
    assert len(events.list_namespaced_event(namespace).items) == n_events
    assert obj["metadata"].get("finalizers") is None


@pytest.mark.parametrize(
    ("tamper", "gone"),
    [
        (
            [{"op": "add", "path": "/spec/template/spec/containers/-",
              "value": {"name": "sidecar", "image": "busybox:1",
                        "securityContext": {"runAsUser": 0}}}],
            lambda pod: [c["name"] for c in pod["containers"]] == ["app"],
        ),
        (
            [{"op": "add", "path": "/spec/template/spec/hostPID", "value": True}],
            lambda pod: not pod.get("hostPID"),
        ),
        (
            [{"op": "add",
              "path": "/spec/template/spec/containers/0/securityContext/capabilities/add",
              "value": ["SYS_ADMIN"]}],
            lambda pod: not pod["containers"][0]["securityContext"]["capabilities"].get("add"),
        ),
    ],
    ids=["root-sidecar", "hostPID", "capabilities-add"],
)  # fmt: skip
def test_unsafe_fields_added_by_someone_else_are_removed(
    control_plane: Any, k8s_api: Any, namespace: str, tmp_path: Path, tamper: Any, gone: Any
) -> None:
    """Server-side apply leaves fields of other managers alone, so drift on our own fields
    never saw these; without a webhook (or in an exempt namespace) they made the 'hardened'
    Deployment run a root container."""
    with running_operator(control_plane.env(), namespace, tmp_path):
        create_hsvc(k8s_api, hsvc("fields", namespace))
        wait_for("the Deployment", lambda: read(k8s_api, "Deployment", namespace, "fields"))
        time.sleep(1)
        apps: Any = client.AppsV1Api(k8s_api)
        tampered = k8s_api.sanitize_for_serialization(
            apps.patch_namespaced_deployment("fields", namespace, tamper)
        )
        assert not gone(tampered["spec"]["template"]["spec"])  # accepted: no webhook here

        def pod() -> Any:
            dep = read(k8s_api, "Deployment", namespace, "fields")
            assert dep is not None
            return dep["spec"]["template"]["spec"]

        wait_for("the unsafe fields removed", lambda: gone(pod()), timeout=15)
        core: Any = client.CoreV1Api(k8s_api)
        wait_for(
            "a DriftCorrected event",
            lambda: [
                e for e in core.list_namespaced_event(namespace).items
                if e.reason == "DriftCorrected" and "unsafe" in e.message
            ],
        )  # fmt: skip


def test_the_longest_name_gets_every_object_including_long_derived_names(
    control_plane: Any, k8s_api: Any, namespace: str, tmp_path: Path
) -> None:
    """63 characters (the model's limit): ``<name>-debug`` (69) and ``<name>-models`` (70)
    exceed a label's 63 but are valid Deployment/PVC names; nothing may degrade."""
    name = "m" * 63
    spec = {"ports": [{"containerPort": 8080}], "debug": True}
    with running_operator(control_plane.env(), namespace, tmp_path):
        create_hsvc(k8s_api, hsvc(name, namespace, **spec))

        def done() -> dict[str, Any] | None:
            obj = get_hsvc(k8s_api, namespace, name)
            if (obj.get("status") or {}).get("observedGeneration") != 1:
                return None
            return obj

        obj = wait_for("status", done)
        assert conditions(obj)["Degraded"]["status"] == "False", conditions(obj)
        for want in build_objects(obj):
            assert read(k8s_api, want["kind"], namespace, want["metadata"]["name"]), want["kind"]
        assert read(k8s_api, "Deployment", namespace, f"{name}-debug") is not None
        assert read(k8s_api, "PersistentVolumeClaim", namespace, f"{name}-models") is not None
