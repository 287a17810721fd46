"""API calls of the local node (``hardened dev up --node``): readiness, GPUs, storage, RBAC.

The node's dynamic provisioner (:mod:`hardened_operator.dev.provisioner`) decides what to
create and delete; this module only reads and writes the objects.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from kubernetes import client

from hardened_operator.errors import ApiError, ConflictError, ControlPlaneError, NotFoundError
from hardened_operator.k8s.bootstrap import call


def node_ready(api: Any, name: str) -> tuple[bool, str]:
    """Whether node ``name`` is Ready, and the Ready condition's message (or why not known)."""
    try:
        node = call(f"read node {name}", lambda: client.CoreV1Api(api).read_node(name))
    except ApiError as error:
        return False, str(error)
    for condition in (node.status.conditions or []) if node.status else []:
        if condition.type == "Ready":
            return condition.status == "True", str(condition.message or condition.reason)
    return False, f"node {name} has no Ready condition yet"


def wait_node_ready(
    api: Any, name: str, timeout: float, *, still_running: Callable[[], str | None]
) -> None:
    """Poll until node ``name`` is Ready; ``still_running`` names a crashed process, if any."""
    deadline = time.monotonic() + timeout
    last = "not registered"
    while time.monotonic() < deadline:
        ready, last = node_ready(api, name)
        if ready:
            return
        crashed = still_running()
        if crashed:
            raise ControlPlaneError(f"{crashed} exited before node {name} became Ready")
        time.sleep(0.5)
    raise ControlPlaneError(f"node {name} not Ready within {timeout:.0f}s: {last}")


def advertise_extended_resource(api: Any, node: str, resource: str, quantity: int) -> None:
    """Add ``resource`` to the node's capacity, as a device plugin would.

    This is the documented way to advertise a node-level extended resource (a JSON patch of
    the status); the scheduler then counts requests for it.
    """
    escaped = resource.replace("~", "~0").replace("/", "~1")
    patch = [
        {"op": "add", "path": f"/status/capacity/{escaped}", "value": str(quantity)},
        {"op": "add", "path": f"/status/allocatable/{escaped}", "value": str(quantity)},
    ]
    core = client.CoreV1Api(api)
    call(
        f"advertise {resource} on node {node}",
        lambda: core.patch_node_status(node, patch, _content_type="application/json-patch+json"),
    )


def apply_storage_class(api: Any, manifest: Mapping[str, Any]) -> None:
    """Create the StorageClass unless one of that name exists (its fields are immutable)."""
    body: Any = dict(manifest)
    name = manifest["metadata"]["name"]
    with contextlib.suppress(ConflictError):
        call(
            f"create StorageClass {name}",
            lambda: client.StorageV1Api(api).create_storage_class(body),
        )


def apply_cluster_rbac(api: Any, role: Mapping[str, Any], binding: Mapping[str, Any]) -> None:
    """Create or replace a ClusterRole and its ClusterRoleBinding (a restarted plane keeps
    its etcd, so they may exist from an older version of the rules)."""
    rbac = client.RbacAuthorizationV1Api(api)
    role_body: Any = dict(role)
    binding_body: Any = dict(binding)
    role_name = role["metadata"]["name"]
    binding_name = binding["metadata"]["name"]
    try:
        call(f"create ClusterRole {role_name}", lambda: rbac.create_cluster_role(role_body))
    except ConflictError:
        call(
            f"replace ClusterRole {role_name}",
            lambda: rbac.replace_cluster_role(role_name, role_body),
        )
    try:
        call(
            f"create ClusterRoleBinding {binding_name}",
            lambda: rbac.create_cluster_role_binding(binding_body),
        )
    except ConflictError:
        call(
            f"replace ClusterRoleBinding {binding_name}",
            lambda: rbac.replace_cluster_role_binding(binding_name, binding_body),
        )


def list_claims(api: Any) -> list[dict[str, Any]]:
    """Every PersistentVolumeClaim in the cluster, as plain dicts."""
    core = client.CoreV1Api(api)
    result: Any = call(
        "list PersistentVolumeClaims",
        lambda: core.list_persistent_volume_claim_for_all_namespaces(_preload_content=False),
    )
    return _items(result)


def list_volumes(api: Any) -> list[dict[str, Any]]:
    """Every PersistentVolume, as plain dicts."""
    core = client.CoreV1Api(api)
    result: Any = call(
        "list PersistentVolumes", lambda: core.list_persistent_volume(_preload_content=False)
    )
    return _items(result)


def create_volume(api: Any, manifest: Mapping[str, Any]) -> None:
    """Create a PersistentVolume; an existing one of that name is left alone (a retry)."""
    body: Any = dict(manifest)
    name = manifest["metadata"]["name"]
    with contextlib.suppress(ConflictError):
        call(
            f"create PersistentVolume {name}",
            lambda: client.CoreV1Api(api).create_persistent_volume(body),
        )


def delete_volume(api: Any, name: str) -> None:
    """Delete a PersistentVolume (gone already is fine)."""
    with contextlib.suppress(NotFoundError):
        call(
            f"delete PersistentVolume {name}",
            lambda: client.CoreV1Api(api).delete_persistent_volume(name),
        )


def _items(response: Any) -> list[dict[str, Any]]:
    data = json.loads(response.data)
    items = data.get("items") or []
    return [item for item in items if isinstance(item, dict)]
