"""Builders for AdmissionReviews and a webhook server running in a thread of its own."""

from __future__ import annotations

import asyncio
import copy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hardened_operator.webhook import WebhookConfig, WebhookServer, serve

UID = "0b3b0f5e-6c4f-4a35-9d7b-3e1c2a9f8d10"

COMPLIANT_POD_SPEC: dict[str, Any] = {
    "securityContext": {
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "seccompProfile": {"type": "RuntimeDefault"},
    },
    "containers": [
        {
            "name": "app",
            "image": "registry.example.com/app:1.0",
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"]},
            },
        }
    ],
}


def root_pod_spec() -> dict[str, Any]:
    """The compliant spec with its app container switched to UID 0."""
    spec = copy.deepcopy(COMPLIANT_POD_SPEC)
    spec["containers"][0]["securityContext"]["runAsUser"] = 0
    return spec


def pod(spec: dict[str, Any] | None = None, name: str = "web", ns: str = "shop") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns},
        "spec": copy.deepcopy(spec if spec is not None else COMPLIANT_POD_SPEC),
    }


def _template(spec: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": "web"}},
        "spec": copy.deepcopy(spec if spec is not None else COMPLIANT_POD_SPEC),
    }


def workload(kind: str, spec: dict[str, Any] | None = None, name: str = "web") -> dict[str, Any]:
    """A minimal object of ``kind`` whose pod template has ``spec``."""
    api_version = {
        "Deployment": "apps/v1",
        "StatefulSet": "apps/v1",
        "DaemonSet": "apps/v1",
        "ReplicaSet": "apps/v1",
        "ReplicationController": "v1",
        "Job": "batch/v1",
        "CronJob": "batch/v1",
        "PodTemplate": "v1",
    }[kind]
    obj: dict[str, Any] = {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name, "namespace": "shop"},
    }
    if kind == "PodTemplate":
        obj["template"] = _template(spec)
    elif kind == "CronJob":
        obj["spec"] = {
            "schedule": "* * * * *",
            "jobTemplate": {"spec": {"template": _template(spec)}},
        }
    else:
        obj["spec"] = {"replicas": 1, "template": _template(spec)}
    return obj


RESOURCES: dict[str, tuple[str, str, str]] = {
    # kind -> (group, version, resource)
    "Pod": ("", "v1", "pods"),
    "Deployment": ("apps", "v1", "deployments"),
    "StatefulSet": ("apps", "v1", "statefulsets"),
    "DaemonSet": ("apps", "v1", "daemonsets"),
    "ReplicaSet": ("apps", "v1", "replicasets"),
    "ReplicationController": ("", "v1", "replicationcontrollers"),
    "Job": ("batch", "v1", "jobs"),
    "CronJob": ("batch", "v1", "cronjobs"),
    "PodTemplate": ("", "v1", "podtemplates"),
    "HardenedService": ("ai-system.io", "v1alpha1", "hardenedservices"),
    "ConfigMap": ("", "v1", "configmaps"),
}


def review(
    obj: Any,
    *,
    operation: str = "CREATE",
    kind: str | None = None,
    subresource: str | None = None,
    old: Any = None,
    namespace: str = "shop",
    username: str = "alice",
    dry_run: bool = False,
    uid: str = UID,
) -> dict[str, Any]:
    """An ``admission.k8s.io/v1`` AdmissionReview as kube-apiserver sends it."""
    kind = kind or obj["kind"]
    group, version, resource = RESOURCES[kind]
    request: dict[str, Any] = {
        "uid": uid,
        "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": resource},
        "namespace": namespace,
        "operation": operation,
        "userInfo": {"username": username, "groups": ["system:authenticated"]},
        "object": obj,
        "oldObject": old,
        "dryRun": dry_run,
    }
    if subresource:
        request["subResource"] = subresource
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


@contextmanager
def running_server(
    config: WebhookConfig | None = None,
    *,
    cert_file: Path | None = None,
    key_file: Path | None = None,
) -> Iterator[WebhookServer]:
    """``serve`` on 127.0.0.1:<free port> in a thread with its own event loop.

    Plain HTTP unless certificate files are given. The test talks to it over real sockets
    from the main thread (requests), so nothing runs inside a pytest event loop.
    """
    loop = asyncio.new_event_loop()
    started = threading.Event()
    box: dict[str, Any] = {}

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            box["server"] = loop.run_until_complete(
                serve(
                    config or WebhookConfig(),
                    "127.0.0.1",
                    0,
                    cert_file,
                    key_file,
                    insecure=cert_file is None,
                )
            )
        except BaseException as error:  # surfaced in the main thread below
            box["error"] = error
            started.set()
            return
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="webhook-test-server", daemon=True)
    thread.start()
    if not started.wait(30):
        raise RuntimeError("webhook test server did not start within 30 s")
    if "error" in box:
        raise box["error"]
    server: WebhookServer = box["server"]
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()
