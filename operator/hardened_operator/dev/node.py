"""A real single node beside the local control plane: pods actually run.

``hardened dev up --node`` adds to etcd + kube-apiserver:

- kube-controller-manager and kube-scheduler (Deployments, garbage collection, ServiceAccounts,
  quotas, volume binding);
- containerd 2.x with runc (built from Go modules, :mod:`~hardened_operator.dev.node_assets`)
  and the kubelet, on cgroup v1 with the cgroupfs driver under their own cgroup root;
- pod networking from Debian's CNI plugins (a bridge with host-local addresses, no NAT); the
  API server reaches pods (webhook Services) by endpoint routing, the kubelet by 127.0.0.1;
  kube-proxy (iptables) for Services;
- kube-router's network policy controller alone (:mod:`~hardened_operator.dev.netpol`), which
  enforces NetworkPolicies on the bridge -- the CNI plugins do not;
- a ``local``-volume dynamic provisioner (:mod:`~hardened_operator.dev.provisioner`), so
  claims bind and the kubelet applies fsGroup to them;
- the test images imported into containerd (:mod:`~hardened_operator.dev.images`);
- ``nvidia.com/gpu`` advertised on the node, as a device plugin would.

The bridge, the cgroup root and containerd's socket are machine-wide names, so one node runs
per machine; ``/run/hardened-dev/owner`` says whose it is. :func:`cleanup` takes everything
down again -- processes (the shims and containers that outlive containerd included), mounts,
cgroups, the bridge, iptables chains and ipsets, the sysctls it changed -- and is safe to run
any number of times.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hardened_operator import certs
from hardened_operator.dev import images, netpol, node_assets
from hardened_operator.errors import ControlPlaneError

NODE_NAME = "hardened-dev-node"
POD_SUBNET = "10.244.0.0/24"
NODE_IP = "10.244.0.1"
"""The bridge's own address: the node's InternalIP, where the kubelet serves and where pods
reach the host. (The kubelet refuses a loopback node IP, and the API server finds the kubelet
for ``kubectl exec``/``logs`` by that InternalIP.)"""
BRIDGE = "hdev0"
CGROUP_ROOT = "hardened-dev"
RUN_ROOT = Path("/run/hardened-dev")
CONTAINERD_STATE = RUN_ROOT / "containerd"
CONTAINERD_SOCKET = CONTAINERD_STATE / "containerd.sock"
OWNER_FILE = RUN_ROOT / "owner"
KUBELET_ROOT = Path("/var/lib/hardened-dev/kubelet")
"""The kubelet's --root-dir: short and fixed, because the kubelet puts unix sockets in it
(108-byte limit) -- a test's temporary directory is too long a path."""
KUBERNETES_SERVICE_IP = "10.96.0.1"  # the first address of dev/plane.py's SERVICE_CIDR
GPU_RESOURCE = "nvidia.com/gpu"
GPU_COUNT = 2
"""GPUs the node advertises: enough for the samples, few enough that asking for more fails."""

_CGROUP_FS = Path("/sys/fs/cgroup")
_IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")

Log = Callable[[str], None]


@dataclass(frozen=True)
class NodePki:
    """Client certificates of the node's components, and the kubelet's serving certificate."""

    client_cas: list[Path]  # for the API server's --client-ca-file bundle
    kubelet_client: tuple[Path, Path]
    controller_manager_client: tuple[Path, Path]
    scheduler_client: tuple[Path, Path]
    proxy_client: tuple[Path, Path]
    network_policy_client: tuple[Path, Path]  # kube-router, the NetworkPolicy enforcer
    apiserver_kubelet_client: tuple[Path, Path]  # the API server, calling the kubelet
    apiserver_kubelet_client_ca: Path  # the kubelet trusts only this for x509 clients
    kubelet_serving_ca: Path
    kubelet_serving: tuple[Path, Path]


