"""The NetworkPolicy a HardenedService's ``spec.networkPolicy`` becomes isolates its pods.

Enforced on the dev node by kube-router's firewall (dev/netpol.py); proved with real TCP
connections from client pods (busybox ``nc`` sending ``GET /whoami`` to the sample app, which
answers with its uid), both to the Service's ClusterIP (through kube-proxy) and to the pod's
own address. A refusal only counts next to an allowed connection that shows the listener,
the address and the client all work.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from kubernetes import client

from hardened_operator.errors import NotFoundError
from hardened_operator.k8s import bootstrap
from tests.node.node_support import (
    NodeCluster,
    compliant_pod,
    core_api,
    create_hsvc,
    running_pod,
    sample_service,
    wait_for,
    wait_ready,
)

pytestmark = pytest.mark.node

SERVED = 8080  # the sample app's port, declared in spec.ports
UNDECLARED = 9090  # a second listener in the same container, in no spec.ports
FRONTEND = {"app.kubernetes.io/name": "frontend"}
ENFORCED_WITHIN = 60.0
"""Seconds kube-router may take to apply a new policy or pod (it syncs on each event)."""

_BOTH_PORTS = f"PORT={UNDECLARED} /usr/local/bin/sample-app & exec /usr/local/bin/sample-app"


def _guarded(name: str, network_policy: dict[str, Any]) -> dict[str, Any]:
    """The sample app listening on SERVED (declared) and UNDECLARED; no volumes."""
    no_volumes = {v: {"enabled": False} for v in ("logs", "data", "models", "cache")}
    return sample_service(
        name,
        extra={
            "command": ["sh", "-c", _BOTH_PORTS],
            "volumes": no_volumes,
            "networkPolicy": network_policy,
        },
    )


def _client(api: Any, namespace: str, name: str, labels: dict[str, str]) -> str:
    """A running pod of the sample image (UID 1000) to connect from."""
    body = compliant_pod(name)
    body["metadata"]["labels"] = labels
    core = core_api(api)
    core.create_namespaced_pod(namespace, body)
    wait_for(
        lambda: core.read_namespaced_pod(name, namespace).status.phase == "Running",
        120,
        f"client pod {namespace}/{name} running",
    )
    return name


def _get_whoami(cluster: NodeCluster, namespace: str, pod: str, ip: str, port: int) -> str:
    """What a TCP connection from ``pod`` to ip:port got: the app's answer, or nc's error."""
    request = "printf 'GET /whoami HTTP/1.0\\r\\n\\r\\n'"
    result = cluster.exec(namespace, pod, f"{request} | busybox nc -w 3 {ip} {port}")
    return (result.stdout + result.stderr).strip()


def _reaches(cluster: NodeCluster, namespace: str, pod: str, ip: str, port: int) -> bool:
    return "uid=1000" in _get_whoami(cluster, namespace, pod, ip, port)


def _settles(
    cluster: NodeCluster, namespace: str, pod: str, ip: str, port: int, *, allowed: bool
) -> None:
    """Wait until the connection's outcome is ``allowed``, then check it holds three times."""
    verdict = "reach" if allowed else "be refused at"
    wait_for(
        lambda: _reaches(cluster, namespace, pod, ip, port) == allowed,
        ENFORCED_WITHIN,
        f"{namespace}/{pod} to {verdict} {ip}:{port}",
        interval=1,
    )
    for _ in range(3):
        got = _get_whoami(cluster, namespace, pod, ip, port)
        assert ("uid=1000" in got) == allowed, f"{pod} -> {ip}:{port}: {got!r}"


def _addresses(api: Any, namespace: str, name: str) -> tuple[str, str]:
    """(the Service's ClusterIP, the ready pod's IP) of the HardenedService ``name``."""
    core = core_api(api)
    pod = core.read_namespaced_pod(running_pod(api, namespace, name), namespace)
    service = core.read_namespaced_service(name, namespace)
    return str(service.spec.cluster_ip), str(pod.status.pod_ip)


def _network_policy(api: Any, namespace: str, name: str) -> Any | None:
    networking = client.NetworkingV1Api(api)
    with contextlib.suppress(NotFoundError):
        return bootstrap.call(
            f"read NetworkPolicy {namespace}/{name}",
            lambda: networking.read_namespaced_network_policy(name, namespace),
        )
    return None


def test_only_pods_matching_allow_from_reach_the_declared_port(
    node_cluster: NodeCluster, node_api: Any, node_namespace: str
) -> None:
    ns = node_namespace
    create_hsvc(node_api, ns, _guarded("guarded", {"allowFrom": [{"podSelector": {
        "matchLabels": FRONTEND}}]}))  # fmt: skip
    wait_ready(node_api, ns, "guarded")  # the kubelet's probes come from the node: let through
    assert _network_policy(node_api, ns, "guarded") is not None
    cluster_ip, pod_ip = _addresses(node_api, ns, "guarded")
    frontend = _client(node_api, ns, "frontend", FRONTEND)
    stranger = _client(node_api, ns, "stranger", {"app.kubernetes.io/name": "stranger"})

    # The undeclared listener answers inside its own pod (loopback traffic is never filtered).
    server = running_pod(node_api, ns, "guarded")
    assert _reaches(node_cluster, ns, server, pod_ip, UNDECLARED)

    for address in (cluster_ip, pod_ip):
        _settles(node_cluster, ns, frontend, address, SERVED, allowed=True)
        _settles(node_cluster, ns, stranger, address, SERVED, allowed=False)
    _settles(node_cluster, ns, frontend, pod_ip, UNDECLARED, allowed=False)
    refused = _get_whoami(node_cluster, ns, stranger, pod_ip, SERVED)
    assert "uid=" not in refused and refused, refused


def test_no_peers_denies_everyone_until_network_policy_is_removed(
    node_cluster: NodeCluster, node_api: Any, node_namespace: str
) -> None:
    ns = node_namespace
    create_hsvc(node_api, ns, _guarded("sealed", {}))
    wait_ready(node_api, ns, "sealed")
    policy = _network_policy(node_api, ns, "sealed")
    assert policy is not None and not policy.spec.ingress  # no rule: every ingress refused
    cluster_ip, pod_ip = _addresses(node_api, ns, "sealed")
    frontend = _client(node_api, ns, "frontend", FRONTEND)

    for address in (cluster_ip, pod_ip):
        _settles(node_cluster, ns, frontend, address, SERVED, allowed=False)

    node_cluster.kubectl(
        "-n", ns, "patch", "hardenedservice", "sealed", "--type=merge",
        "-p", '{"spec": {"networkPolicy": null}}',
    )  # fmt: skip
    wait_for(
        lambda: _network_policy(node_api, ns, "sealed") is None,
        60,
        f"the operator to delete NetworkPolicy {ns}/sealed",
    )
    for address in (cluster_ip, pod_ip):
        _settles(node_cluster, ns, frontend, address, SERVED, allowed=True)
    _settles(node_cluster, ns, frontend, pod_ip, UNDECLARED, allowed=True)
