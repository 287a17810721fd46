"""The local control plane (dev/plane.py) has room for the benchmark's Services (a /24 held
only 253)."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from hardened_operator.dev import plane

pytestmark = pytest.mark.controlplane

BEYOND_A_SLASH_24 = 300


def test_service_range_holds_a_thousand_services() -> None:
    network = ipaddress.ip_network(plane.SERVICE_CIDR)
    assert network.num_addresses - 2 >= 1000
    assert network.prefixlen >= 12  # kube-apiserver refuses larger IPv4 ranges


def test_the_plane_allocates_more_cluster_ips_than_a_slash_24(
    control_plane: Any, k8s_api: Any, namespace: str
) -> None:
    if control_plane.external:
        pytest.skip("KUBECONFIG's cluster: its service range is not ours to choose")
    from kubernetes import client

    core: Any = client.CoreV1Api(k8s_api)
    for i in range(BEYOND_A_SLASH_24):
        core.create_namespaced_service(
            namespace,
            {
                "metadata": {"name": f"s{i}"},
                "spec": {"ports": [{"port": 80}], "selector": {"app": "none"}},
            },
        )
    ips = {s.spec.cluster_ip for s in core.list_namespaced_service(namespace).items}
    assert len(ips) == BEYOND_A_SLASH_24
    assert all(ipaddress.ip_address(ip) in ipaddress.ip_network(plane.SERVICE_CIDR) for ip in ips)