def write_pki(directory: Path) -> NodePki:
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)

    def client(name: str, common_name: str, groups: list[str]) -> tuple[Path, Path, Path]:
        return certs.generate_client(common_name, groups).write(directory / name)

    kubelet_ca, kubelet_cert, kubelet_key = client(
        "kubelet", f"system:node:{NODE_NAME}", ["system:nodes"]
    )
    kcm_ca, kcm_cert, kcm_key = client("controller-manager", "system:kube-controller-manager", [])
    sched_ca, sched_cert, sched_key = client("scheduler", "system:kube-scheduler", [])
    proxy_ca, proxy_cert, proxy_key = client("kube-proxy", "system:kube-proxy", [])
    netpol_ca, netpol_cert, netpol_key = client("network-policy", netpol.USER, [])
    api_ca, api_cert, api_key = client(
        "apiserver-kubelet-client", "kube-apiserver-kubelet-client", ["system:masters"]
    )
    serving_ca, serving_cert, serving_key = certs.generate(
        [NODE_IP, NODE_NAME, "localhost"], common_name="hardened-dev-kubelet"
    ).write(directory / "kubelet-serving")
    return NodePki(
        client_cas=[kubelet_ca, kcm_ca, sched_ca, proxy_ca, netpol_ca],
        kubelet_client=(kubelet_cert, kubelet_key),
        controller_manager_client=(kcm_cert, kcm_key),
        scheduler_client=(sched_cert, sched_key),
        proxy_client=(proxy_cert, proxy_key),
        network_policy_client=(netpol_cert, netpol_key),
        apiserver_kubelet_client=(api_cert, api_key),
        apiserver_kubelet_client_ca=api_ca,
        kubelet_serving_ca=serving_ca,
        kubelet_serving=(serving_cert, serving_key),
    )


def apiserver_hosts() -> list[str]:
    """Names the API server's certificate must carry for pods: the `kubernetes` Service."""
    return [
        NODE_IP,
        KUBERNETES_SERVICE_IP,
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
    ]


def apiserver_address_flags() -> list[str]:
    """Pods reach the API server at the `kubernetes` Service: kube-proxy sends 10.96.0.1 to
    the node's address, which the API server advertises (and listens on, with loopback)."""
    return ["--bind-address=0.0.0.0", f"--advertise-address={NODE_IP}"]


def apiserver_flags(pki: NodePki) -> list[str]:
    """What the API server needs to call the kubelet (logs, exec) and to reach pods."""
    cert, key = pki.apiserver_kubelet_client
    return [
        f"--kubelet-client-certificate={cert}",
        f"--kubelet-client-key={key}",
        f"--kubelet-certificate-authority={pki.kubelet_serving_ca}",
        "--kubelet-preferred-address-types=InternalIP",
        # Webhook Services are called at a ready endpoint's pod IP: no kube-proxy needed.
        "--enable-aggregator-routing=true",
    ]


# ---- ownership: one node per machine ---------------------------------------------------


def claim_machine(directory: Path, is_alive: Callable[[Path], bool], log: Log) -> None:
    """Record ``directory`` as the node's owner; clean up after a dead previous owner.

    Raises ControlPlaneError when another live plane already runs the node.
    """
    RUN_ROOT.mkdir(parents=True, exist_ok=True)
    if OWNER_FILE.exists():
        previous = Path(OWNER_FILE.read_text().strip())
        if previous != directory and is_alive(previous):
            raise ControlPlaneError(
                f"a local node already runs for {previous} (one per machine: its bridge "
                f"{BRIDGE}, cgroup /{CGROUP_ROOT} and {CONTAINERD_SOCKET} are shared names); "
                f"run `hardened dev down --dir {previous}` first"
            )
        log(f"cleaning up the node left behind by {previous}")
        cleanup(previous, log)
    OWNER_FILE.write_text(f"{directory}\n")
    _remember_ip_forward()
    _remember_kube_chains()
    netpol.remember_ipsets(RUN_ROOT)


# ---- configuration files ---------------------------------------------------------------


