"""Builders for test manifests: one pod spec wrapped in every pod-bearing kind."""

from __future__ import annotations

import copy
from typing import Any

KINDS = (
    "Pod",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ReplicationController",
    "Job",
    "CronJob",
    "PodTemplate",
)

_API = {
    "Pod": "v1",
    "PodTemplate": "v1",
    "ReplicationController": "v1",
    "Job": "batch/v1",
    "CronJob": "batch/v1",
}


def wrap(kind: str, pod_spec: dict[str, Any], name: str = "demo") -> dict[str, Any]:
    """``pod_spec`` as the pod (template) of a ``kind`` object."""
    spec = copy.deepcopy(pod_spec)
    meta = {"name": name, "namespace": "apps"}
    template = {"metadata": {"labels": {"app": name}}, "spec": spec}
    obj: dict[str, Any] = {"apiVersion": _API.get(kind, "apps/v1"), "kind": kind, "metadata": meta}
    if kind == "Pod":
        obj["spec"] = spec
    elif kind == "PodTemplate":
        obj["template"] = template
    elif kind == "CronJob":
        obj["spec"] = {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template}}}
    else:
        obj["spec"] = {"template": template}
    return obj


def container(name: str = "app", **security: Any) -> dict[str, Any]:
    c: dict[str, Any] = {"name": name, "image": "registry.example/app:1"}
    if security:
        c["securityContext"] = security
    return c


COMPLIANT_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
}


def compliant_spec() -> dict[str, Any]:
    return {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container("app", **copy.deepcopy(COMPLIANT_CONTAINER))],
    }


# Pod specs that violate the nonroot profile, each in its own way (name -> spec).
def bad_specs() -> dict[str, dict[str, Any]]:
    ok = compliant_spec
    specs: dict[str, dict[str, Any]] = {}
    s = ok()
    s["securityContext"]["runAsUser"] = 0
    specs["pod-uid0"] = s
    s = ok()
    del s["securityContext"]["runAsNonRoot"]
    specs["no-runasnonroot"] = s
    s = ok()
    s["initContainers"] = [container("init", runAsUser=0, **copy.deepcopy(COMPLIANT_CONTAINER))]
    specs["init-root"] = s
    s = ok()
    s["containers"][0]["securityContext"]["runAsNonRoot"] = False
    specs["container-override"] = s
    s = ok()
    s["ephemeralContainers"] = [container("debugger")]
    specs["ephemeral-bare"] = s
    s = ok()
    s["containers"][0]["securityContext"]["privileged"] = True
    s["containers"][0]["securityContext"]["capabilities"]["add"] = ["SYS_ADMIN", "NET_BIND_SERVICE"]
    specs["privileged-caps"] = s
    s = ok()
    s["hostUsers"] = False
    s["securityContext"]["runAsUser"] = 0
    specs["hostusers-false-uid0"] = s
    specs["bare"] = {"containers": [container("app")]}
    s = ok()
    s["containers"].append(container("sidecar", allowPrivilegeEscalation=True))
    specs["sidecar-ape"] = s
    return specs
