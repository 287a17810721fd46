"""The operator against the real control plane: objects, status, drift, ownership, restart.

Each test starts ``hardened run --namespace <its namespace>`` as a subprocess (kopf never runs
inside the test process) with the plane's KUBECONFIG. There is no kubelet and no
controller-manager: Deployments never get ready replicas by themselves (so Ready False /
Progressing True is the honest state), and nothing garbage-collects -- ownership is checked
through ownerReferences, not deletion.
"""

from __future__ import annotations

import functools
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
    patch_hsvc,
    plain,
    read,
    running_operator,
    stop,
    wait_for,
)
from tests.support.kube import name_of

pytestmark = pytest.mark.controlplane

VOLUMES = ("logs", "data", "models", "cache")


def owned_objects(api: Any, namespace: str, name: str) -> dict[str, dict[str, Any] | None]:
    objs = {f"Deployment/{name}": read(api, "Deployment", namespace, name),
            f"Service/{name}": read(api, "Service", namespace, name)}  # fmt: skip
    for volume in VOLUMES:
        claim = f"{name}-{volume}"
        objs[f"PersistentVolumeClaim/{claim}"] = read(
            api, "PersistentVolumeClaim", namespace, claim
        )
    return objs


def converged(api: Any, namespace: str, name: str) -> dict[str, Any] | None:
    """The HardenedService once every object it should own exists and its status is current."""
    obj = get_hsvc(api, namespace, name)
    status = obj.get("status") or {}
    if status.get("observedGeneration") != obj["metadata"]["generation"]:
        return None
    for want in build_objects(obj):
        if read(api, want["kind"], namespace, want["metadata"]["name"]) is None:
            return None
    return obj


def events(api: Any, namespace: str, reason: str) -> list[Any]:
    items = client.CoreV1Api(api).list_namespaced_event(namespace).items
    return [e for e in items if e.reason == reason]


