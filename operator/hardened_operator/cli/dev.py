"""``hardened dev``: a local control plane (etcd + kube-apiserver + the operator)."""

from __future__ import annotations

import importlib.util
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import click

from hardened_operator.errors import ControlPlaneError


def _log(message: str) -> None:
    click.echo(message, err=True)


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


@click.group()
def dev() -> None:
    """A local control plane: etcd + kube-apiserver + the operator (see docs/dev.md)."""
    if importlib.util.find_spec("hardened_operator.dev") is None:
        # The production image deletes the package (Dockerfile.production): say so plainly
        # instead of a ModuleNotFoundError traceback.
        raise ControlPlaneError(
            "hardened dev is not part of this installation (the production image leaves the "
            "local control plane out); run it from a development checkout, see docs/dev.md"
        )


@dev.command("build-assets")
@click.option("--force", is_flag=True, help="Rebuild even when the cache is complete.")
@click.option(
    "--node",
    is_flag=True,
    help="Also the node's binaries (kubelet, controller-manager, scheduler, kube-proxy, "
    "containerd, runc) and the test images; needs a C compiler and libseccomp-dev.",
)
def build_assets_command(force: bool, node: bool) -> None:
    """Build kube-apiserver, etcd and kubectl with Go into the cache (no-op when cached).

    Not needed when KUBEBUILDER_ASSETS points at setup-envtest's binaries (except --node).
    """
    from hardened_operator.dev import assets, images, node_assets

    try:
        found = None if force else assets.find_assets()
        if found is not None:
            _log(f"using control-plane binaries from {found.source}: {found.directory}")
            built_dir = found.directory
        else:
            built_dir = assets.build_assets(force=force, log=_log).directory
        click.echo(str(built_dir))
        if node:
            click.echo(str(node_assets.build_node_assets(force=force, log=_log).directory))
            click.echo(str(images.ensure_images(log=_log).directory))
    except ControlPlaneError as error:
        _log(f"error: {error}")
        sys.exit(1)


def _dir_option(function: Any) -> Any:
    return click.option(
        "--dir",
        "directory",
        required=True,
        type=click.Path(file_okay=False, path_type=Path),
        help="Where the plane keeps its data, logs, certificates, kubeconfig and state.json.",
    )(function)


@dev.command("up")
@_dir_option
@click.option(
    "--no-operator",
    is_flag=True,
    help="No operator or webhook on the host: etcd + kube-apiserver + the CRD (and the node with "
    "--node, e.g. to install the operator into it with helm).",
)
@click.option(
    "--admission",
    type=click.Choice(["auto", "operator", "webhook"]),
    default="auto",
    show_default=True,
    help="What serves admission: `hardened run` (operator), `hardened webhook` alone, or "
    "the operator when installed, else the webhook.",
)
@click.option("--port", type=int, default=0, help="kube-apiserver's port (default: a free one).")
@click.option("--webhook-port", type=int, default=0, help="The webhook's port (default: free).")
@click.option(
    "--service-account-admission/--no-service-account-admission",
    default=True,
    show_default=True,
    help="Keep the ServiceAccount admission plugin (as in a real cluster; namespaces then "
    "need a `default` ServiceAccount before Pods can be created) or disable it (envtest).",
)
@click.option(
    "--build/--no-build", default=True, show_default=True, help="Build binaries if missing."
)
@click.option(
    "--timeout", type=float, default=90.0, show_default=True, help="Seconds to wait for readiness."
)
@click.option(
    "--node",
    is_flag=True,
    help="Also run a real node (kubelet + containerd + runc, controller-manager, scheduler, "
    "a volume provisioner): pods start. Root only; one per machine (docs/dev.md).",
)
def up(
    directory: Path,
    no_operator: bool,
    admission: str,
    port: int,
    webhook_port: int,
    service_account_admission: bool,
    build: bool,
    timeout: float,
    node: bool,
) -> None:
    """Start etcd, kube-apiserver and the operator; return once all are ready."""
    from hardened_operator.dev import assets, images, node_assets, plane

    # A SIGTERM/SIGHUP while starting must unwind like Ctrl-C does, so that start() stops
    # what it already launched instead of dying with etcd and kube-apiserver orphaned.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _exit_on_signal)
    try:
        if build:
            assets.ensure_assets(log=_log)
            if node:
                node_assets.build_node_assets(log=_log)
                images.ensure_images(log=_log)
        running = plane.start(
            plane.Options(
                directory=directory,
                operator=not no_operator,
                admission=admission,
                api_port=port,
                webhook_port=webhook_port,
                service_account_admission=service_account_admission,
                ready_timeout=timeout,
                node=node,
            ),
            log=_log,
        )
    except ControlPlaneError as error:
        _log(f"error: {error}")
        sys.exit(1)
    kubeconfig = running.kubeconfig
    click.echo(f"control plane ready: {running.server} (logs and state in {running.directory})")
    if running.node:
        click.echo("node: hardened-dev-node Ready (pods run; images: see docs/dev.md)")
    if running.admission != "none":
        click.echo(f"admission: {running.admission} on 127.0.0.1:{running.ports['webhook']}")
    for note in running.notes:
        click.echo(f"note: {note}")
    click.echo("use it:")
    click.echo(f"  export KUBECONFIG={kubeconfig}")
    click.echo(f'  eval "$(hardened dev env --dir {directory})"   # also puts kubectl on PATH')
    click.echo("  kubectl get --raw /version")
    click.echo(f"stop it:\n  hardened dev down --dir {directory}")


