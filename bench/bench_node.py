"""The local node: how long `dev up --node` takes, and `kubectl apply` -> Ready=True.

Baselines measured in the same run:

- ``dev up`` without the node (etcd + kube-apiserver + the operator), for the node's start-up;
- the very objects the operator would make (``hardened render``: Deployment, four PVCs,
  Service) applied directly, timed to the Deployment's first ready replica: what Kubernetes
  itself takes (scheduling, volume provisioning and binding, the kubelet, the probes). The
  ratio HardenedService / direct is the operator's own share.

Needs root (the node) and the node's binaries (``hardened dev build-assets --node``).
Run: ``.venv/bin/python bench/bench_node.py`` or ``bench/run.py node``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kubernetes import client, utils

from hardened_operator import API_GROUP, API_VERSION, PLURAL
from hardened_operator.builders import build_objects
from hardened_operator.dev import images
from hardened_operator.dev import plane as plane_module
from hardened_operator.k8s import bootstrap

ROUNDS = 10
MARKER = "<!-- bench:section -->"
PROBES = {
    "startup": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 1,
                "failureThreshold": 60},
    "readiness": {"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 1},
}  # fmt: skip


def _service(name: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{API_GROUP}/{API_VERSION}",
        "kind": "HardenedService",
        "metadata": {"name": name},
        "spec": {
            "image": images.SAMPLE_APP_IMAGE,
            "ports": [{"name": "http", "containerPort": 8080}],
            "probes": PROBES,
            "volumes": {v: {"size": "16Mi"} for v in ("logs", "data", "models", "cache")},
        },
    }


def _wait(predicate: Any, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise TimeoutError("not ready in time")


def _hsvc_ready(api: Any, namespace: str, name: str) -> float:
    objects = client.CustomObjectsApi(api)
    started = time.monotonic()
    objects.create_namespaced_custom_object(
        API_GROUP, API_VERSION, namespace, PLURAL, _service(name)
    )

    def ready() -> bool:
        body: Any = objects.get_namespaced_custom_object(
            API_GROUP, API_VERSION, namespace, PLURAL, name
        )
        return any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in (body.get("status") or {}).get("conditions") or []
        )

    _wait(ready)
    return time.monotonic() - started


def _direct_ready(api: Any, namespace: str, name: str) -> float:
    rendered = build_objects({**_service(name), "metadata": {"name": name}})
    apps: Any = client.AppsV1Api(api)
    create: Any = utils.create_from_dict  # untyped in the client
    started = time.monotonic()
    for obj in rendered:
        create(api, obj, namespace=namespace)

    def ready() -> bool:
        status = apps.read_namespaced_deployment(name, namespace).status
        return bool(status.ready_replicas and status.ready_replicas >= 1)

    _wait(ready)
    return time.monotonic() - started


def _namespace(api: Any, name: str) -> None:
    bootstrap.create_namespace(api, name)
    core: Any = client.CoreV1Api(api)
    _wait(lambda: any(sa.metadata.name == "default"
                      for sa in core.list_namespaced_service_account(name).items))  # fmt: skip


def _start(node: bool) -> tuple[plane_module.ControlPlane, float]:
    directory = Path(tempfile.mkdtemp(prefix="bench-node-"))
    started = time.monotonic()
    plane = plane_module.start(
        plane_module.Options(directory=directory, tie_to_parent=True, node=node)
    )
    return plane, time.monotonic() - started


def main() -> int:
    plain, plain_up = _start(node=False)
    plain.stop()
    plane, node_up = _start(node=True)
    try:
        api = plane.api_client()
        _namespace(api, "bench")
        hsvc, direct = [], []
        for index in range(ROUNDS):
            direct.append(_direct_ready(api, "bench", f"direct-{index}"))
            hsvc.append(_hsvc_ready(api, "bench", f"hsvc-{index}"))
            print(f"round {index}: direct {direct[-1]:.2f}s, hsvc {hsvc[-1]:.2f}s", file=sys.stderr)
    finally:
        plane.stop()
    median_h, median_d = statistics.median(hsvc), statistics.median(direct)
    print(MARKER)
    print(
        "| measurement | value | baseline (same run) | ratio |\n|---|---|---|---|\n"
        f"| warm `dev up --node` (plane, node, operator, admission verified) | {node_up:.1f} s "
        f"| `dev up` without the node: {plain_up:.1f} s | {node_up / plain_up:.2f}x |\n"
        f"| `kubectl apply` of a HardenedService -> `Ready=True` (median of {ROUNDS}) "
        f"| {median_h:.2f} s (min {min(hsvc):.2f}, max {max(hsvc):.2f}) "
        f"| the rendered objects applied directly -> 1 ready replica: {median_d:.2f} s "
        f"| {median_h / median_d:.2f}x |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
