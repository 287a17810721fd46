"""HardenedService workloads on a real node: every non-root claim checked in a running pod.

The pods here are started by the kubelet with containerd and runc from the operator's own
Deployment; what the tests read comes from inside the container (``kubectl exec``) or from
the kubelet's status, never from the YAML we generated.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.node.node_support import (
    NodeCluster,
    apps_api,
    condition,
    core_api,
    create_hsvc,
    pods_of,
    read_hsvc,
    running_pod,
    sample_service,
    wait_for,
    wait_ready,
)

pytestmark = pytest.mark.node


def _status_field(status: str, name: str) -> str:
    match = re.search(rf"^{name}:\s*(.+)$", status, re.MULTILINE)
    assert match, f"{name} not in /proc/self/status:\n{status}"
    return match.group(1).strip()


def test_a_hardenedservice_becomes_ready_from_real_pods(
    node_cluster: NodeCluster, node_api: Any, node_namespace: str
) -> None:
    create_hsvc(node_api, node_namespace, sample_service("web"))
    hsvc = wait_ready(node_api, node_namespace, "web")

    deployment = apps_api(node_api).read_namespaced_deployment("web", node_namespace)
    assert deployment.status.ready_replicas == 1  # counted by the Deployment controller
    assert condition(hsvc, "Ready")["reason"] == "ReplicasReady"
    claims = core_api(node_api).list_namespaced_persistent_volume_claim(node_namespace)
    assert sorted(c.status.phase for c in claims.items) == ["Bound"] * 4
    pod = pods_of(node_api, node_namespace, "web")[0]
    assert pod.spec.node_name == "hardened-dev-node"
    assert pod.spec.service_account_name == "default"  # made by the ServiceAccount controller


def test_inside_the_container_the_process_is_1000_without_privileges(
    node_cluster: NodeCluster, node_api: Any, node_namespace: str
) -> None:
    create_hsvc(node_api, node_namespace, sample_service("inside"))
    pod = running_pod(node_api, node_namespace, "inside")

    ids = node_cluster.exec(node_namespace, pod, "id -u; id -g; id -G")
    assert ids.returncode == 0, ids.stderr
    uid, gid, groups = ids.stdout.split("\n")[:3]
    assert (uid, gid) == ("1000", "1000")
    assert "1000" in groups.split()
    assert "0" not in groups.split()

    status = node_cluster.exec(node_namespace, pod, "cat /proc/self/status").stdout
    assert _status_field(status, "CapEff") == "0000000000000000"
    assert _status_field(status, "CapPrm") == "0000000000000000"
    assert _status_field(status, "NoNewPrivs") == "1"
    assert _status_field(status, "Seccomp") == "2"  # filter mode: RuntimeDefault applied


def test_only_tmp_and_the_app_volumes_are_writable_and_owned_by_group_1000(
    node_cluster: NodeCluster, node_api: Any, node_namespace: str
) -> None:
    create_hsvc(node_api, node_namespace, sample_service("files"))
    pod = running_pod(node_api, node_namespace, "files")

    root = node_cluster.exec(node_namespace, pod, "touch /probe")
    assert root.returncode != 0
    assert "Read-only file system" in root.stderr
    etc = node_cluster.exec(node_namespace, pod, "echo x >> /etc/passwd")
    assert etc.returncode != 0

    for directory in ("/tmp", "/app/logs", "/app/data", "/app/models", "/app/cache"):
        wrote = node_cluster.exec(
            node_namespace, pod, f"echo hello > {directory}/f && stat -c '%u %g' {directory}/f"
        )
        assert wrote.returncode == 0, f"{directory}: {wrote.stderr}"
        assert wrote.stdout.split() == ["1000", "1000"], directory
    for volume in ("logs", "data", "models", "cache"):
        # fsGroup at work: the kubelet gave the (root-owned, 0755) volume directory to group
        # 1000 with the setgid bit, which is why UID 1000 could write there at all.
        mode = node_cluster.exec(node_namespace, pod, f"stat -c '%u %g %A' /app/{volume}")
        owner, group, permissions = mode.stdout.split()
        assert (owner, group) == ("0", "1000"), volume
        # drwxrwsr-x: group-writable (index 5) and setgid (index 6), so new files get group 1000
        assert permissions[5] == "w" and permissions[6] in "sS", (volume, permissions)
        assert permissions[8] != "w", (volume, permissions)  # nothing world-writable


def test_a_failing_readiness_endpoint_keeps_the_service_not_ready(
    node_cluster: NodeCluster, node_api: Any, node_namespace: str
) -> None:
    create_hsvc(node_api, node_namespace, sample_service("unready", env={"READY_FAIL": "1"}))

    def running() -> Any:
        pods = pods_of(node_api, node_namespace, "unready")
        return pods[0] if pods and pods[0].status.phase == "Running" else None

    pod = wait_for(running, 120, "the pod to run")
    wait_for(
        lambda: (
            condition(read_hsvc(node_api, node_namespace, "unready"), "Ready").get("status")
            == "False"
        ),
        30,
        "Ready=False",
    )
    # Several readiness periods later it is still not ready, and was never restarted:
    # readiness takes a pod out of rotation, it does not kill it.
    import time

    time.sleep(6)
    current = core_api(node_api).read_namespaced_pod(pod.metadata.name, node_namespace)
    status = current.status.container_statuses[0]
    assert status.ready is False
    assert status.restart_count == 0
    hsvc = read_hsvc(node_api, node_namespace, "unready")
    assert condition(hsvc, "Ready")["status"] == "False"


def test_a_failing_liveness_endpoint_restarts_the_container(
    node_cluster: NodeCluster, node_api: Any, node_namespace: str
) -> None:
    create_hsvc(node_api, node_namespace, sample_service("sick"))
    pod = running_pod(node_api, node_namespace, "sick")
    # /tmp is an emptyDir: the flag outlives the restart, so it keeps failing.
    assert node_cluster.exec(node_namespace, pod, "touch /tmp/unhealthy").returncode == 0

    def restarted() -> int:
        current = core_api(node_api).read_namespaced_pod(pod, node_namespace)
        return int(current.status.container_statuses[0].restart_count or 0)

    assert wait_for(restarted, 60, "the kubelet to restart the container") >= 1


def test_the_startup_probe_holds_liveness_off_during_a_slow_start(
    node_cluster: NodeCluster, node_api: Any, node_namespace: str
) -> None:
    # The app listens only after 8 s. Liveness alone (2 s x 2) would kill it twice over;
    # the startup probe (1 s x 30) covers the start, so it comes up without a restart.
    create_hsvc(
        node_api, node_namespace, sample_service("slow", env={"STARTUP_DELAY_SECONDS": "8"})
    )
    pod = running_pod(node_api, node_namespace, "slow")
    current = core_api(node_api).read_namespaced_pod(pod, node_namespace)
    assert current.status.container_statuses[0].restart_count == 0


def test_without_a_startup_probe_the_same_slow_start_is_killed(
    node_cluster: NodeCluster, node_api: Any, node_namespace: str
) -> None:
    # The control for the test above: same app, same liveness, a startup probe that gives up
    # at once. The kubelet restarts the container, so the startup probe is what saved it.
    probes = {
        "startup": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 1,
                    "failureThreshold": 1},
        "liveness": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 2,
                     "failureThreshold": 2},
    }  # fmt: skip
    create_hsvc(
        node_api,
        node_namespace,
        sample_service("killed", env={"STARTUP_DELAY_SECONDS": "8"}, probes=probes),
    )

    def restarted() -> int:
        pods = pods_of(node_api, node_namespace, "killed")
        statuses = (pods[0].status.container_statuses or []) if pods else []
        return int(statuses[0].restart_count or 0) if statuses else 0

    assert wait_for(restarted, 60, "a restart of the slow container") >= 1
