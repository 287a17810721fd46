"""Builders for test manifests: one pod spec wrapped in every pod-bearing kind, as files
hold them or as the API server accepts them, and a cluster's owner chains.

Pure (no API, no pytest): ``bench/bench_audit_cluster.py`` builds its objects with them too.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from hardened_operator.builders.objects import build_objects

_MINIMAL_SERVICE = (
    Path(__file__).resolve().parents[2] / "docs" / "examples" / "hardenedservice" / "minimal.yaml"
)

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


def valid_object(kind: str, spec: dict[str, Any], name: str, namespace: str) -> dict[str, Any]:
    """``spec`` as a ``kind`` object the API server accepts (selectors, restart policies)."""
    obj = wrap(kind, spec, name)
    obj["metadata"]["namespace"] = namespace
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"):
        obj["spec"]["selector"] = {"matchLabels": {"app": name}}
    if kind == "ReplicationController":
        obj["spec"]["selector"] = {"app": name}
    if kind == "Job":
        obj["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    if kind == "CronJob":
        obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    return obj


def hardened_service(name: str, namespace: str) -> dict[str, Any]:
    """The documented minimal HardenedService (docs/examples/hardenedservice/minimal.yaml)."""
    service: dict[str, Any] = yaml.safe_load(_MINIMAL_SERVICE.read_text())
    service["metadata"] = {"name": name, "namespace": namespace}
    return service


def rendered_workload(service: str, namespace: str, kind: str) -> dict[str, Any]:
    """The ``kind`` the operator renders from :func:`hardened_service` ``service``."""
    rendered = build_objects(hardened_service(service, namespace))
    return next(obj for obj in rendered if obj["kind"] == kind)


def owner_reference(owner: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A controller ownerReference to ``owner`` (as stored: it has a uid); ``changes``
    overwrite its fields (a forged or malformed reference)."""
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        **changes,
    }


# Owner chains as a cluster's controllers make them, honest: each child made from its owner's
# pod template, which runs as root (the HardenedService's Deployment is the one the operator
# renders from it: compliant) -- (kind, name, the (kind, name) of its controlling owner). The
# Pod DEBUGGED gets a root ephemeral container (``kubectl debug``), added to it and never to
# its owners.
CHAINS: tuple[tuple[str, str, tuple[str, str] | None], ...] = (
    ("Deployment", "web", None),
    ("ReplicaSet", "web-1", ("Deployment", "web")),
    ("Pod", "web-1-abcde", ("ReplicaSet", "web-1")),
    ("CronJob", "nightly", None),
    ("Job", "nightly-1", ("CronJob", "nightly")),
    ("Pod", "nightly-1-xyz12", ("Job", "nightly-1")),
    ("HardenedService", "svc", None),
    ("Deployment", "svc", ("HardenedService", "svc")),
)
DEBUGGED = ("Pod", "web-1-abcde")
ROOT_DEBUGGER: dict[str, Any] = {
    "name": "debugger",
    "image": "busybox:1.36",
    "securityContext": {"runAsUser": 0},
}


def owner_chains(
    namespace: str,
    store: Callable[[dict[str, Any]], dict[str, Any]],
    leave_out: frozenset[tuple[str, str]] = frozenset(),
) -> dict[tuple[str, str], dict[str, Any]]:
    """Build :data:`CHAINS` owners first, each child naming its stored owner; ``store`` keeps
    an object and returns it as kept, with a uid (a create, or a fake uid for files). An
    owner in ``leave_out`` is still built (its children name it) but not returned."""
    root = bad_specs()["pod-uid0"]
    made: dict[tuple[str, str], dict[str, Any]] = {}
    for kind, name, owner in CHAINS:
        if kind == "HardenedService":
            obj = hardened_service(name, namespace)
        elif owner is not None and owner[0] == "HardenedService":
            obj = rendered_workload(owner[1], namespace, kind)
        else:
            obj = valid_object(kind, root, name, namespace)
        if owner is not None:
            obj["metadata"]["ownerReferences"] = [owner_reference(made[owner])]
        made[(kind, name)] = store(obj)
    return {key: obj for key, obj in made.items() if key not in leave_out}


