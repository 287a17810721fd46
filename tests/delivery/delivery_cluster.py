"""Cluster helpers of the delivery tests that talk to the API server (admin client)."""

from __future__ import annotations

import subprocess
import uuid
from typing import Any

from kubernetes import dynamic

from hardened_operator.k8s import bootstrap
from tests.delivery.delivery_support import SAMPLES, kubectl_binary, load_file, skip_or_fail

FIELD_MANAGER = "delivery-test"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def apply(api: Any, obj: dict[str, Any], namespace: str | None = None) -> Any:
    """Server-side apply of any object (the way `kubectl apply --server-side` does it)."""
    # kubernetes.dynamic (unlike kubernetes.client) has no annotations.
    resource = dynamic.DynamicClient(api).resources.get(  # type: ignore[no-untyped-call]
        api_version=obj["apiVersion"], kind=obj["kind"]
    )
    return resource.server_side_apply(
        body=obj,
        namespace=namespace if resource.namespaced else None,
        field_manager=FIELD_MANAGER,
        force_conflicts=True,
    )


def create_namespace(api: Any, name: str, labels: dict[str, str] | None = None) -> str:
    bootstrap.create_namespace(api, name, labels)
    bootstrap.ensure_service_account(api, name)
    return name


def pvc(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }


def sample(name: str) -> dict[str, Any]:
    (obj,) = load_file(SAMPLES / name)
    return obj


def kubectl(
    control_plane: Any, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    binary = kubectl_binary()
    if binary is None:
        skip_or_fail("kubectl not available (built by `hardened dev build-assets`)")
        raise AssertionError("unreachable")
    return subprocess.run(
        [binary, "--kubeconfig", str(control_plane.kubeconfig), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
