"""The control plane the test suite shares: started once, stopped for sure.

``KUBECONFIG`` set: a real cluster (kind, k3d, ...) is used as is. Otherwise etcd +
kube-apiserver start in a temporary directory (``hardened dev up --no-operator``
semantics), from ``KUBEBUILDER_ASSETS`` or the asset cache — never built here, a cold build
takes minutes: ``scripts/test.sh`` runs ``hardened dev build-assets`` first.

Every process is tied to pytest three ways: the session fixture's finalizer, an atexit hook
plus SIGTERM/SIGHUP handlers (an interrupted run), and PR_SET_PDEATHSIG (pytest killed
with SIGKILL: the kernel kills the children).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from hardened_operator.dev import plane as plane_module
from hardened_operator.k8s import bootstrap

REQUIRE_ENV = "HARDENED_REQUIRE_CONTROL_PLANE"


def required() -> bool:
    """In CI, a control plane that cannot start is a failure, not a skip."""
    return os.environ.get(REQUIRE_ENV) == "1" or os.environ.get("CI") == "true"


@dataclass
class ControlPlaneHandle:
    """What tests get from the ``control_plane`` fixture."""

    kubeconfig: Path
    server: str
    external: bool  # True: KUBECONFIG's cluster, not started by us
    installed_crds: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    plane: plane_module.ControlPlane | None = None

    def api_client(self) -> Any:
        """A fresh ``kubernetes.client.ApiClient`` (admin)."""
        return bootstrap.api_client(self.kubeconfig)

    def env(self) -> dict[str, str]:
        """The environment for a subprocess (kubectl, helm, hardened) to use this plane."""
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}

    def crd_error(self) -> str | None:
        """Why the CRD is not installed, if it is not."""
        for note in self.notes:
            if note.startswith("crd-error:") or "CRD skipped" in note:
                return note
        return None


_cleanups: list[Callable[[], None]] = []


def _run_cleanups() -> None:
    while _cleanups:
        cleanup = _cleanups.pop()
        with contextlib.suppress(Exception):
            cleanup()


def _on_signal(signum: int, frame: FrameType | None) -> None:
    _run_cleanups()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_cleanup(cleanup: Callable[[], None]) -> None:
    if not _cleanups:
        atexit.register(_run_cleanups)
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, _on_signal)
    _cleanups.append(cleanup)


def _external(kubeconfig: str) -> ControlPlaneHandle:
    path = Path(kubeconfig.split(os.pathsep)[0]).expanduser()
    api = bootstrap.api_client(path)
    server = str(api.configuration.host)
    if not bootstrap.is_ready(api):
        raise RuntimeError(f"KUBECONFIG={kubeconfig}: {server} does not answer /readyz")
    handle = ControlPlaneHandle(path, server, external=True)
    from hardened_operator.dev import manifests

    crds, origin = manifests.crd_manifests()
    for crd in crds:
        try:
            bootstrap.install_crd(api, crd)
            handle.installed_crds.append(crd["metadata"]["name"])
        except Exception as error:
            handle.notes.append(f"crd-error: {crd['metadata']['name']} ({origin}): {error}")
    if not crds:
        handle.notes.append(origin)
    return handle


def start_session_plane() -> tuple[ControlPlaneHandle, Callable[[], None]]:
    """Start (or attach to) the plane; returns it and the function that stops it."""
    kubeconfig = os.environ.get("KUBECONFIG")
    if kubeconfig:
        return _external(kubeconfig), lambda: None
    directory = Path(tempfile.mkdtemp(prefix="hardened-cp-"))
    started = plane_module.start(
        plane_module.Options(
            directory=directory,
            operator=False,  # tests run their own webhook/operator
            tie_to_parent=True,
            crd_required=False,  # a refused CRD fails the CRD tests, not every test
        )
    )

    def stop() -> None:
        started.stop()
        # Keep etcd data and logs only when asked (debugging a failed run).
        if os.environ.get("HARDENED_KEEP_CONTROL_PLANE") != "1":
            shutil.rmtree(directory, ignore_errors=True)

    _install_cleanup(stop)
    handle = ControlPlaneHandle(
        started.kubeconfig,
        started.server,
        external=False,
        installed_crds=list(started.installed_crds),
        notes=list(started.notes),
        plane=started,
    )
    return handle, stop
