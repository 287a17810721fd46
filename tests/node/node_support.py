"""Helpers of the runtime tests: kubectl against the node, HardenedServices, pods, waiting."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from kubernetes import client

from hardened_operator import API_GROUP, API_VERSION, PLURAL
from hardened_operator.dev import assets, images
from hardened_operator.dev import plane as plane_module
from hardened_operator.k8s import bootstrap

T = TypeVar("T")

SAMPLE_APP = images.SAMPLE_APP_IMAGE
SAMPLE_ROOT = images.SAMPLE_ROOT_IMAGE
MISSING_IMAGE = images.MISSING_IMAGE


def core_api(api: Any) -> Any:
    """``CoreV1Api``, typed loosely: tests read optional fields the server always sets."""
    return client.CoreV1Api(api)


def apps_api(api: Any) -> Any:
    """``AppsV1Api``, typed loosely (see :func:`core_api`)."""
    return client.AppsV1Api(api)


def wait_for(probe: Callable[[], T | None], timeout: float, what: str, interval: float = 0.5) -> T:
    """Poll ``probe`` until it returns something truthy; fail naming ``what`` and the last value."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


@dataclass
class NodeCluster:
    plane: plane_module.ControlPlane

    def api_client(self) -> Any:
        return bootstrap.api_client(self.plane.kubeconfig)

    def kubectl(
        self,
        *args: str,
        check: bool = True,
        input: str | None = None,
        timeout: float = 60,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        kubectl = assets.require_assets().kubectl
        assert kubectl is not None, "kubectl v1.37.2 is built with the control plane's binaries"
        result = subprocess.run(
            [str(kubectl), f"--kubeconfig={self.plane.kubeconfig}", *args],
            capture_output=True,
            text=True,
            input=input,
            timeout=timeout,
            check=False,
            cwd=cwd,
        )
        if check:
            assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
        return result

    def exec(self, namespace: str, pod: str, script: str) -> subprocess.CompletedProcess[str]:
        """``sh -c script`` in the pod's app container (not checked: tests read the code)."""
        return self.kubectl(
            "-n", namespace, "exec", pod, "-c", "app", "--", "sh", "-c", script, check=False
        )


FAST_PROBES: dict[str, Any] = {
    "startup": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 1,
                "failureThreshold": 30},
    "liveness": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 2,
                 "failureThreshold": 2},
    "readiness": {"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 1,
                  "failureThreshold": 1},
}  # fmt: skip


def sample_service(
    name: str,
    *,
    env: Mapping[str, str] | None = None,
    image: str = SAMPLE_APP,
    probes: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A HardenedService of the sample app: port 8080, HTTP probes on /healthz and /ready.

    Probe timings are short so that a failing probe acts within seconds (the seed's 30 s
    interval would make every test minutes long); the handlers are the real ones.
    """
    spec: dict[str, Any] = {
        "image": image,
        "ports": [{"name": "http", "containerPort": 8080}],
        "probes": dict(probes or FAST_PROBES),
        "volumes": {v: {"size": "16Mi"} for v in ("logs", "data", "models", "cache")},
    }
    if env:
        spec["env"] = [{"name": k, "value": v} for k, v in env.items()]
    spec.update(extra or {})
    return {
        "apiVersion": f"{API_GROUP}/{API_VERSION}",
        "kind": "HardenedService",
        "metadata": {"name": name},
        "spec": spec,
    }


def create_hsvc(api: Any, namespace: str, body: Mapping[str, Any]) -> None:
    client.CustomObjectsApi(api).create_namespaced_custom_object(
        API_GROUP, API_VERSION, namespace, PLURAL, dict(body)
    )


def delete_hsvc(api: Any, namespace: str, name: str) -> None:
    client.CustomObjectsApi(api).delete_namespaced_custom_object(
        API_GROUP, API_VERSION, namespace, PLURAL, name
    )


def read_hsvc(api: Any, namespace: str, name: str) -> dict[str, Any]:
    body = client.CustomObjectsApi(api).get_namespaced_custom_object(
        API_GROUP, API_VERSION, namespace, PLURAL, name
    )
    assert isinstance(body, dict)
    return body


def condition(hsvc: Mapping[str, Any], kind: str) -> dict[str, Any]:
    for entry in (hsvc.get("status") or {}).get("conditions") or []:
        if entry.get("type") == kind:
            return dict(entry)
    return {}


def wait_ready(api: Any, namespace: str, name: str, timeout: float = 180) -> dict[str, Any]:
    """Until the HardenedService's Ready condition is True for its current generation."""

    def ready() -> dict[str, Any] | None:
        hsvc = read_hsvc(api, namespace, name)
        cond = condition(hsvc, "Ready")
        current = cond.get("observedGeneration") == hsvc["metadata"].get("generation")
        return hsvc if cond.get("status") == "True" and current else None

    return wait_for(ready, timeout, f"{namespace}/{name} Ready=True")


def pods_of(api: Any, namespace: str, name: str) -> list[Any]:
    """The HardenedService's pods (by the label the builders put on them), not terminating."""
    pods = core_api(api).list_namespaced_pod(
        namespace, label_selector=f"app.kubernetes.io/instance={name}"
    )
    return [p for p in pods.items if p.metadata.deletion_timestamp is None]


def running_pod(api: Any, namespace: str, name: str, timeout: float = 180) -> str:
    """The name of a Running, Ready pod of the HardenedService."""

    def find() -> str | None:
        for pod in pods_of(api, namespace, name):
            statuses = pod.status.container_statuses or []
            if pod.status.phase == "Running" and statuses and all(s.ready for s in statuses):
                return str(pod.metadata.name)
        return None

    return wait_for(find, timeout, f"a Running, Ready pod of {namespace}/{name}")


def user_namespace(api: Any, name: str) -> str:
    """Create ``name`` (if new) as a user would and wait for the ServiceAccount controller's
    ``default`` there: the ServiceAccount admission plugin refuses pods until it exists."""
    import contextlib

    from hardened_operator.errors import ConflictError

    with contextlib.suppress(ConflictError):  # made by an earlier test of the module
        bootstrap.create_namespace(api, name)

    def default_account() -> bool:
        names = [
            sa.metadata.name for sa in core_api(api).list_namespaced_service_account(name).items
        ]
        return "default" in names

    wait_for(default_account, 60, f"the ServiceAccount controller to create {name}/default")
    return name


def root_pod(name: str = "root") -> dict[str, Any]:
    """A pod that asks for UID 0 outright: every admission path must refuse it."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "securityContext": {"runAsUser": 0},
            "containers": [{"name": "app", "image": SAMPLE_APP}],
        },
    }


def compliant_pod(name: str | None = None) -> dict[str, Any]:
    """A pod of the sample app that every profile admits (``name`` None: ``generateName``)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name} if name else {"generateName": "load-"},
        "spec": {
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 1000,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "app",
                    "image": SAMPLE_APP,
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
        },
    }


def refusal_of_root_pod(api: Any, namespace: str) -> str:
    """The API server's refusal of :func:`root_pod` (fails the test if it was admitted)."""
    from kubernetes.client.exceptions import ApiException

    try:
        core_api(api).create_namespaced_pod(namespace, root_pod())
    except ApiException as error:
        assert error.status == 403, error.body
        return str(error.body)
    raise AssertionError(f"a root pod was admitted in {namespace}")
