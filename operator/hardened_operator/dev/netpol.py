"""The dev node's NetworkPolicy enforcer: kube-router's network policy controller, alone.

The node's pod network (Debian's CNI bridge with host-local addresses) gives pods addresses
and nothing else: a NetworkPolicy object would be stored and never enforced, so the one the
operator builds for ``spec.networkPolicy`` could not be tested. kube-router with only its
firewall (``--run-firewall``; no routing: there is one node, no service proxy: kube-proxy does
that) watches NetworkPolicies, Pods and Namespaces and enforces them with iptables and ipset on
the bridged traffic (``br_netfilter`` hands it to iptables' FORWARD chain).

Why not sigs.k8s.io/kube-network-policies, the SIG Network reference: it sends packets to
userspace with nftables' ``queue`` statement, which needs ``CONFIG_NFT_QUEUE``, and kernels
without it (this project's CI VM) refuse that rule.

What it leaves behind when it stops (it cleans nothing itself): filter chains
``KUBE-ROUTER-INPUT/FORWARD/OUTPUT``, ``KUBE-NWPLCY-*`` and ``KUBE-POD-FW-*`` with jumps from
INPUT, FORWARD and OUTPUT -- removed by :func:`hardened_operator.dev.node.cleanup` with every
other new ``KUBE-*`` chain -- and ipsets ``KUBE-SRC-*``/``KUBE-DST-*`` (``TMP-*`` while it
swaps one), which only :func:`remove_ipsets` removes, after the chains that use them.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hardened_operator.errors import ControlPlaneError

NAME = "kube-router"
"""The process's name in the plane's records (``dev status``) and of its log in ``DIR``."""
USER = "hardened-dev:network-policy-enforcer"
"""The client certificate's common name: the user the ClusterRoleBinding names."""
ROLE = "hardened-dev:network-policy-enforcer"

_FORWARD_CHAIN = "KUBE-ROUTER-FORWARD"
_IPSET_PREFIXES = ("KUBE-SRC-", "KUBE-DST-", "TMP-", "inet6:KUBE-")
_BRIDGE_NF = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")

Log = Callable[[str], None]


def command(binary: Path, kubeconfig: Path, node_name: str, service_cidr: str) -> list[str]:
    """kube-router as a NetworkPolicy enforcer only, listening on no port."""
    return [
        str(binary),
        f"--kubeconfig={kubeconfig}",
        f"--hostname-override={node_name}",
        "--run-firewall=true",
        "--run-router=false",
        "--run-service-proxy=false",
        # Its health server binds every address; `dev up` checks its chains instead.
        "--health-port=0",
        "--metrics-port=0",
        f"--service-cluster-ip-range={service_cidr}",
        "--enable-ipv4=true",
        "--enable-ipv6=false",
    ]


def rbac() -> tuple[dict[str, Any], dict[str, Any]]:
    """The ClusterRole and ClusterRoleBinding :data:`USER` needs: read-only.

    The firewall reads Pods, Namespaces, NetworkPolicies and its Node; kube-router starts
    informers for Services, Endpoints and EndpointSlices too, whatever runs, and exits when
    they cannot sync.
    """
    verbs = ["get", "list", "watch"]
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": ROLE},
        "rules": [
            {
                "apiGroups": [""],
                "resources": ["pods", "namespaces", "nodes", "services", "endpoints"],
                "verbs": verbs,
            },
            {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": verbs},
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": verbs},
        ],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": ROLE},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": ROLE},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": USER}],
    }
    return role, binding


# ---- the host ----------------------------------------------------------------------------


