"""A stand-in for metrics-server: serves ``metrics.k8s.io/v1beta1`` pod metrics with the usage
a test chooses, registered as an APIService, so kube-controller-manager's real HPA controller
scales on "load" without a metrics pipeline on the node.

The server runs in the test process (HTTPS, a throwaway certificate; the APIService skips
verification, as a test may). The API server reaches it through a selector-less Service and an
EndpointSlice pointing at the node's address: the same path as an in-cluster metrics-server.
Pod names come from the API (the selector the HPA asks with), usage from ``usage``.
"""

from __future__ import annotations

import datetime as dt
import json
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from hardened_operator import certs

GROUP_VERSION = "metrics.k8s.io/v1beta1"
NAMESPACE = "kube-system"
SERVICE = "fake-metrics"
DISCOVERY = {
    "kind": "APIResourceList",
    "apiVersion": "v1",
    "groupVersion": GROUP_VERSION,
    "resources": [
        {"name": "pods", "singularName": "", "namespaced": True, "kind": "PodMetrics",
         "verbs": ["get", "list"]},
        {"name": "nodes", "singularName": "", "namespaced": False, "kind": "NodeMetrics",
         "verbs": ["get", "list"]},
    ],
}  # fmt: skip


class FakeMetrics:
    """What the server reports: {"cpu": "50m", "memory": "128Mi"} for every container."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self.usage: dict[str, str] = {"cpu": "1m", "memory": "1Mi"}
        self.requests = 0
        self.asked_at: list[float] = []  # time.monotonic() of each pod-metrics request

    def pod_metrics(self, namespace: str, selector: str) -> dict[str, Any]:
        pods: Any = client.CoreV1Api(self.api).list_namespaced_pod(
            namespace, label_selector=selector
        )
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        items = [
            {
                "metadata": {"name": pod.metadata.name, "namespace": namespace},
                "timestamp": now,
                "window": "15s",
                "containers": [
                    {"name": c.name, "usage": dict(self.usage)} for c in pod.spec.containers
                ],
            }
            for pod in pods.items
            if pod.status.phase == "Running"
        ]
        return {"kind": "PodMetricsList", "apiVersion": GROUP_VERSION, "metadata": {},
                "items": items}  # fmt: skip


def _handler(metrics: FakeMetrics) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: Any) -> None:  # quiet: the test reads the outcome
            return

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # the http.server protocol names it
            url = urlparse(self.path)
            parts = url.path.strip("/").split("/")
            if url.path.rstrip("/") == f"/apis/{GROUP_VERSION}":
                self._send(200, DISCOVERY)
            elif parts[:3] == ["apis", "metrics.k8s.io", "v1beta1"] and parts[3:4] == [
                "namespaces"
            ]:
                selector = parse_qs(url.query).get("labelSelector", [""])[0]
                metrics.requests += 1
                metrics.asked_at.append(time.monotonic())
                self._send(200, metrics.pod_metrics(parts[4], selector))
            else:
                self._send(404, {"kind": "Status", "status": "Failure", "code": 404})

    return Handler


def _node_address(api: Any) -> str:
    nodes: Any = client.CoreV1Api(api).list_node()
    for node in nodes.items:
        for address in node.status.addresses or []:
            if address.type == "InternalIP":
                return str(address.address)
    raise AssertionError("the node reports no InternalIP")


@contextmanager
def served(api: Any, directory: Path) -> Iterator[FakeMetrics]:
    """Serve fake pod metrics and register them as ``v1beta1.metrics.k8s.io`` until the end."""
    address = _node_address(api)
    bundle = certs.generate([address], common_name="fake-metrics")
    _, cert, key = bundle.write(directory / "fake-metrics-tls")
    metrics = FakeMetrics(api)
    server = ThreadingHTTPServer((address, 0), _handler(metrics))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    core = client.CoreV1Api(api)
    registration = client.ApiregistrationV1Api(api)
    discovery = client.DiscoveryV1Api(api)
    service: dict[str, Any] = {"metadata": {"name": SERVICE},
               "spec": {"ports": [{"name": "https", "port": 443, "targetPort": port}]}}  # fmt: skip
    endpoints: dict[str, Any] = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": SERVICE, "labels": {"kubernetes.io/service-name": SERVICE}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [address]}],
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
    }
    apiservice: dict[str, Any] = {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": "v1beta1.metrics.k8s.io"},
        "spec": {
            "group": "metrics.k8s.io",
            "version": "v1beta1",
            "service": {"namespace": NAMESPACE, "name": SERVICE, "port": 443},
            "insecureSkipTLSVerify": True,
            "groupPriorityMinimum": 100,
            "versionPriority": 100,
        },
    }
    try:
        # The client validates a plain dict into the model; its annotation names only the model.
        core.create_namespaced_service(NAMESPACE, service)  # type: ignore[arg-type]
        discovery.create_namespaced_endpoint_slice(NAMESPACE, endpoints)  # type: ignore[arg-type]
        registration.create_api_service(apiservice)  # type: ignore[arg-type]
        yield metrics
    finally:
        for delete, args in (
            (registration.delete_api_service, ("v1beta1.metrics.k8s.io",)),
            (discovery.delete_namespaced_endpoint_slice, (SERVICE, NAMESPACE)),
            (core.delete_namespaced_service, (SERVICE, NAMESPACE)),
        ):
            try:
                delete(*args)
            except ApiException as error:
                if error.status != 404:
                    raise
        server.shutdown()
        server.server_close()
