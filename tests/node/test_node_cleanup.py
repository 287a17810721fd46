"""`hardened dev down` leaves nothing of a node behind: no process, mount, cgroup, bridge,
iptables rule, ipset or sysctl change -- after a clean stop and after the starter was killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from hardened_operator.dev import netpol, node
from tests.node.node_support import wait_for

pytestmark = pytest.mark.node

HARDENED = [sys.executable, "-m", "hardened_operator.cli"]


def _iptables() -> str:
    """Every chain and rule of iptables and ip6tables, without the counters."""
    lines = []
    for save in ("iptables-save", "ip6tables-save"):
        result = subprocess.run([save], capture_output=True, text=True, check=False)
        for line in result.stdout.splitlines():
            if line.startswith("#"):
                continue
            # ":CHAIN POLICY [packets:bytes]": traffic moves the counters, not the chain.
            lines.append(" ".join(line.split()[:2]) if line.startswith(":") else line)
    return "\n".join(lines)


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline:
            found.append(f"{entry.name}: {cmdline[:200]}")
    return found


def _ip_forward() -> str:
    return Path("/proc/sys/net/ipv4/ip_forward").read_text().strip()


def _bridge_nf_call_iptables() -> str:
    return Path("/proc/sys/net/bridge/bridge-nf-call-iptables").read_text().strip()


def _ipsets() -> list[str]:
    result = subprocess.run(["ipset", "list", "-n"], capture_output=True, text=True, check=False)
    return sorted(result.stdout.split())


def _run_pod(kubeconfig: Path, name: str) -> None:
    from hardened_operator.k8s import bootstrap
    from tests.node.node_support import compliant_pod, core_api

    api = bootstrap.api_client(kubeconfig)
    core = core_api(api)
    core.create_namespaced_pod("default", compliant_pod(name))
    wait_for(
        lambda: core.read_namespaced_pod(name, "default").status.phase == "Running",
        120,
        f"pod {name} running",
    )
    api.close()


def _isolate(kubeconfig: Path, pod: str) -> None:
    """A NetworkPolicy over ``pod``, and wait for the enforcer's chains and ipsets for it."""
    from kubernetes import client

    from hardened_operator.k8s import bootstrap

    api = bootstrap.api_client(kubeconfig)
    policy: Any = {  # a plain dict: the client's annotation names only its model
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": f"isolate-{pod}"},
        "spec": {
            "podSelector": {"matchLabels": {"isolated": pod}},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "client"}}}]}],
        },
    }
    patch = {"metadata": {"labels": {"isolated": pod}}}
    core = client.CoreV1Api(api)
    core.patch_namespaced_pod(pod, "default", patch)
    client.NetworkingV1Api(api).create_namespaced_network_policy("default", policy)
    wait_for(lambda: netpol.leftover_ipsets(node.RUN_ROOT), 60, f"kube-router's ipsets for {pod}")
    api.close()


def test_down_leaves_nothing_behind(tmp_path: Path) -> None:
    directory = tmp_path / "plane"
    rules_before, forward_before = _iptables(), _ip_forward()
    ipsets_before, bridge_nf_before = _ipsets(), _bridge_nf_call_iptables()
    up = subprocess.run(
        [*HARDENED, "dev", "up", "--node", "--no-operator", "--dir", str(directory)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    try:
        assert up.returncode == 0, up.stderr
        _run_pod(directory / "kubeconfig", "cleanup-probe")
        _isolate(directory / "kubeconfig", "cleanup-probe")
        running = node.leftovers(directory)
        assert any(item.startswith("shim pid") for item in running), running  # the test bites
        assert any(item.startswith("mount ") for item in running), running
        assert f"bridge {node.BRIDGE}" in running
        assert "iptables chain iptables:filter:KUBE-ROUTER-FORWARD" in running, running
        assert any(item.startswith("ipset KUBE-") for item in running), running
        assert _processes_mentioning(f"{directory}/node/kube-router.kubeconfig")
    finally:
        down = subprocess.run(
            [*HARDENED, "dev", "down", "--dir", str(directory)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert down.returncode == 0, down.stderr
    said = down.stdout + down.stderr
    assert "killed" in said and "deleted bridge" in said, said
    assert node.leftovers(directory) == []
    assert _processes_mentioning(str(directory)) == []
    assert _processes_mentioning(str(node.CONTAINERD_SOCKET)) == []
    assert _iptables() == rules_before
    assert _ipsets() == ipsets_before
    assert _ip_forward() == forward_before
    assert _bridge_nf_call_iptables() == bridge_nf_before
    assert not node.OWNER_FILE.exists()


@pytest.mark.parametrize("recovery", ["down", "next up"])
def test_what_a_killed_starter_left_is_cleaned_by_down_or_by_the_next_up(
    tmp_path: Path, recovery: str
) -> None:
    # The starter ties every process to itself (as the test suite does); SIGKILL takes the
    # kubelet and containerd with it, but the shims and containers they made outlive them.
    directory = tmp_path / "killed"
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        sys.path.insert(0, {str(Path(__file__).parents[2])!r})  # the repository: tests is a package
        from hardened_operator.dev import plane
        from tests.node.test_node_cleanup import _isolate, _run_pod
        started = plane.start(plane.Options(directory=Path({str(directory)!r}), operator=False,
                                            tie_to_parent=True, node=True))
        _run_pod(started.kubeconfig, "orphan")
        _isolate(started.kubeconfig, "orphan")
        print("ready", flush=True)
        time.sleep(600)
        """
    )
    starter = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert starter.stdout is not None
        line = starter.stdout.readline()
        assert line.strip() == "ready", starter.stderr.read() if starter.stderr else ""
    finally:
        starter.send_signal(signal.SIGKILL)
        starter.wait()
    time.sleep(2)  # PR_SET_PDEATHSIG delivers the kernel's SIGKILL to each child
    orphans = node.leftovers(directory)
    assert any(item.startswith("shim pid") for item in orphans), orphans
    assert any(item.startswith("cgroup task") for item in orphans), orphans
    # kube-router died with the starter and cleans nothing itself: its rules stay until down.
    assert any(item.startswith("ipset KUBE-") for item in orphans), orphans
    assert "iptables chain iptables:filter:KUBE-ROUTER-FORWARD" in orphans, orphans

    if recovery == "down":
        down = _hardened("dev", "down", "--dir", str(directory))
        assert down.returncode == 0, down.stderr
    else:
        other = tmp_path / "next"
        up = _hardened("dev", "up", "--node", "--no-operator", "--dir", str(other))
        try:
            assert up.returncode == 0, up.stderr
            assert f"cleaning up the node left behind by {directory}" in up.stderr
            assert "killed 1 containerd shim(s)" in up.stdout + up.stderr
            assert _processes_mentioning(str(directory)) == []
        finally:
            down = _hardened("dev", "down", "--dir", str(other))
        assert down.returncode == 0, down.stderr
    assert node.leftovers(directory) == []
    assert _processes_mentioning(str(node.CONTAINERD_SOCKET)) == []


def _hardened(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*HARDENED, *args], capture_output=True, text=True, timeout=300, check=False
    )