def _kubeconfig(path: Path, server: str, ca: Path, cert: Path, key: Path, user: str) -> Path:
    cluster = {"server": server, "certificate-authority": str(ca)}
    credentials = {"client-certificate": str(cert), "client-key": str(key)}
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "local", "cluster": cluster}],
        "users": [{"name": user, "user": credentials}],
        "contexts": [{"name": "local", "context": {"cluster": "local", "user": user}}],
        "current-context": "local",
    }
    path.touch(mode=0o600)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def containerd_config(directory: Path, assets: node_assets.NodeAssets) -> str:
    """containerd's configuration (version 3, containerd 2.x)."""
    runc = assets.path("runc")
    return f"""\
version = 3
root = "{directory / "containerd"}"
state = "{CONTAINERD_STATE}"

[grpc]
  address = "{CONTAINERD_SOCKET}"

[plugins]
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = '{images.SANDBOX_IMAGE}'

  [plugins.'io.containerd.cri.v1.runtime']
    enable_selinux = false
    # This VM lacks CAP_SYS_RESOURCE: never ask for an oom_score_adj below our own.
    restrict_oom_score_adj = true
    # Network namespaces under the state directory: `dev down` finds every one of them.
    netns_mounts_under_state_dir = true
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = 'runc'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
        runtime_type = 'io.containerd.runc.v2'
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
          BinaryName = '{runc}'
          Root = '{CONTAINERD_STATE / "runc"}'
          SystemdCgroup = false
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = ['/usr/lib/cni']
      conf_dir = '{directory / "cni"}'
      max_conf_num = 1

  [plugins.'io.containerd.grpc.v1.cri']
    disable_tcp_service = true
    stream_server_address = '127.0.0.1'
    stream_server_port = '0'
"""


def cni_config(directory: Path) -> dict[str, Any]:
    """A bridge with host-local addresses; no masquerading, so no iptables rules."""
    return {
        "cniVersion": "1.0.0",
        "name": "hardened-dev",
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE,
                "isGateway": True,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": POD_SUBNET}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(directory / "cni-ipam"),
                },
            }
        ],
    }


def kubelet_config(directory: Path, pki: NodePki, port: int, healthz_port: int) -> dict[str, Any]:
    cert, key = pki.kubelet_serving
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": NODE_IP,
        "port": port,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": healthz_port,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(pki.apiserver_kubelet_client_ca)},
        },
        "authorization": {"mode": "Webhook"},
        "tlsCertFile": str(cert),
        "tlsPrivateKeyFile": str(key),
        "rotateCertificates": False,
        "serverTLSBootstrap": False,
        # This machine has cgroup v1: Kubernetes 1.35+ refuses it unless told otherwise.
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": f"/{CGROUP_ROOT}",
        "failSwapOn": False,
        "containerRuntimeEndpoint": f"unix://{CONTAINERD_SOCKET}",
        "podLogsDir": str(directory / "pod-logs"),
        "volumePluginDir": str(directory / "volume-plugins"),
        "resolvConf": "/etc/resolv.conf",
        # A shared development machine's disk is not ours to guard: evict only when truly
        # full, and never garbage-collect the imported test images (there is no registry).
        "evictionHard": {
            "memory.available": "100Mi",
            "nodefs.available": "1%",
            "imagefs.available": "1%",
            "nodefs.inodesFree": "1%",
        },
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "maxPods": 110,
        "serializeImagePulls": False,
    }


# ---- starting ------------------------------------------------------------------------


@dataclass(frozen=True)
class Commands:
    """The node's processes, in start order: (name, argv, extra environment)."""

    items: list[tuple[str, list[str], dict[str, str]]]


