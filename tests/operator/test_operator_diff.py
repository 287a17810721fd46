"""Desired vs live: only the fields we manage, with the API server's defaults ignored."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from hardened_operator.k8s.diff import drift

DESIRED: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {
        "name": "web",
        "namespace": "ns",
        "labels": {"app.kubernetes.io/name": "web"},
        "ownerReferences": [{"kind": "HardenedService", "name": "web", "uid": "u1"}],
    },
    "spec": {
        "replicas": 1,
        "template": {
            "spec": {
                "hostNetwork": False,
                "securityContext": {"runAsUser": 1000, "runAsNonRoot": True},
                "containers": [
                    {
                        "name": "app",
                        "command": ["python", "app.py"],
                        "ports": [{"containerPort": 8080, "name": "http"}],
                        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                        "resources": {"limits": {"memory": "1024Mi", "cpu": "0.5"}},
                        "securityContext": {"capabilities": {"drop": ["ALL"]}},
                    }
                ],
                "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}],
            }
        },
    },
}


def live_copy() -> dict[str, Any]:
    """What the API server returns: our fields plus defaults, status and others' fields."""
    live = copy.deepcopy(DESIRED)
    live["metadata"].update(resourceVersion="7", uid="d1", generation=1)
    live["metadata"]["annotations"] = {"deployment.kubernetes.io/revision": "1"}
    live["status"] = {"replicas": 0}
    pod = live["spec"]["template"]["spec"]
    del pod["hostNetwork"]  # zero values are omitted by the server
    pod["restartPolicy"] = "Always"
    container = pod["containers"][0]
    container["ports"][0]["protocol"] = "TCP"
    container["terminationMessagePath"] = "/dev/termination-log"
    container["env"].reverse()
    container["resources"]["limits"] = {"memory": "1Gi", "cpu": "500m"}
    return live


def test_defaults_and_foreign_fields_are_not_drift() -> None:
    assert drift(DESIRED, live_copy()) == []


def test_missing_object_is_drift() -> None:
    assert drift(DESIRED, None) == ["<missing>"]


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (
            lambda o: o["spec"]["template"]["spec"]["securityContext"].update(runAsUser=0),
            "spec.template.spec.securityContext.runAsUser",
        ),
        (lambda o: o["spec"].update(replicas=3), "spec.replicas"),
        (
            lambda o: o["spec"]["template"]["spec"]["containers"][0]["securityContext"][
                "capabilities"
            ].update(drop=["ALL", "NET_RAW"]),
            "spec.template.spec.containers[app].securityContext.capabilities.drop",
        ),
        (
            lambda o: o["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"].update(
                memory="2Gi"
            ),
            "spec.template.spec.containers[app].resources.limits.memory",
        ),
        (
            lambda o: o["spec"]["template"]["spec"].update(tolerations=[]),
            "spec.template.spec.tolerations",
        ),
        (
            lambda o: o["spec"]["template"]["spec"]["containers"][0]["env"].pop(),
            "spec.template.spec.containers[app].env[A]",
        ),
        (lambda o: o["metadata"]["labels"].clear(), "metadata.labels.app.kubernetes.io/name"),
        (lambda o: o["metadata"].pop("ownerReferences"), "metadata.ownerReferences"),
    ],
)
def test_changes_to_managed_fields_are_drift(mutate: Any, path: str) -> None:
    live = live_copy()
    mutate(live)
    assert drift(DESIRED, live) == [path]


def test_our_owner_reference_removed_from_desired_is_drift() -> None:
    desired = copy.deepcopy(DESIRED)
    del desired["metadata"]["ownerReferences"]  # e.g. a PVC switched to Retain
    assert drift(desired, live_copy()) == ["metadata.ownerReferences"]


def test_other_owners_are_ignored() -> None:
    live = live_copy()
    live["metadata"]["ownerReferences"].append({"kind": "Other", "name": "x", "uid": "u9"})
    assert drift(DESIRED, live) == []