def _root_running(image: str) -> dict[str, Any]:
    spec = bad_specs()["pod-uid0"]
    for item in spec["containers"]:
        item["image"] = image
    return spec


def _root_with_escalating_sidecar() -> dict[str, Any]:
    spec = bad_specs()["pod-uid0"]
    spec["containers"].append(container("sidecar", allowPrivilegeEscalation=True))
    return spec


# ``ownerReferences`` are written by whoever creates the object: children that do not match
# the owner they name, made by hand (kind, name, pod spec, its claimed owner). A root Pod
# naming a compliant ReplicaSet; a root ReplicaSet naming a compliant Deployment, and a Pod
# made from that ReplicaSet (its findings are the ReplicaSet's: nothing more); a ReplicaSet of
# a root Deployment that adds a sidecar which may escalate (only the sidecar is its own).
FORGED: tuple[tuple[str, str, Callable[[], dict[str, Any]], tuple[str, str] | None], ...] = (
    ("ReplicaSet", "honest-rs", compliant_spec, None),
    ("Pod", "forged-pod", lambda: bad_specs()["pod-uid0"], ("ReplicaSet", "honest-rs")),
    ("Deployment", "honest-deploy", compliant_spec, None),
    ("ReplicaSet", "forged-rs", lambda: bad_specs()["pod-uid0"], ("Deployment", "honest-deploy")),
    ("Pod", "forged-rs-pod", lambda: bad_specs()["pod-uid0"], ("ReplicaSet", "forged-rs")),
    ("Deployment", "root-deploy", lambda: bad_specs()["pod-uid0"], None),
    ("ReplicaSet", "diverged-rs", _root_with_escalating_sidecar, ("Deployment", "root-deploy")),
    # The same finding as its root owner, but in a container running another image: its own.
    ("ReplicaSet", "root-rs", lambda: bad_specs()["pod-uid0"], ("Deployment", "root-deploy")),
    ("Pod", "root-rs-pod", lambda: bad_specs()["pod-uid0"], ("ReplicaSet", "root-rs")),
    (
        "Pod",
        "other-image-pod",
        lambda: _root_running("evil.example/miner:1"),
        ("ReplicaSet", "root-rs"),
    ),
)
_SIDECAR = "spec.template.spec.containers[1].securityContext"
# (kind, name) -> the (check, field) reported on it; every other object reports nothing.
FORGED_REPORTED: dict[tuple[str, str], set[tuple[str, str]]] = {
    ("Pod", "forged-pod"): {("runAsUser", "spec.securityContext.runAsUser")},
    ("ReplicaSet", "forged-rs"): {("runAsUser", "spec.template.spec.securityContext.runAsUser")},
    ("Deployment", "root-deploy"): {("runAsUser", "spec.template.spec.securityContext.runAsUser")},
    ("Pod", "other-image-pod"): {("runAsUser", "spec.securityContext.runAsUser")},
    # Its sidecar is its own, and so is the pod-level root: it now applies to the sidecar too.
    ("ReplicaSet", "diverged-rs"): {
        ("runAsUser", "spec.template.spec.securityContext.runAsUser"),
        ("allowPrivilegeEscalation", f"{_SIDECAR}.allowPrivilegeEscalation"),
        ("capabilities_restricted", f"{_SIDECAR}.capabilities.drop"),
    },
}


def forged_children(
    namespace: str, store: Callable[[dict[str, Any]], dict[str, Any]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """Build :data:`FORGED` owners first, each child naming its stored owner's uid (``store``
    as in :func:`owner_chains`)."""
    made: dict[tuple[str, str], dict[str, Any]] = {}
    for kind, name, spec, owner in FORGED:
        obj = valid_object(kind, spec(), name, namespace)
        if owner is not None:
            obj["metadata"]["ownerReferences"] = [owner_reference(made[owner])]
        made[(kind, name)] = store(obj)
    return made