def prepare(
    directory: Path,
    server: str,
    serving_ca: Path,
    signing_key: Path,
    pki: NodePki,
    assets: node_assets.NodeAssets,
    ports: dict[str, int],
) -> Commands:
    """Write every configuration file; return the commands that start the node."""
    node_dir = directory / "node"
    _unmount_under([KUBELET_ROOT, directory.resolve() / "node"])
    if _mounts_under([KUBELET_ROOT, directory.resolve() / "node"]):
        # Removing a tree with a volume still mounted in it would delete the volume's data.
        raise ControlPlaneError(f"cannot unmount what a previous node left in {KUBELET_ROOT}")
    for stale in (node_dir / "containerd", node_dir / "cni-ipam", node_dir / "pod-logs"):
        shutil.rmtree(stale, ignore_errors=True)  # runtime state never survives a restart
    shutil.rmtree(KUBELET_ROOT, ignore_errors=True)
    for sub in ("cni", "volumes", "volume-plugins", "pod-logs"):
        (node_dir / sub).mkdir(parents=True, exist_ok=True)
    KUBELET_ROOT.mkdir(parents=True, exist_ok=True)
    CONTAINERD_STATE.mkdir(parents=True, exist_ok=True)
    netpol.check_host(RUN_ROOT)
    _make_cgroup_root()
    _make_bridge()

    config = node_dir / "containerd.toml"
    config.write_text(containerd_config(node_dir, assets))
    (node_dir / "cni" / "10-hardened-dev.conflist").write_text(
        json.dumps(cni_config(node_dir), indent=2) + "\n"
    )
    kubelet_yaml = node_dir / "kubelet.yaml"
    kubelet_yaml.write_text(
        yaml.safe_dump(
            kubelet_config(node_dir, pki, ports["kubelet"], ports["kubelet_healthz"]),
            sort_keys=False,
        )
    )
    kubelet_kubeconfig = _kubeconfig(
        node_dir / "kubelet.kubeconfig", server, serving_ca, *pki.kubelet_client,
        f"system:node:{NODE_NAME}",
    )  # fmt: skip
    kcm_kubeconfig = _kubeconfig(
        node_dir / "controller-manager.kubeconfig", server, serving_ca,
        *pki.controller_manager_client, "system:kube-controller-manager",
    )  # fmt: skip
    scheduler_kubeconfig = _kubeconfig(
        node_dir / "scheduler.kubeconfig", server, serving_ca, *pki.scheduler_client,
        "system:kube-scheduler",
    )  # fmt: skip
    proxy_kubeconfig = _kubeconfig(
        node_dir / "kube-proxy.kubeconfig", server, serving_ca, *pki.proxy_client,
        "system:kube-proxy",
    )  # fmt: skip
    proxy_yaml = node_dir / "kube-proxy.yaml"
    proxy_yaml.write_text(
        yaml.safe_dump(kube_proxy_config(proxy_kubeconfig, ports), sort_keys=False)
    )
    path_env = {"PATH": f"{assets.directory}:/usr/sbin:/usr/bin:/sbin:/bin"}
    return Commands(
        [
            (
                "kube-controller-manager",
                [
                    str(assets.path("kube-controller-manager")),
                    f"--kubeconfig={kcm_kubeconfig}",
                    f"--authentication-kubeconfig={kcm_kubeconfig}",
                    f"--authorization-kubeconfig={kcm_kubeconfig}",
                    "--bind-address=127.0.0.1",
                    f"--secure-port={ports['controller_manager']}",
                    f"--cert-dir={node_dir / 'controller-manager-certs'}",
                    "--leader-elect=false",
                    "--use-service-account-credentials=true",
                    f"--service-account-private-key-file={signing_key}",
                    # Published as kube-root-ca.crt in every namespace (projected tokens need it).
                    f"--root-ca-file={serving_ca}",
                    "--cluster-name=hardened-dev",
                    # Node lifecycle: a kubelet killed with the plane is not waited on for long.
                    "--node-monitor-grace-period=20s",
                    # Dev only (docs/dev.md): an HPA scales down after two low samples (20 s
                    # window, 15 s syncs), not 5 min, so a test sees it. spec.behavior overrides.
                    "--horizontal-pod-autoscaler-downscale-stabilization=20s",
                ],
                {},
            ),
            (
                "kube-scheduler",
                [
                    str(assets.path("kube-scheduler")),
                    f"--kubeconfig={scheduler_kubeconfig}",
                    f"--authentication-kubeconfig={scheduler_kubeconfig}",
                    f"--authorization-kubeconfig={scheduler_kubeconfig}",
                    "--bind-address=127.0.0.1",
                    f"--secure-port={ports['scheduler']}",
                    f"--cert-dir={node_dir / 'scheduler-certs'}",
                    "--leader-elect=false",
                ],
                {},
            ),
            (
                "containerd",
                [str(assets.path("containerd")), f"--config={config}", "--log-level=warn"],
                path_env,
            ),
            (
                "kubelet",
                [
                    str(assets.path("kubelet")),
                    f"--config={kubelet_yaml}",
                    f"--kubeconfig={kubelet_kubeconfig}",
                    f"--root-dir={KUBELET_ROOT}",
                    f"--cert-dir={node_dir / 'kubelet-certs'}",
                    f"--hostname-override={NODE_NAME}",
                    f"--node-ip={NODE_IP}",
                    "--v=1",
                ],
                path_env,
            ),
            (
                "kube-proxy",
                [str(assets.path("kube-proxy")), f"--config={proxy_yaml}"],
                path_env,
            ),
        ]
    )


