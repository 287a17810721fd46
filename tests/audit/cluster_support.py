"""Helpers for ``hardened audit --cluster`` tests: objects the API server accepts, raw
creates, restricted users with their own kubeconfig, and running the real command."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

from hardened_operator.k8s import inventory
from hardened_operator.workloads import POD_BEARING
from tests.audit.audit_manifests import (
    DEBUGGED,
    KINDS,
    ROOT_DEBUGGER,
    bad_specs,
    compliant_spec,
    hardened_service,
    owner_chains,
    valid_object,
)
from tests.audit.audit_support import HARDENED

# Every resource the audit lists, as kubectl spells them ("deployments.apps").
RESOURCES = [inventory.resource_name(kind) for kind in POD_BEARING]


def mixed_objects(namespace: str) -> list[dict[str, Any]]:
    """Every pod-bearing kind, compliant and violating in each way the API server stores
    (ephemeral containers cannot be created with a pod), plus a HardenedService."""
    specs = {"ok": compliant_spec(), **bad_specs()}
    del specs["ephemeral-bare"]
    # privileged with allowPrivilegeEscalation false is refused by validation: drop the latter.
    del specs["privileged-caps"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"]
    objects = [
        valid_object(kind, spec, f"{kind.lower()}-{label}", namespace)
        for kind in KINDS
        for label, spec in specs.items()
    ]
    return [*objects, hardened_service("hello", namespace)]


def create(api: Any, obj: dict[str, Any]) -> dict[str, Any]:
    """POST ``obj`` to its list (any pod-bearing kind); the stored object back."""
    kind = next(k for k in POD_BEARING if k.kind == obj["kind"])
    path = inventory.list_path(kind, obj["metadata"]["namespace"])
    method, url, headers, body, _ = api.param_serialize(
        "POST",
        path,
        body=obj,
        header_params={"Content-Type": "application/json", "Accept": "application/json"},
        auth_settings=["BearerToken"],
    )
    response = api.call_api(method, url, header_params=headers, body=body)
    data = response.read()
    assert 200 <= response.status < 300, f"create {obj['kind']} {path}: {response.status} {data!r}"
    stored: dict[str, Any] = json.loads(data)
    return stored


def add_ephemeral_container(api: Any, pod: dict[str, Any], debugger: dict[str, Any]) -> None:
    """What ``kubectl debug`` does: PUT the Pod with one more ephemeral container to its
    ``pods/ephemeralcontainers`` subresource (the only way to add one)."""
    path = f"/api/v1/namespaces/{pod['metadata']['namespace']}/pods/{pod['metadata']['name']}"
    spec = {**pod["spec"], "ephemeralContainers": [*pod["spec"].get("ephemeralContainers", []),
                                                   debugger]}  # fmt: skip
    body = {**pod, "spec": spec}
    method, url, headers, data, _ = api.param_serialize(
        "PUT",
        f"{path}/ephemeralcontainers",
        body=body,
        header_params={"Content-Type": "application/json", "Accept": "application/json"},
        auth_settings=["BearerToken"],
    )
    response = api.call_api(method, url, header_params=headers, body=data)
    answer = response.read()
    assert response.status == 200, f"add an ephemeral container to {path}: {answer!r}"


def create_owner_chains(api: Any, namespace: str) -> dict[tuple[str, str], dict[str, Any]]:
    """``audit_manifests.CHAINS`` created for real (no controller runs in the test plane, so
    the ReplicaSet, Job and Pods are made by hand, with their ownerReferences), and the root
    debug container added to ``DEBUGGED`` through the subresource."""
    made = owner_chains(namespace, lambda obj: create(api, obj))
    add_ephemeral_container(api, made[DEBUGGED], ROOT_DEBUGGER)
    return made


def token_kubeconfig(path: Path, server: str, ca_file: str, token: str) -> Path:
    """A kubeconfig that authenticates with ``token`` only (no client certificate)."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "plane", "cluster": {"server": server, "certificate-authority": ca_file}}
        ],
        "users": [{"name": "restricted", "user": {"token": token}}],
        "contexts": [{"name": "restricted", "context": {"cluster": "plane", "user": "restricted"}}],
        "current-context": "restricted",
    }
    path.write_text(yaml.safe_dump(config))
    return path


def run_hardened(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The installed ``hardened`` script (a real process: exit codes, stdout vs stderr)."""
    return subprocess.run(
        [str(HARDENED), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env if env is not None else dict(os.environ),
    )


def comparable(entries: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Entries without where they were read from (a file and line, or an API path), sorted."""
    keys = ("type", "kind", "namespace", "name", "container", "containerType", "check",
            "field", "message", "fix")  # fmt: skip
    return sorted(tuple(entry[key] for key in keys) for entry in entries)


def sarif_namespaces(stdout: str) -> dict[str, dict[str, Any]]:
    """The per-namespace rows a SARIF cluster report carries, by namespace."""
    run = json.loads(stdout)["runs"][0]
    return {row["namespace"]: row for row in run["properties"]["namespaces"]}
