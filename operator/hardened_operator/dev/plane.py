"""Start and stop the local control plane: etcd, kube-apiserver, and the operator or webhook.

``start()`` returns a :class:`ControlPlane` once the API answers /readyz, the CRD is
Established, and (unless ``operator=False``) the API server has demonstrably called our
webhook and been told "no" for a root pod. Everything it starts is recorded in
``DIR/state.json`` as soon as it starts, so ``stop_dir(DIR)`` can clean up even after a
crash half-way through ``start()``.
"""

from __future__ import annotations

import base64
import functools
import importlib.util
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hardened_operator import certs
from hardened_operator.dev import assets as assets_module
from hardened_operator.dev import (
    images,
    manifests,
    netpol,
    node,
    node_assets,
    processes,
    provisioner,
)
from hardened_operator.dev.processes import ProcessRecord
from hardened_operator.errors import ApiError, ControlPlaneError
from hardened_operator.k8s import bootstrap, devnode, statuses

STATE_FILE = "state.json"
KUBECONFIG_FILE = "kubeconfig"
ADMIN_USER = "hardened-dev-admin"
ADMIN_GROUPS = ["system:masters"]
LOOPBACK = "127.0.0.1"

Log = Callable[[str], None]


SERVICE_CIDR = "10.96.0.0/16"
"""ClusterIP range of the local plane (documented in docs/dev.md)."""


def _quiet(message: str) -> None:
    """Default log sink: say nothing."""


@dataclass(frozen=True)
class Options:
    """How to start the plane."""

    directory: Path
    operator: bool = True  # False: etcd + kube-apiserver only (tests run their own webhook)
    admission: str = "auto"  # "operator" (`hardened run`), "webhook" (`hardened webhook`), auto
    api_port: int = 0  # 0: pick a free port
    webhook_port: int = 0
    service_account_admission: bool = True
    tie_to_parent: bool = False  # processes die with this one (tests); `dev up`: they outlive it
    crd_required: bool = True  # False: a CRD the API server refuses becomes a note, not a failure
    ready_timeout: float = 90.0
    env: Mapping[str, str] | None = None  # for asset lookup; default os.environ
    node: bool = False  # also a kubelet, containerd, controller-manager, scheduler (dev/node.py)
    node_ready_timeout: float = 180.0