def enforcer_command(
    directory: Path,
    server: str,
    serving_ca: Path,
    pki: NodePki,
    assets: node_assets.NodeAssets,
    service_cidr: str,
) -> tuple[str, list[str], dict[str, str]]:
    """The NetworkPolicy enforcer (kube-router's firewall, :mod:`~hardened_operator.dev.netpol`).

    Started once the node is registered: kube-router reads its Node at start and exits when
    there is none. Its ClusterRole must exist by then (:func:`netpol.rbac`).
    """
    kubeconfig = _kubeconfig(
        directory / "node" / "kube-router.kubeconfig", server, serving_ca,
        *pki.network_policy_client, netpol.USER,
    )  # fmt: skip
    binary = assets.path("kube-router")
    path_env = {"PATH": f"{assets.directory}:/usr/sbin:/usr/bin:/sbin:/bin"}  # iptables, ipset
    return netpol.NAME, netpol.command(binary, kubeconfig, NODE_NAME, service_cidr), path_env


def kube_proxy_config(kubeconfig: Path, ports: dict[str, int]) -> dict[str, Any]:
    """iptables mode, touching no sysctl it can avoid; `dev down` runs its --cleanup."""
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(kubeconfig)},
        "hostnameOverride": NODE_NAME,
        "mode": "iptables",
        "bindAddress": NODE_IP,
        "healthzBindAddress": f"127.0.0.1:{ports['kube_proxy_healthz']}",
        "metricsBindAddress": f"127.0.0.1:{ports['kube_proxy_metrics']}",
        "clusterCIDR": POD_SUBNET,
        # NodePorts on the node's address only, never on loopback (that needs route_localnet).
        "nodePortAddresses": [f"{NODE_IP}/32"],
        "iptables": {"localhostNodePorts": False},
        # Leave the machine's conntrack table sizes and timeouts as they are.
        "conntrack": {
            "maxPerCore": 0,
            "min": 0,
            "tcpEstablishedTimeout": "0s",
            "tcpCloseWaitTimeout": "0s",
        },
    }


def provisioner_command(directory: Path, kubeconfig: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "hardened_operator.dev.provisioner",
        f"--kubeconfig={kubeconfig}",
        f"--root={directory / 'node' / 'volumes'}",
        f"--node={NODE_NAME}",
    ]