@dev.command("load-image")
@_dir_option
@click.argument("archives", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
def load_image(directory: Path, archives: tuple[str, ...]) -> None:
    """Import OCI image archives into the node's containerd (no registry needed).

    E.g. the operator's own image from scripts/build-image.sh, for `helm install` on the node.
    """
    from hardened_operator.dev import images, node, node_assets, plane

    try:
        state = plane.ControlPlane.load(directory)
        if not state.node or not any(r.name == "containerd" for r in state.running()):
            raise ControlPlaneError(
                f"no running node in {directory}: start one with "
                f"`hardened dev up --node --dir {directory}`"
            )
        ctr = node_assets.require_node_assets().path("ctr")
        images.import_archives(ctr, str(node.CONTAINERD_SOCKET), [Path(a) for a in archives], _log)
    except ControlPlaneError as error:
        _log(f"error: {error}")
        sys.exit(1)


@dev.command("down")
@_dir_option
@click.option(
    "--timeout", type=float, default=10.0, show_default=True, help="Seconds before SIGKILL."
)
def down(directory: Path, timeout: float) -> None:
    """Stop everything `hardened dev up` started in DIR (SIGTERM, then SIGKILL)."""
    from hardened_operator.dev import plane

    try:
        stopped = plane.stop_dir(directory, timeout=timeout)
    except ControlPlaneError as error:
        _log(f"error: {error}")
        sys.exit(1)
    names = ", ".join(f"{r.name} (pid {r.pid})" for r in stopped)
    click.echo(f"stopped {names or 'nothing (no process of this plane was running)'}")


@dev.command("status")
@_dir_option
def status(directory: Path) -> None:
    """Show what runs in DIR; exit 1 unless every process is up and the API is ready."""
    from hardened_operator.dev import plane
    from hardened_operator.k8s import bootstrap

    try:
        state = plane.ControlPlane.load(directory)
    except ControlPlaneError as error:
        _log(f"error: {error}")
        sys.exit(1)
    running = {r.pid for r in state.running()}
    stopped = []
    for record in state.records:
        alive = "running" if record.pid in running else "stopped"
        click.echo(f"{record.name:24} pid {record.pid:<8} {alive:8} log {record.log}")
        if alive == "stopped":
            stopped.append(record.name)
    ready = bool(running) and bootstrap.is_ready(
        bootstrap.api_client(state.kubeconfig, retries=False)
    )
    click.echo(f"api {state.server}: {'ready' if ready else 'not ready'}")
    click.echo(f"export KUBECONFIG={state.kubeconfig}")
    for name in stopped:
        click.echo(f"{name} is stopped; to recover: {plane.recovery_hint(directory, name)}")
    if not ready or stopped:
        sys.exit(1)


@dev.command("restart")
@click.argument("name", type=click.Choice(["operator", "webhook", "provisioner"]))
@_dir_option
def restart(name: str, directory: Path) -> None:
    """Restart one process of the plane in DIR (the operator after a code change, say)."""
    from hardened_operator.dev import plane

    try:
        record = plane.restart(directory, name)
    except ControlPlaneError as error:
        _log(f"error: {error}")
        sys.exit(1)
    click.echo(f"restarted {record.name} (pid {record.pid}); log {record.log}")


@dev.command("env")
@_dir_option
def env(directory: Path) -> None:
    """Print shell exports for the plane in DIR: KUBECONFIG, and PATH with its kubectl.

    Use: eval "$(hardened dev env --dir DIR)"
    """
    import shlex

    from hardened_operator.dev import assets, node_assets, plane

    try:
        state = plane.ControlPlane.load(directory)
        found = assets.require_assets()
    except ControlPlaneError as error:
        _log(f"error: {error}")
        sys.exit(1)
    click.echo(f"export KUBECONFIG={shlex.quote(str(state.kubeconfig))}")
    path = [str(found.directory)] if found.kubectl is not None else []
    node_binaries = node_assets.find_node_assets() if state.node else None
    if node_binaries is not None:  # helm, ctr: the README's in-cluster quickstart uses helm
        path.append(str(node_binaries.directory))
    if path:
        click.echo(f'export PATH={shlex.quote(":".join(path))}:"$PATH"')