def test_hardened_service_becomes_hardened_objects_with_honest_status(
    control_plane: Any, k8s_api: Any, namespace: str, tmp_path: Path
) -> None:
    with running_operator(control_plane.env(), namespace, tmp_path):
        created = create_hsvc(
            k8s_api, hsvc("web", namespace, ports=[{"name": "http", "containerPort": 8080}])
        )
        obj = wait_for("convergence", lambda: converged(k8s_api, namespace, "web"))
        uid = created["metadata"]["uid"]

        objs = owned_objects(k8s_api, namespace, "web")
        dep = objs["Deployment/web"]
        assert dep is not None
        pod = dep["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]) == (
            1000,
            1000,
        )
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        assert pod["automountServiceAccountToken"] is False
        container = pod["containers"][0]
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert {"/tmp", *(f"/app/{v}" for v in VOLUMES)} <= mounts
        svc = objs["Service/web"]
        assert svc is not None and svc["spec"]["ports"][0]["port"] == 8080

        # Deployment and Service are owned (controller) by the HardenedService; PVCs are not
        # under the default Retain policy.
        for ref in ("Deployment/web", "Service/web"):
            owners = objs[ref]["metadata"]["ownerReferences"]  # type: ignore[index]
            assert [(o["kind"], o["uid"], o["controller"]) for o in owners] == [
                ("HardenedService", uid, True)
            ]
        for volume in VOLUMES:
            pvc = objs[f"PersistentVolumeClaim/web-{volume}"]
            assert pvc is not None and not pvc["metadata"].get("ownerReferences")
            assert pvc["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "hardened-operator"

        # No kubelet, no controller-manager: not ready, still progressing, not degraded.
        c = conditions(obj)
        assert (c["Ready"]["status"], c["Progressing"]["status"], c["Degraded"]["status"]) == (
            "False",
            "True",
            "False",
        )
        assert all(x["observedGeneration"] == obj["metadata"]["generation"] for x in c.values())
        assert {v["name"]: v["phase"] for v in obj["status"]["volumes"]} == dict.fromkeys(
            VOLUMES, "Pending"
        )
        assert "0/1 replicas ready" in obj["status"]["message"]

        # Play the Deployment controller: report one ready replica. Ready must flip (and
        # only the flipped conditions get a new lastTransitionTime).
        time.sleep(1.1)  # timestamps have second resolution
        generation = dep["metadata"]["generation"]
        client.AppsV1Api(k8s_api).patch_namespaced_deployment_status(
            "web",
            namespace,
            {
                "status": {
                    "observedGeneration": generation,
                    "replicas": 1,
                    "readyReplicas": 1,
                    "updatedReplicas": 1,
                    "availableReplicas": 1,
                }
            },
        )
        ready = wait_for(
            "Ready=True",
            lambda: (
                (o := get_hsvc(k8s_api, namespace, "web"))
                and conditions(o)["Ready"]["status"] == "True"
                and o
            ),
        )
        c2 = conditions(ready)
        assert c2["Ready"]["reason"] == "ReplicasReady"
        assert c2["Progressing"]["status"] == "False"
        assert c2["Ready"]["lastTransitionTime"] != c["Ready"]["lastTransitionTime"]
        assert c2["Degraded"]["lastTransitionTime"] == c["Degraded"]["lastTransitionTime"]
        assert (ready["status"]["replicas"], ready["status"]["readyReplicas"]) == (1, 1)


def test_spec_change_propagates_and_is_not_called_drift(
    control_plane: Any, k8s_api: Any, namespace: str, tmp_path: Path
) -> None:
    with running_operator(control_plane.env(), namespace, tmp_path):
        create_hsvc(k8s_api, hsvc("api", namespace))
        wait_for("convergence", lambda: converged(k8s_api, namespace, "api"))
        patch_hsvc(
            k8s_api,
            namespace,
            "api",
            {"spec": {"image": "ghcr.io/ai-system/api:2.0", "replicas": 3}},
        )

        def updated() -> bool:
            dep = read(k8s_api, "Deployment", namespace, "api")
            obj = get_hsvc(k8s_api, namespace, "api")
            return bool(
                dep
                and dep["spec"]["replicas"] == 3
                and dep["spec"]["template"]["spec"]["containers"][0]["image"]
                == "ghcr.io/ai-system/api:2.0"
                and obj["status"]["observedGeneration"] == 2
            )

        wait_for("the new spec on the Deployment and observedGeneration 2", updated)
        assert "3 replicas ready" in get_hsvc(k8s_api, namespace, "api")["status"]["message"]
        assert events(k8s_api, namespace, "DriftCorrected") == []


def test_drift_on_the_deployment_is_put_back_with_an_event(
    control_plane: Any, k8s_api: Any, namespace: str, tmp_path: Path
) -> None:
    # No webhook here, so the API server accepts the tampering and the operator must undo it
    # (with the webhook, the same edit is refused at admission: see test_operator_admission).
    with running_operator(control_plane.env(), namespace, tmp_path) as op:
        create_hsvc(k8s_api, hsvc("db", namespace))
        wait_for("convergence", lambda: converged(k8s_api, namespace, "db"))
        apps = client.AppsV1Api(k8s_api)
        apps.patch_namespaced_deployment(
            "db",
            namespace,
            [
                {
                    "op": "replace",
                    "path": "/spec/template/spec/securityContext/runAsUser",
                    "value": 0,
                },
                {"op": "replace", "path": "/spec/replicas", "value": 5},
            ],
        )
        started = time.monotonic()

        def restored() -> bool:
            dep = read(k8s_api, "Deployment", namespace, "db")
            return bool(
                dep
                and dep["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == 1000
                and dep["spec"]["replicas"] == 1
            )

        wait_for("runAsUser and replicas put back", restored, timeout=10)
        assert time.monotonic() - started < 10
        drift_events = wait_for(
            "a DriftCorrected event", lambda: events(k8s_api, namespace, "DriftCorrected")
        )
        event = drift_events[0]
        assert event.type == "Warning"
        assert event.involved_object.kind == "HardenedService"
        assert event.involved_object.name == "db"
        assert "spec.template.spec.securityContext.runAsUser" in event.message
        metrics = op.metrics()
        assert metrics['hardened_operator_drift_corrections_total{kind="Deployment"}'] >= 1

        # Deleting an owned object is drift too: it comes back. (Not shown with a PVC: its
        # pvc-protection finalizer is removed by the controller-manager, absent here.)
        old_uid = read(k8s_api, "Deployment", namespace, "db")["metadata"]["uid"]  # type: ignore[index]
        apps.delete_namespaced_deployment("db", namespace)
        wait_for(
            "the deleted Deployment re-created",
            lambda: (
                (d := read(k8s_api, "Deployment", namespace, "db"))
                and d["metadata"]["uid"] != old_uid
            ),
        )


def _pvc_owners(api: Any, namespace: str, name: str) -> list[set[str]]:
    out = []
    for volume in VOLUMES:
        pvc = read(api, "PersistentVolumeClaim", namespace, f"{name}-{volume}")
        assert pvc is not None
        out.append({ref["uid"] for ref in pvc["metadata"].get("ownerReferences") or []})
    return out


def test_pvc_owner_references_follow_the_reclaim_policy(
    control_plane: Any, k8s_api: Any, namespace: str, tmp_path: Path
) -> None:
    with running_operator(control_plane.env(), namespace, tmp_path):
        uid = create_hsvc(k8s_api, hsvc("ml", namespace, volumeReclaimPolicy="Delete"))["metadata"][
            "uid"
        ]
        wait_for("convergence", lambda: converged(k8s_api, namespace, "ml"))
        assert _pvc_owners(k8s_api, namespace, "ml") == [{uid}] * 4

        patch_hsvc(k8s_api, namespace, "ml", {"spec": {"volumeReclaimPolicy": "Retain"}})
        wait_for(
            "ownerReferences removed under Retain",
            lambda: _pvc_owners(k8s_api, namespace, "ml") == [set()] * 4,
        )
        patch_hsvc(k8s_api, namespace, "ml", {"spec": {"volumeReclaimPolicy": "Delete"}})
        wait_for(
            "ownerReferences back under Delete",
            lambda: _pvc_owners(k8s_api, namespace, "ml") == [{uid}] * 4,
        )
        # The Deployment stays owned whatever the policy.
        dep = read(k8s_api, "Deployment", namespace, "ml")
        assert dep is not None
        assert [r["uid"] for r in dep["metadata"]["ownerReferences"]] == [uid]


def test_restart_mid_reconcile_converges_without_duplicates_and_idle_restart_writes_nothing(
    control_plane: Any, k8s_api: Any, namespace: str, tmp_path: Path
) -> None:
    names = [f"svc{i}" for i in range(20)]
    with running_operator(control_plane.env(), namespace, tmp_path) as first:
        for name in names:
            create_hsvc(k8s_api, hsvc(name, namespace))
        # Kill it hard while it is still working through them.
        wait_for("some progress", lambda: first.writes() > 0, interval=0.05)
        stop(first, __import__("signal").SIGKILL)

    with running_operator(control_plane.env(), namespace, tmp_path):
        for name in names:
            wait_for(f"{name} converged", functools.partial(converged, k8s_api, namespace, name))

    apps, core = client.AppsV1Api(k8s_api), client.CoreV1Api(k8s_api)
    deployments = apps.list_namespaced_deployment(namespace).items
    assert sorted(name_of(d) for d in deployments) == sorted(names)
    assert len(core.list_namespaced_service(namespace).items) == 0  # no ports, no Service
    claims = [name_of(p) for p in core.list_namespaced_persistent_volume_claim(namespace).items]
    assert sorted(claims) == sorted(f"{n}-{v}" for n in names for v in VOLUMES)

    # A restart with nothing changed: everything is compared, nothing is written.
    with running_operator(control_plane.env(), namespace, tmp_path) as third:
        wait_for(
            "every HardenedService compared",
            lambda: (
                third.metrics().get('hardened_operator_reconciles_total{result="unchanged"}', 0)
                >= len(names)
            ),
        )
        time.sleep(2)  # let late watch events through, too
        assert third.writes() == 0
        for dep in deployments:
            now = read(k8s_api, "Deployment", namespace, name_of(dep))
            assert now is not None and dep.metadata is not None
            assert now["metadata"]["resourceVersion"] == dep.metadata.resource_version


def test_periodic_resync_compares_everything_and_writes_nothing(
    control_plane: Any, k8s_api: Any, namespace: str, tmp_path: Path
) -> None:
    with running_operator(control_plane.env(), namespace, tmp_path, "--resync-seconds", "1") as op:
        for name in ("a", "b", "c"):
            create_hsvc(k8s_api, hsvc(name, namespace, ports=[{"containerPort": 80}]))
        for name in ("a", "b", "c"):
            wait_for("convergence", functools.partial(converged, k8s_api, namespace, name))
        time.sleep(2)
        before = op.writes()
        resyncs = op.metrics().get("hardened_operator_resyncs_total", 0)
        wait_for(
            "two more resyncs",
            lambda: op.metrics().get("hardened_operator_resyncs_total", 0) >= resyncs + 2,
        )
        assert op.writes() == before


def test_apply_failure_is_degraded_with_the_reason_and_recovers(
    control_plane: Any, k8s_api: Any, namespace: str, tmp_path: Path
) -> None:
    core = client.CoreV1Api(k8s_api)
    hard = {"persistentvolumeclaims": "0"}
    quota = {"metadata": {"name": "no-claims"}, "spec": {"hard": hard}}
    # The client validates a plain dict into the model; its annotation names only the model.
    core.create_namespaced_resource_quota(namespace, quota)  # type: ignore[arg-type]
    # No controller-manager computes quota usage: do its job so admission judges "exceeded".
    core.patch_namespaced_resource_quota_status(
        "no-claims",
        namespace,
        {
            "status": {
                "hard": {"persistentvolumeclaims": "0"},
                "used": {"persistentvolumeclaims": "0"},
            }
        },
    )
    with running_operator(control_plane.env(), namespace, tmp_path):
        create_hsvc(k8s_api, hsvc("q", namespace))

        def degraded() -> dict[str, Any] | None:
            c = conditions(get_hsvc(k8s_api, namespace, "q"))
            return c if c.get("Degraded", {}).get("status") == "True" else None

        c = wait_for("Degraded=True", degraded)
        assert c["Degraded"]["reason"] == "QuotaExceeded", c["Degraded"]
        assert "PersistentVolumeClaim/q-" in c["Degraded"]["message"]
        assert c["Ready"]["status"] == "False"
        warning = wait_for(
            "a QuotaExceeded event", lambda: events(k8s_api, namespace, "QuotaExceeded")
        )
        assert warning[0].type == "Warning"
        # The Deployment did not need the quota: it was still applied.
        assert read(k8s_api, "Deployment", namespace, "q") is not None

        core.delete_namespaced_resource_quota("no-claims", namespace)
        wait_for(
            "recovery after the quota is gone (retried with backoff)",
            lambda: conditions(get_hsvc(k8s_api, namespace, "q"))["Degraded"]["status"] == "False",
            timeout=60,
        )
        assert read(k8s_api, "PersistentVolumeClaim", namespace, "q-data") is not None


def test_health_metrics_and_json_logs(
    control_plane: Any, k8s_api: Any, namespace: str, tmp_path: Path
) -> None:
    import json

    with running_operator(control_plane.env(), namespace, tmp_path, "--log-format", "json") as op:
        create_hsvc(k8s_api, hsvc("h", namespace))
        wait_for("convergence", lambda: converged(k8s_api, namespace, "h"))
        assert op.get("/healthz") == (200, "ok\n")
        assert op.get("/readyz")[0] == 200
        metrics = op.metrics()
        assert (
            metrics['hardened_operator_api_writes_total{resource="deployments",verb="APPLY"}'] == 1
        )
        assert metrics["process_resident_memory_bytes"] > 0
        lines = [line for line in op.logs().splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines if line.startswith("{")]
    assert parsed and len(parsed) == len(lines), lines[:5]
    assert any("reconciled" in p["message"] for p in parsed)
    assert plain(k8s_api, None) is None  # sanity of the helper on absent objects