def wait_for_socket(path: Path, timeout: float, still_running: Callable[[], bool]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.is_socket():
            return
        if not still_running():
            raise ControlPlaneError(f"containerd exited before creating {path}")
        time.sleep(0.1)
    raise ControlPlaneError(f"containerd did not create {path} within {timeout:.0f}s")


def _make_bridge() -> None:
    """The pods' bridge with the node's address, before the first pod makes it.

    The kubelet binds to NODE_IP, so the address must exist when it starts; the CNI bridge
    plugin adopts an existing bridge that already carries its gateway address.
    """
    if not _link_exists(BRIDGE):
        _ip("link", "add", BRIDGE, "type", "bridge")
    prefix = POD_SUBNET.split("/")[1]
    addresses = subprocess.run(
        ["ip", "-o", "-4", "addr", "show", "dev", BRIDGE], capture_output=True, text=True
    ).stdout
    if f" {NODE_IP}/" not in addresses:
        _ip("addr", "add", f"{NODE_IP}/{prefix}", "dev", BRIDGE)
    _ip("link", "set", BRIDGE, "up")


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ControlPlaneError(f"ip {' '.join(args)}: {result.stderr.strip()}")


def _make_cgroup_root() -> None:
    """The kubelet requires its cgroup root to exist in every hierarchy."""
    for hierarchy in _hierarchies():
        root = hierarchy / CGROUP_ROOT
        root.mkdir(exist_ok=True)
        if (hierarchy / "cpuset.cpus").exists():
            # A new cpuset starts empty; no task may join it until it has CPUs and memory.
            for name in ("cpuset.cpus", "cpuset.mems"):
                if not (root / name).read_text().strip():
                    (root / name).write_text((hierarchy / name).read_text())


def _hierarchies() -> list[Path]:
    if not _CGROUP_FS.is_dir():
        return []
    return [entry for entry in sorted(_CGROUP_FS.iterdir()) if entry.is_dir()]


# ---- cleaning up -----------------------------------------------------------------------


def cleanup(directory: Path, log: Log = print) -> list[str]:
    """Take down whatever a node of ``directory`` left: returns what was done (for logs).

    Safe to call again and again; the recorded processes (kubelet, containerd, ...) must have
    been stopped already -- this handles what outlives them.
    """
    done: list[str] = []
    shims = _shim_pids()
    for pid in shims:
        _kill(pid)
    if shims:
        done.append(f"killed {len(shims)} containerd shim(s)")
    killed = _kill_cgroup_tasks()
    if killed:
        done.append(f"killed {killed} container process(es)")
    unmounted = _unmount_under(_roots(directory))
    if unmounted:
        done.append(f"unmounted {unmounted} mount(s)")
    removed = _remove_cgroups()
    if removed:
        done.append(f"removed {removed} cgroup(s)")
    if _new_kube_chains():
        found = node_assets.find_node_assets()
        if found is not None:
            subprocess.run(
                [str(found.path("kube-proxy")), "--cleanup"], capture_output=True, check=False
            )
        removed_chains = _remove_new_kube_chains()  # what --cleanup does not: kubelet canaries,
        # kube-router's chains
        done.append(
            f"removed the iptables chains of kube-proxy, kube-router and the kubelet "
            f"({removed_chains})"
        )
    removed_sets = netpol.remove_ipsets(RUN_ROOT)  # only now: a set is busy while a rule uses it
    if removed_sets:
        done.append(f"destroyed {removed_sets} ipset(s) of kube-router")
    netpol.restore_host(RUN_ROOT, done)
    if _link_exists(BRIDGE):
        subprocess.run(["ip", "link", "delete", BRIDGE], capture_output=True, check=False)
        done.append(f"deleted bridge {BRIDGE}")
    _restore_ip_forward(done)
    with contextlib.suppress(OSError):
        if OWNER_FILE.exists() and Path(OWNER_FILE.read_text().strip()) == directory:
            OWNER_FILE.unlink()
    shutil.rmtree(CONTAINERD_STATE, ignore_errors=True)
    if not _mounts_under([KUBELET_ROOT]):  # never rmtree through a mount we could not undo
        shutil.rmtree(KUBELET_ROOT.parent, ignore_errors=True)
    for line in done:
        log(line)
    return done


def leftovers(directory: Path) -> list[str]:
    """What of a node is still there (empty when :func:`cleanup` did its job)."""
    found = [f"shim pid {pid}" for pid in _shim_pids()]
    found += [f"cgroup task {pid}" for pid in _cgroup_tasks()]
    found += [f"mount {m}" for m in _mounts_under(_roots(directory))]
    found += [f"cgroup {c}" for c in _cgroup_dirs()]
    if _link_exists(BRIDGE):
        found.append(f"bridge {BRIDGE}")
    found += [f"iptables chain {chain}" for chain in _new_kube_chains()]
    found += [f"ipset {name}" for name in netpol.leftover_ipsets(RUN_ROOT)]
    return found


def _roots(directory: Path) -> list[Path]:
    """Where a node of ``directory`` mounts things."""
    return [directory.resolve() / "node", RUN_ROOT, KUBELET_ROOT]


def _shim_pids() -> list[int]:
    marker = str(CONTAINERD_SOCKET).encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"containerd-shim" in cmdline.split(b"\0", 1)[0] and marker in cmdline:
            pids.append(int(entry.name))
    return pids


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


def _cgroup_dirs() -> list[Path]:
    found = []
    for hierarchy in _hierarchies():
        root = hierarchy / CGROUP_ROOT
        if root.is_dir():
            found += [Path(dirpath) for dirpath, _, _ in os.walk(root)]
    return found


def _cgroup_tasks() -> list[int]:
    pids: set[int] = set()
    for directory in _cgroup_dirs():
        with contextlib.suppress(OSError):
            pids.update(int(p) for p in (directory / "cgroup.procs").read_text().split())
    return sorted(pids)


def _kill_cgroup_tasks(timeout: float = 10.0) -> int:
    killed: set[int] = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tasks = _cgroup_tasks()
        if not tasks:
            break
        for pid in tasks:
            _kill(pid)
            killed.add(pid)
        time.sleep(0.1)
    return len(killed)


def _remove_cgroups(timeout: float = 10.0) -> int:
    removed = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        remaining = _cgroup_dirs()
        if not remaining:
            break
        for directory in sorted(remaining, key=lambda p: len(p.parts), reverse=True):
            with contextlib.suppress(OSError):
                directory.rmdir()
                removed += 1
        time.sleep(0.05)
    return removed


def _mountinfo() -> Iterator[str]:
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        if len(fields) > 4:
            yield fields[4].encode().decode("unicode_escape")  # \040 and friends


def _mounts_under(roots: list[Path]) -> list[str]:
    prefixes = [str(root) for root in roots]
    return [
        point
        for point in _mountinfo()
        if any(point == p or point.startswith(p + "/") for p in prefixes)
    ]


def _unmount_under(roots: list[Path]) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    count = 0
    for _ in range(5):
        points = _mounts_under(roots)
        if not points:
            break
        for point in sorted(points, key=len, reverse=True):
            if libc.umount2(point.encode(), 2) == 0:  # MNT_DETACH
                count += 1
    return count


_IPTABLES = (("iptables-save", "iptables"), ("ip6tables-save", "ip6tables"))
_CHAINS_BEFORE = RUN_ROOT / "iptables-kube-chains.before"


def _kube_chains() -> set[str]:
    """``command:table:chain`` of every KUBE-* chain (kube-proxy's, kube-router's, the
    kubelet's)."""
    chains = set()
    for save, command in _IPTABLES:
        if shutil.which(save) is None:
            continue
        table = ""
        result = subprocess.run([save], capture_output=True, text=True, check=False)
        for line in result.stdout.splitlines():
            if line.startswith("*"):
                table = line[1:]
            elif line.startswith(":KUBE-"):
                chains.add(f"{command}:{table}:{line[1:].split()[0]}")
    return chains


def _remember_kube_chains() -> None:
    # A machine may run Kubernetes itself: only chains that were not there before are ours.
    if not _CHAINS_BEFORE.exists():
        _CHAINS_BEFORE.write_text("\n".join(sorted(_kube_chains())) + "\n")


def _new_kube_chains() -> list[str]:
    before = set(_CHAINS_BEFORE.read_text().split()) if _CHAINS_BEFORE.exists() else set()
    return sorted(_kube_chains() - before)


def _remove_new_kube_chains() -> int:
    ours = _new_kube_chains()
    by_table: dict[tuple[str, str], set[str]] = {}
    for entry in ours:
        command, table, chain = entry.split(":", 2)
        by_table.setdefault((command, table), set()).add(chain)
    for (command, table), chains in by_table.items():
        save = dict((c, s) for s, c in _IPTABLES)[command]
        dump = subprocess.run([save, "-t", table], capture_output=True, text=True).stdout
        for line in dump.splitlines():  # jumps into our chains from chains that stay
            parts = _split_rule(line)
            jumps = parts[:1] == ["-A"] and parts[1] not in chains and "-j" in parts
            if jumps and parts[parts.index("-j") + 1] in chains:
                subprocess.run([command, "-t", table, "-D", *parts[1:]], capture_output=True)
        for chain in chains:
            subprocess.run([command, "-t", table, "-F", chain], capture_output=True)
        for chain in chains:
            subprocess.run([command, "-t", table, "-X", chain], capture_output=True)
    remaining = _new_kube_chains()
    if not remaining:
        with contextlib.suppress(OSError):
            _CHAINS_BEFORE.unlink()
    return len(ours) - len(remaining)


def _split_rule(line: str) -> list[str]:
    """An iptables-save line as arguments: kube-router's jumps carry quoted comments with
    spaces in them, which a plain split would cut into pieces `iptables -D` cannot match."""
    try:
        return shlex.split(line)
    except ValueError:  # unbalanced quotes: not a rule we wrote
        return line.split()


def _link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


_FORWARD_SAVED = RUN_ROOT / "ip_forward.before"


def _remember_ip_forward() -> None:
    # The bridge plugin turns forwarding on (isGateway); we put back what we found.
    if not _FORWARD_SAVED.exists() and _IP_FORWARD.exists():
        _FORWARD_SAVED.write_text(_IP_FORWARD.read_text())


def _restore_ip_forward(done: list[str]) -> None:
    with contextlib.suppress(OSError):
        before = _FORWARD_SAVED.read_text().strip()
        if _IP_FORWARD.read_text().strip() != before:
            _IP_FORWARD.write_text(before + "\n")
            done.append(f"net.ipv4.ip_forward back to {before}")
        _FORWARD_SAVED.unlink()
