"""The HardenedService's conditions follow what its pods say, on the real API server.

The test plane has no controller-manager, scheduler or kubelet, so the test plays them: it
reports the Deployment's rollout as its controller would, creates a Pod the way the
ReplicaSet would (the pod template's labels and spec) and PATCHes the Pod's status
subresource with the shapes the scheduler and the kubelet write. First without periodic
resyncs (the pod's watch events alone drive the status), then a restart with resyncs: nothing
written, no Event recorded twice. The operator runs as
``hardened run`` (a subprocess), sees the pod through its label-filtered watch, and reports.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from hardened_operator.dev import assets
from tests.operator.operator_support import (
    conditions,
    create_hsvc,
    get_hsvc,
    hsvc,
    read,
    running_operator,
    wait_for,
)
from tests.support.walkthrough import require_kubectl_assets

pytestmark = pytest.mark.controlplane


def _pod_from_template(deployment: dict[str, Any], name: str) -> dict[str, Any]:
    template = deployment["spec"]["template"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "labels": {**template["metadata"]["labels"], "pod-template-hash": "6d9f7c8b5"},
        },
        "spec": template["spec"],
    }


def _container_status(container: str, waiting: dict[str, str]) -> dict[str, Any]:
    return {
        "name": container,
        "image": "ghcr.io/ai-system/web:1.0",
        "imageID": "",
        "ready": False,
        "started": False,
        "restartCount": 0,
        "state": {"waiting": waiting},
    }


UNSCHEDULABLE = {
    "phase": "Pending",
    "conditions": [
        {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": "0/1 nodes are available: 1 Insufficient nvidia.com/gpu. preemption: "
            "0/1 nodes are available: 1 No preemption victims found for incoming pod.",
            "lastTransitionTime": "2026-12-06T04:00:00Z",
        }
    ],
}
PULL_FAILED = (
    'failed to pull and unpack image "ghcr.io/ai-system/web:1.0": failed to resolve reference '
    '"ghcr.io/ai-system/web:1.0": ghcr.io/ai-system/web:1.0: not found'
)


def _pulling(container: str, reason: str) -> dict[str, Any]:
    message = PULL_FAILED if reason == "ErrImagePull" else 'Back-off pulling image "x"'
    return {
        "phase": "Pending",
        "conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-12-06T04:01:00Z"}
        ],
        "containerStatuses": [_container_status(container, {"reason": reason, "message": message})],
    }


def _events(core: Any, namespace: str, name: str) -> list[tuple[str, str]]:
    found = core.list_namespaced_event(namespace, field_selector=f"involvedObject.name={name}")
    return [(e.reason, e.type) for e in found.items if e.involved_object.kind == "HardenedService"]


def test_conditions_follow_the_pods_with_one_event_per_reason(
    control_plane: Any, k8s_api: Any, namespace: str, tmp_path: Path
) -> None:
    kubectl = _kubectl()
    core: Any = client.CoreV1Api(k8s_api)  # dict bodies, as kubectl would send
    # No periodic resync here: the pod's events alone must drive the status.
    with running_operator(control_plane.env(), namespace, tmp_path):
        create_hsvc(k8s_api, hsvc("gpu", namespace, gpu={"count": 1}))
        deployment = wait_for(
            "the Deployment", lambda: read(k8s_api, "Deployment", namespace, "gpu")
        )
        container = deployment["spec"]["template"]["spec"]["containers"][0]["name"]
        # Play the Deployment controller too: it observed the spec, its one pod is not ready.
        client.AppsV1Api(k8s_api).patch_namespaced_deployment_status(
            "gpu",
            namespace,
            {
                "status": {
                    "observedGeneration": deployment["metadata"]["generation"],
                    "replicas": 1,
                    "updatedReplicas": 1,
                    "unavailableReplicas": 1,
                }
            },
        )
        wait_for(
            "WaitingForReplicas (no pods yet)",
            lambda: (
                conditions(get_hsvc(k8s_api, namespace, "gpu")).get("Ready", {}).get("reason")
                == "WaitingForReplicas"
            ),
        )
        pod = "gpu-6d9f7c8b5-x2x7q"
        core.create_namespaced_pod(namespace, _pod_from_template(deployment, pod))

        def ready_reason(reason: str) -> Any:
            c = conditions(get_hsvc(k8s_api, namespace, "gpu"))
            return c if c.get("Ready", {}).get("reason") == reason else None

        # The scheduler finds no node with a GPU: Ready False and Degraded, in its words.
        core.patch_namespaced_pod_status(pod, namespace, {"status": UNSCHEDULABLE})
        c = wait_for("Ready=False Unschedulable", lambda: ready_reason("Unschedulable"))
        assert c["Ready"]["status"] == "False"
        assert (c["Degraded"]["status"], c["Degraded"]["reason"]) == ("True", "Unschedulable")
        assert "1 Insufficient nvidia.com/gpu" in c["Ready"]["message"]
        assert wait_for(
            "the Unschedulable Event",
            lambda: ("Unschedulable", "Warning") in _events(core, namespace, "gpu"),
        )

        # Scheduled; the first pull fails: not ready, still progressing, not Degraded yet.
        core.patch_namespaced_pod_status(
            pod, namespace, {"status": _pulling(container, "ErrImagePull")}
        )
        c = wait_for("Ready=False ErrImagePull", lambda: ready_reason("ErrImagePull"))
        assert (c["Degraded"]["status"], c["Progressing"]["status"]) == ("False", "True")
        assert f'container "{container}" of pod {pod}' in c["Ready"]["message"]
        assert "not found" in c["Ready"]["message"]

        # The retry failed too: the kubelet backs off. Degraded.
        core.patch_namespaced_pod_status(
            pod, namespace, {"status": _pulling(container, "ImagePullBackOff")}
        )
        c = wait_for("Ready=False ImagePullBackOff", lambda: ready_reason("ImagePullBackOff"))
        assert (c["Degraded"]["status"], c["Degraded"]["reason"]) == ("True", "ImagePullBackOff")
        degraded_since = c["Degraded"]["lastTransitionTime"]

        # The kubelet's next retry says ErrImagePull again: same reason, Degraded kept.
        core.patch_namespaced_pod_status(
            pod, namespace, {"status": _pulling(container, "ErrImagePull")}
        )

        def retried() -> Any:
            c = ready_reason("ImagePullBackOff")
            return c if c and "not found" in c["Ready"]["message"] else None

        c = wait_for("the ErrImagePull message under the ImagePullBackOff reason", retried)
        assert (c["Degraded"]["status"], c["Degraded"]["lastTransitionTime"]) == (
            "True",
            degraded_since,
        )
        reasons = [r for r, _ in _events(core, namespace, "gpu")]
        assert sorted(r for r in reasons if r in ("ErrImagePull", "ImagePullBackOff")) == [
            "ErrImagePull",
            "ImagePullBackOff",
        ]

        # What a user sees without -o wide.
        out = subprocess.run(
            [str(kubectl), "get", "hsvc", "gpu", "-n", namespace],
            env=control_plane.env(),
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
        header, row = out.splitlines()
        assert header.split() == [
            "NAME", "IMAGE", "DESIRED", "READY-REPLICAS", "GPU", "READY", "REASON", "AGE"
        ]  # fmt: skip
        values = dict(zip(header.split(), row.split(), strict=False))
        assert (values["READY"], values["REASON"]) == ("False", "ImagePullBackOff"), out
        print(out)
        events = _events(core, namespace, "gpu")

    # A restart with periodic resyncs, the pod still failing: the kubelet's in-between
    # ErrImagePull is still reported as ImagePullBackOff, so nothing is written and no
    # Event is recorded again.
    with running_operator(control_plane.env(), namespace, tmp_path, "--resync-seconds", "1") as op:
        wait_for(
            "two resyncs",
            lambda: op.metrics().get("hardened_operator_resyncs_total", 0) >= 2,
        )
        assert op.writes() == 0
        assert sorted(_events(core, namespace, "gpu")) == sorted(events)
        assert ready_reason("ImagePullBackOff")

        # The pod goes (the image was pushed; the ReplicaSet's next pod is still creating).
        core.delete_namespaced_pod(pod, namespace, grace_period_seconds=0)
        c = wait_for("back to WaitingForReplicas", lambda: ready_reason("WaitingForReplicas"))
        assert (c["Degraded"]["status"], c["Degraded"]["reason"]) == ("False", "AsExpected")


def _kubectl() -> Path:
    """kubectl from the control plane's assets (skipped without, failed in CI)."""
    require_kubectl_assets()
    kubectl = assets.require_assets().kubectl
    assert kubectl is not None
    return kubectl