@dataclass
class ControlPlane:
    """A running plane (or the record of one, read back from ``state.json``)."""

    directory: Path
    server: str
    kubeconfig: Path
    records: list[ProcessRecord] = field(default_factory=list)
    ports: dict[str, int] = field(default_factory=dict)
    admission: str = "none"  # "operator", "webhook" or "none"
    notes: list[str] = field(default_factory=list)
    installed_crds: list[str] = field(default_factory=list)
    tie_to_parent: bool = False
    node: bool = False
    popens: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict, repr=False)

    def save(self) -> None:
        state = {
            "server": self.server,
            "kubeconfig": str(self.kubeconfig),
            "ports": self.ports,
            "admission": self.admission,
            "notes": self.notes,
            "installed_crds": self.installed_crds,
            "node": self.node,
            "processes": [r.to_json() for r in self.records],
        }
        path = self.directory / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2) + "\n")
        tmp.replace(path)  # never a half-written state file

    @classmethod
    def load(cls, directory: Path) -> ControlPlane:
        path = directory / STATE_FILE
        try:
            state = json.loads(path.read_text())
        except FileNotFoundError:
            raise ControlPlaneError(f"no control plane state in {directory} ({path})") from None
        except ValueError as error:
            raise ControlPlaneError(f"{path} is not valid JSON: {error}") from error
        try:
            return cls(
                directory=directory,
                server=str(state["server"]),
                kubeconfig=Path(state["kubeconfig"]),
                records=[ProcessRecord.from_json(p) for p in state["processes"]],
                ports={str(k): int(v) for k, v in state["ports"].items()},
                admission=str(state.get("admission", "none")),
                notes=[str(n) for n in state.get("notes", [])],
                installed_crds=[str(n) for n in state.get("installed_crds", [])],
                node=bool(state.get("node", False)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ControlPlaneError(f"{path} is not a control plane state: {error!r}") from error

    def running(self) -> list[ProcessRecord]:
        return [r for r in self.records if processes.is_running(r)]

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every process, newest first (admission, then API server, then etcd).

        With a node, what outlives its processes (shims, containers, mounts, cgroups, the
        bridge) goes too.
        """
        try:
            processes.stop(list(reversed(self.records)), self.popens, timeout=timeout)
        finally:
            if self.node:
                node.cleanup(self.directory)
        self.save()

    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}

    def api_client(self) -> Any:
        return bootstrap.api_client(self.kubeconfig)


def stop_dir(directory: Path, timeout: float = 10.0) -> list[ProcessRecord]:
    """``hardened dev down``: stop what ``state.json`` in ``directory`` records.

    Returns the processes that were still running, in the order they were stopped.
    """
    plane = ControlPlane.load(directory)
    running = plane.running()
    plane.stop(timeout=timeout)
    return list(reversed(running))


RESTARTABLE = ("operator", "webhook", "provisioner")
"""Processes ``hardened dev restart`` can restart alone: nothing else holds state about them."""


def restart(directory: Path, name: str, timeout: float = 10.0) -> ProcessRecord:
    """Stop (if running) and start again one process of the plane, with its recorded command.

    The admission server is restarted with the same port, certificates and registration, so
    the API server keeps calling it; the rest of the plane is untouched.
    """
    if name not in RESTARTABLE:
        raise ControlPlaneError(
            f"`dev restart` restarts {', '.join(RESTARTABLE)}; for {name}, run "
            f"`hardened dev down --dir {directory}` and `hardened dev up` again"
        )
    plane = ControlPlane.load(directory)
    matches = [r for r in plane.records if r.name == name]
    if not matches:
        names = ", ".join(r.name for r in plane.records)
        raise ControlPlaneError(f"this plane has no {name} (it runs: {names})")
    old = matches[-1]
    processes.stop([old], timeout=timeout)
    env = {**os.environ, "KUBECONFIG": str(plane.kubeconfig)}
    record, popen = processes.start(name, old.command, Path(old.log), env)
    plane.records[plane.records.index(old)] = record
    plane.save()
    if name in ("operator", "webhook"):
        listen = f"{LOOPBACK}:{plane.ports['webhook']}"
        wait_for_https(
            f"https://{listen}/healthz",
            directory / "pki" / "webhook" / "ca.crt",
            60,
            still_running=lambda: popen.poll() is None,
        )
    elif popen.poll() is not None:
        raise ControlPlaneError(f"{name} exited at once:\n{processes.log_tail(old.log)}")
    return record


def recovery_hint(directory: Path, name: str) -> str:
    """What to run when ``name`` is found stopped."""
    if name in RESTARTABLE:
        return f"hardened dev restart {name} --dir {directory}"
    return f"hardened dev down --dir {directory} && hardened dev up --dir {directory} ..."


def start(options: Options, log: Log = _quiet) -> ControlPlane:
    """Start a plane in ``options.directory``; on any failure stop what was started."""
    directory = options.directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    _refuse_if_running(directory)
    found = assets_module.require_assets(options.env)
    log(f"binaries: {found.directory} ({found.source})")
    node_binaries = node_assets.require_node_assets(options.env) if options.node else None
    test_images = images.ensure_images(options.env, log) if options.node else None

    ports = {
        "etcd": processes.free_port(),
        "etcd_peer": processes.free_port(),
        "apiserver": options.api_port or processes.free_port(),
    }
    server = f"https://{LOOPBACK}:{ports['apiserver']}"
    plane = ControlPlane(
        directory,
        server,
        directory / KUBECONFIG_FILE,
        ports=ports,
        tie_to_parent=options.tie_to_parent,
        node=options.node,
    )
    try:
        if options.node:
            node.claim_machine(directory, _is_alive, log)
        pki = _write_pki(directory / "pki", node.apiserver_hosts() if options.node else None)
        node_pki = node.write_pki(directory / "pki" / "node") if options.node else None
        _start_etcd(plane, found, pki, ports)
        api_process = _start_apiserver(plane, found, pki, ports, options, node_pki)
        _write_kubeconfig(plane.kubeconfig, server, pki)
        poller = bootstrap.api_client(plane.kubeconfig, retries=False)
        try:
            bootstrap.wait_until_ready(
                poller, options.ready_timeout, still_running=lambda: api_process.poll() is None
            )
        finally:
            poller.close()
        api = plane.api_client()
        log(f"kube-apiserver {bootstrap.server_version(api)} ready at {server}")
        if options.service_account_admission:
            bootstrap.ensure_service_account(api, "default")
        _install_crds(plane, api, options.crd_required, log)
        if node_binaries is not None and node_pki is not None and test_images is not None:
            _start_node(plane, api, pki, node_pki, node_binaries, test_images, options, log)
        if options.operator:
            _start_admission(plane, api, pki, options, log)
        api.close()
    except BaseException as error:  # also KeyboardInterrupt: never leave processes behind
        try:
            plane.stop()
        finally:
            if isinstance(error, ControlPlaneError | ApiError):
                raise ControlPlaneError(f"{error}\n{_log_tails(plane)}") from error
        raise
    plane.save()
    return plane


def _refuse_if_running(directory: Path) -> None:
    if not (directory / STATE_FILE).exists():
        return
    previous = ControlPlane.load(directory)
    alive = previous.running()
    if alive:
        names = ", ".join(f"{r.name} (pid {r.pid})" for r in alive)
        raise ControlPlaneError(
            f"a control plane is already running in {directory}: {names}; "
            f"run `hardened dev down --dir {directory}` first"
        )


@dataclass(frozen=True)
class _Pki:
    directory: Path
    serving_ca: Path
    serving_cert: Path
    serving_key: Path
    client_ca: Path
    admin_cert: Path
    admin_key: Path
    signing_key: Path
    webhook_ca: Path
    webhook_cert: Path
    webhook_key: Path
    etcd_ca: Path  # signs etcd's serving (and peer) certificate
    etcd_cert: Path
    etcd_key: Path
    etcd_client_ca: Path  # the only CA etcd accepts client certificates from
    etcd_client_cert: Path  # kube-apiserver's
    etcd_client_key: Path


def _write_pki(directory: Path, apiserver_hosts: list[str] | None = None) -> _Pki:
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    hosts = [LOOPBACK, "localhost"]
    serving_ca, serving_cert, serving_key = certs.generate(
        hosts + (apiserver_hosts or []), common_name="hardened-dev-apiserver"
    ).write(directory / "apiserver")
    client = certs.generate_client(ADMIN_USER, ADMIN_GROUPS)
    client_dir = directory / "client"
    client_ca, admin_cert, admin_key = client.write(client_dir)
    signing_key = directory / "service-account.key"
    signing_key.touch(mode=0o600)
    signing_key.write_bytes(certs.generate_signing_key())
    webhook_ca, webhook_cert, webhook_key = certs.generate(
        hosts, common_name="hardened-dev-webhook"
    ).write(directory / "webhook")
    etcd_ca, etcd_cert, etcd_key = certs.generate(hosts, common_name="hardened-dev-etcd").write(
        directory / "etcd"
    )
    etcd_client_ca, etcd_client_cert, etcd_client_key = certs.generate_client(
        "kube-apiserver", []
    ).write(directory / "etcd-client")
    return _Pki(
        directory,
        serving_ca,
        serving_cert,
        serving_key,
        client_ca,
        admin_cert,
        admin_key,
        signing_key,
        webhook_ca,
        webhook_cert,
        webhook_key,
        etcd_ca,
        etcd_cert,
        etcd_key,
        etcd_client_ca,
        etcd_client_cert,
        etcd_client_key,
    )


def _launch(
    plane: ControlPlane, name: str, command: list[str], env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    record, popen = processes.start(
        name, command, plane.directory / f"{name}.log", env, tie_to_parent=plane.tie_to_parent
    )
    plane.records.append(record)
    plane.popens[record.pid] = popen
    plane.save()  # recorded before anything can fail, so `dev down` finds it
    return popen


def _start_etcd(
    plane: ControlPlane, found: assets_module.Assets, pki: _Pki, ports: dict[str, int]
) -> None:
    # TLS with client-certificate auth even on loopback: etcd holds every Secret, and any
    # local user could otherwise read or rewrite it past RBAC (machines are shared).
    client_url = f"https://{LOOPBACK}:{ports['etcd']}"
    peer_url = f"https://{LOOPBACK}:{ports['etcd_peer']}"
    _launch(
        plane,
        "etcd",
        [
            str(found.etcd),
            "--name=dev",
            f"--data-dir={plane.directory / 'etcd'}",
            f"--listen-client-urls={client_url}",
            f"--advertise-client-urls={client_url}",
            f"--cert-file={pki.etcd_cert}",
            f"--key-file={pki.etcd_key}",
            "--client-cert-auth=true",
            f"--trusted-ca-file={pki.etcd_client_ca}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=dev={peer_url}",
            f"--peer-cert-file={pki.etcd_cert}",
            f"--peer-key-file={pki.etcd_key}",
            "--peer-client-cert-auth=true",
            f"--peer-trusted-ca-file={pki.etcd_client_ca}",
            # Throwaway data: skipping fsync makes every write (and so every test) much faster.
            "--unsafe-no-fsync=true",
            "--log-level=warn",
        ],
    )


def _start_apiserver(
    plane: ControlPlane,
    found: assets_module.Assets,
    pki: _Pki,
    ports: dict[str, int],
    options: Options,
    node_pki: node.NodePki | None = None,
) -> subprocess.Popen[bytes]:
    client_ca = pki.client_ca
    if node_pki is not None:
        # One --client-ca-file for every client: the admin's CA and each node component's.
        client_ca = pki.directory / "client-ca-bundle.crt"
        client_ca.write_bytes(
            b"".join(path.read_bytes() for path in [pki.client_ca, *node_pki.client_cas])
        )
    command = [
        str(found.kube_apiserver),
        f"--etcd-servers=https://{LOOPBACK}:{ports['etcd']}",
        f"--etcd-cafile={pki.etcd_ca}",
        f"--etcd-certfile={pki.etcd_client_cert}",
        f"--etcd-keyfile={pki.etcd_client_key}",
        *(
            node.apiserver_address_flags()
            if node_pki is not None
            else [
                f"--bind-address={LOOPBACK}",
                f"--advertise-address={LOOPBACK}",
                # The endpoint reconciler refuses a loopback address; nothing here needs the
                # `kubernetes` Service's endpoints (no pods run): off, as envtest does.
                "--endpoint-reconciler-type=none",
            ]
        ),
        f"--secure-port={ports['apiserver']}",
        f"--cert-dir={plane.directory / 'apiserver-certs'}",
        f"--tls-cert-file={pki.serving_cert}",
        f"--tls-private-key-file={pki.serving_key}",
        f"--client-ca-file={client_ca}",
        # As in a real cluster: RBAC decides, the Node authorizer serves kubelets (none here).
        "--authorization-mode=Node,RBAC",
        # Service-account tokens (TokenRequest API): an issuer and the key pair to sign them.
        f"--service-account-issuer={plane.server}",
        f"--service-account-key-file={pki.signing_key}",
        f"--service-account-signing-key-file={pki.signing_key}",
        # A /16 (65534 ClusterIPs, kubeadm's default range): a /24 capped the plane at 253
        # Services, fewer than the operator benchmark's 1000 HardenedServices with a port.
        # kube-apiserver refuses IPv4 ranges larger than a /12.
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--allow-privileged=true",
        "--profiling=false",
    ]
    if node_pki is not None:
        command += node.apiserver_flags(node_pki)
    if not options.service_account_admission:
        # envtest's choice: without a controller-manager no namespace gets its "default"
        # ServiceAccount, and this plugin refuses Pods whose ServiceAccount is missing.
        command.append("--disable-admission-plugins=ServiceAccount")
    return _launch(plane, "kube-apiserver", command)


def _alive(popen: subprocess.Popen[bytes]) -> bool:
    return popen.poll() is None


def _is_alive(directory: Path) -> bool:
    try:
        return bool(ControlPlane.load(directory).running())
    except ControlPlaneError:
        return False


def _start_node(
    plane: ControlPlane,
    api: Any,
    pki: _Pki,
    node_pki: node.NodePki,
    binaries: node_assets.NodeAssets,
    test_images: images.BuiltImages,
    options: Options,
    log: Log,
) -> None:
    """controller-manager, scheduler, containerd (+ images), kubelet, kube-proxy, the
    NetworkPolicy enforcer, storage, GPUs."""
    for name in (
        "kubelet", "kubelet_healthz", "controller_manager", "scheduler", "kube_proxy_healthz",
        "kube_proxy_metrics",
    ):  # fmt: skip
        plane.ports[name] = processes.free_port()
    commands = node.prepare(
        plane.directory, plane.server, pki.serving_ca, pki.signing_key, node_pki, binaries,
        plane.ports,
    )  # fmt: skip
    started: dict[str, subprocess.Popen[bytes]] = {}
    for name, command, extra_env in commands.items:
        popen = _launch(plane, name, command, {**os.environ, **extra_env})
        started[name] = popen
        if name == "containerd":
            node.wait_for_socket(
                node.CONTAINERD_SOCKET, 30, still_running=functools.partial(_alive, popen)
            )
            images.import_archives(
                binaries.path("ctr"),
                str(node.CONTAINERD_SOCKET),
                test_images.archives.values(),
                log,
            )

    def crashed() -> str | None:
        return next((n for n, p in started.items() if p.poll() is not None), None)

    devnode.wait_node_ready(api, node.NODE_NAME, options.node_ready_timeout, still_running=crashed)
    devnode.apply_cluster_rbac(api, *netpol.rbac())
    name, command, extra_env = node.enforcer_command(
        plane.directory, plane.server, pki.serving_ca, node_pki, binaries, SERVICE_CIDR
    )
    enforcer = _launch(plane, name, command, {**os.environ, **extra_env})
    netpol.wait_enforcing(60, functools.partial(_alive, enforcer), plane.directory / f"{name}.log")
    devnode.advertise_extended_resource(api, node.NODE_NAME, node.GPU_RESOURCE, node.GPU_COUNT)
    devnode.apply_storage_class(api, provisioner.storage_class())
    _launch(plane, "provisioner", node.provisioner_command(plane.directory, plane.kubeconfig))
    log(
        f"node {node.NODE_NAME} Ready (containerd, kubelet, controller-manager, scheduler, "
        f"kube-proxy, {netpol.NAME} enforcing NetworkPolicies; "
        f"{node.GPU_COUNT} {node.GPU_RESOURCE}; StorageClass {provisioner.STORAGE_CLASS})"
    )


def _write_kubeconfig(path: Path, server: str, pki: _Pki) -> None:
    def b64(file: Path) -> str:
        return base64.b64encode(file.read_bytes()).decode("ascii")

    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "hardened-dev",
                "cluster": {"server": server, "certificate-authority-data": b64(pki.serving_ca)},
            }
        ],
        "users": [
            {
                "name": ADMIN_USER,
                "user": {
                    "client-certificate-data": b64(pki.admin_cert),
                    "client-key-data": b64(pki.admin_key),
                },
            }
        ],
        "contexts": [
            {"name": "hardened-dev", "context": {"cluster": "hardened-dev", "user": ADMIN_USER}}
        ],
        "current-context": "hardened-dev",
    }
    path.touch(mode=0o600)  # it holds the admin key
    path.write_text(yaml.safe_dump(kubeconfig, sort_keys=False))


def _install_crds(plane: ControlPlane, api: Any, required: bool, log: Log) -> None:
    crds, origin = manifests.crd_manifests()
    if not crds:
        plane.notes.append(origin)
        log(f"note: {origin}")
    for crd in crds:
        name = crd["metadata"]["name"]
        try:
            bootstrap.install_crd(api, crd)
        except (ApiError, ControlPlaneError) as error:
            if required:
                raise ControlPlaneError(f"CRD {name} ({origin}) not installed: {error}") from error
            plane.notes.append(f"crd-error: {name} ({origin}): {error}")
            log(f"warning: CRD {name} not installed: {error}")
            continue
        plane.installed_crds.append(name)
        log(f"installed CRD {name} ({origin})")


# A pod the webhook must refuse: proof that the API server really calls it.
_PROBE_POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "hardened-dev-readiness-probe"},
    "spec": {
        "securityContext": {"runAsUser": 0},
        "containers": [{"name": "probe", "image": "busybox"}],
    },
}


def _start_admission(plane: ControlPlane, api: Any, pki: _Pki, options: Options, log: Log) -> None:
    port = options.webhook_port or processes.free_port()
    plane.ports["webhook"] = port
    listen = f"{LOOPBACK}:{port}"
    tls = ["--tls-cert-file", str(pki.webhook_cert), "--tls-key-file", str(pki.webhook_key)]
    cli = [sys.executable, "-m", "hardened_operator.cli"]
    plane.admission = _admission_kind(options.admission)
    if plane.admission == "operator":
        plane.ports["health"] = processes.free_port()
        health = f"{LOOPBACK}:{plane.ports['health']}"
        command = [
            *cli,
            "run",
            "--all-namespaces",
            "--config-rollouts",  # the dev plane's operator may read every ConfigMap/Secret
            "--webhook-listen",
            listen,
            *tls,
            "--health-listen",
            health,
        ]
        env = {**os.environ, "KUBECONFIG": str(plane.kubeconfig)}
    else:  # the webhook alone: admission works before (or without) the operator
        command = [*cli, "webhook", "--listen", listen, *tls]
        env = dict(os.environ)
    popen = _launch(plane, plane.admission, command, env)
    wait_for_https(
        f"https://{listen}/healthz",
        pki.webhook_ca,
        options.ready_timeout,
        still_running=lambda: popen.poll() is None,
    )
    url = f"https://{listen}/validate"
    bootstrap.apply_validating_webhook_configuration(
        api,
        manifests.mode_routed_webhook_configuration(url, pki.webhook_ca.read_bytes()),
    )
    wait_for_denial(api, "default", options.ready_timeout)
    log(f"{plane.admission} serving admission at {url} (registered, verified with a root pod)")


def _admission_kind(requested: str) -> str:
    available = {
        name: importlib.util.find_spec(f"hardened_operator.cli.{module}") is not None
        for name, module in (("operator", "run"), ("webhook", "webhook"))
    }
    if requested == "auto":
        for name in ("operator", "webhook"):
            if available[name]:
                return name
        raise ControlPlaneError("neither `hardened run` nor `hardened webhook` is installed")
    if requested not in available:
        raise ControlPlaneError(f"unknown admission {requested!r}: operator, webhook or auto")
    if not available[requested]:
        raise ControlPlaneError(f"--admission {requested}: that command is not installed")
    return requested


def wait_for_https(
    url: str,
    ca_file: Path,
    timeout: float,
    *,
    still_running: Callable[[], bool] | None = None,
) -> None:
    """Poll ``url`` (TLS verified against ``ca_file``) until it answers 200."""
    context = ssl.create_default_context(cafile=str(ca_file))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, context=context, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if still_running is not None and not still_running():
            raise ControlPlaneError(f"the process serving {url} exited")
        time.sleep(0.2)
    raise ControlPlaneError(f"{url} did not answer 200 within {timeout:.0f}s")


def wait_for_denial(api: Any, namespace: str, timeout: float) -> None:
    """Dry-run a root pod until our webhook denies it.

    The API server picks up a new webhook configuration asynchronously, and "registered"
    is not "called": only a denial proves the whole path (TLS, caBundle, URL) works.
    """
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            bootstrap.dry_run_create_pod(api, namespace, _PROBE_POD)
            last = "the root probe pod was admitted (webhook not called yet)"
        except ApiError as error:
            last = str(error)
            if statuses.denied_by_admission(error):
                return
        time.sleep(0.2)
    raise ControlPlaneError(f"the API server never got a denial from the webhook: {last}")


def _log_tails(plane: ControlPlane) -> str:
    parts = []
    for record in plane.records:
        tail = processes.log_tail(record.log)
        if tail:
            parts.append(f"--- {record.name} ({record.log}) ---\n{tail}")
    return "\n".join(parts)