def check_host(run_root: Path) -> None:
    """Fail before starting anything when policies could not be enforced here.

    Bridged pod-to-pod packets reach iptables only through ``br_netfilter`` with
    ``net.bridge.bridge-nf-call-iptables=1``; without it every policy would silently allow
    everything. The setting is turned on if off and put back by :func:`restore_host`.
    """
    if shutil.which("ipset") is None:
        raise ControlPlaneError(
            "the node's NetworkPolicy enforcer (kube-router) needs the `ipset` command: "
            "apt-get install ipset (scripts/setup.sh does it as root)"
        )
    if not _BRIDGE_NF.exists():
        raise ControlPlaneError(
            f"{_BRIDGE_NF} is missing (no br_netfilter): bridged pod traffic would bypass "
            "iptables and no NetworkPolicy would be enforced; run `modprobe br_netfilter`"
        )
    saved = run_root / "bridge-nf-call-iptables.before"
    current = _BRIDGE_NF.read_text().strip()
    if not saved.exists():
        saved.write_text(current + "\n")
    if current != "1":
        _BRIDGE_NF.write_text("1\n")


def restore_host(run_root: Path, done: list[str]) -> None:
    saved = run_root / "bridge-nf-call-iptables.before"
    with contextlib.suppress(OSError):
        before = saved.read_text().strip()
        if _BRIDGE_NF.read_text().strip() != before:
            _BRIDGE_NF.write_text(before + "\n")
            done.append(f"net.bridge.bridge-nf-call-iptables back to {before}")
        saved.unlink()


def remember_ipsets(run_root: Path) -> None:
    """Record the machine's ipsets: only sets that were not there before are ours."""
    saved = run_root / "ipsets.before"
    if not saved.exists():
        saved.write_text("".join(f"{name}\n" for name in _ipsets()))


# ---- running -----------------------------------------------------------------------------


def wait_enforcing(timeout: float, still_running: Callable[[], bool], log_file: Path) -> None:
    """Until kube-router has written its chains and the FORWARD jump: policies apply from now.

    kube-router writes them in its first full sync, after its informers have synced and it
    has read its Node; before that a policy would not be enforced yet.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_enforcing():
            return
        if not still_running():
            raise ControlPlaneError(
                f"{NAME} exited before enforcing NetworkPolicies:\n{_tail(log_file)}"
            )
        time.sleep(0.2)
    raise ControlPlaneError(
        f"{NAME} wrote no {_FORWARD_CHAIN} chain within {timeout:.0f}s:\n{_tail(log_file)}"
    )


def is_enforcing() -> bool:
    dump = subprocess.run(
        ["iptables-save", "-t", "filter"], capture_output=True, text=True, check=False
    ).stdout
    jump = any(
        line.startswith("-A FORWARD ") and line.endswith(f"-j {_FORWARD_CHAIN}")
        for line in dump.splitlines()
    )
    return f":{_FORWARD_CHAIN} " in dump and jump


def _tail(log_file: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log_file.read_text(errors="replace").splitlines()[-lines:])
    except OSError as error:
        return f"(no log: {error})"


# ---- cleaning up -------------------------------------------------------------------------


def _ipsets() -> list[str]:
    if shutil.which("ipset") is None:
        return []
    result = subprocess.run(["ipset", "list", "-n"], capture_output=True, text=True, check=False)
    return result.stdout.split()


def leftover_ipsets(run_root: Path) -> list[str]:
    """kube-router's ipsets that were not on the machine before the node started."""
    saved = run_root / "ipsets.before"
    if not saved.exists():
        # No record: no node of ours ran since the last clean `down` (which deletes it), so
        # no set is ours - never destroy a real kube-router's sets on this machine.
        return []
    before = set(saved.read_text().split())
    return [name for name in _ipsets() if name.startswith(_IPSET_PREFIXES) and name not in before]


def remove_ipsets(run_root: Path) -> int:
    """Destroy :func:`leftover_ipsets` (the chains using them must be gone already)."""
    ours = leftover_ipsets(run_root)
    for name in ours:
        subprocess.run(["ipset", "destroy", name], capture_output=True, check=False)
    remaining = leftover_ipsets(run_root)
    if not remaining:
        with contextlib.suppress(OSError):
            (run_root / "ipsets.before").unlink()
    return len(ours) - len(remaining)
