"""The node's binaries: kubelet, controller-manager, scheduler, kube-proxy, containerd, runc,
kube-router.

They are built like the control plane's (:mod:`hardened_operator.dev.assets`), from Go modules
this package ships and pins:

- ``envtest/`` (the Kubernetes module, the same release as kube-apiserver): kubelet,
  kube-controller-manager, kube-scheduler, kube-proxy;
- ``gomod/containerd/``: containerd 2.x, its runc shim and ``ctr`` (CGO off);
- ``gomod/runc/``: runc, with cgo and libseccomp (``-tags seccomp``), since containerd 2.4's
  specs need runc >= 1.2 and Debian ships 1.1;
- ``gomod/helm/``: the helm CLI, for the README's in-cluster quickstart on the node;
- ``gomod/kube-router/``: kube-router, of which only the network policy controller runs
  (:mod:`~hardened_operator.dev.netpol`): it enforces NetworkPolicies, which the CNI bridge
  does not.

The cache directory's name carries a digest of the pinned module files, so changing a pin
builds into a new directory instead of mixing versions. Like the control plane's cache, it
only ever appears complete (built in a temporary sibling, renamed into place under a lock).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from hardened_operator.dev import assets
from hardened_operator.errors import AssetsNotFoundError, ControlPlaneError

CONTAINERD_VERSION = "v2.4.2"
RUNC_VERSION = "v1.5.3"
HELM_VERSION = "v4.3.2"
KUBE_ROUTER_VERSION = "v2.1.0"


@dataclass(frozen=True)
class GoBinary:
    """One program to build: its name, the shipped module, the Go package, how to link."""

    name: str
    module: str
    package: str
    cgo: bool = False
    tags: str = ""
    version_flags: str = ""


def _kubernetes(name: str) -> GoBinary:
    return GoBinary(name, "envtest", f"k8s.io/kubernetes/cmd/{name}")


_KUBE_ROUTER_MODULE = "github.com/cloudnativelabs/kube-router/v2"

_CONTAINERD_STAMP = (
    f"-X github.com/containerd/containerd/v2/version.Version={CONTAINERD_VERSION} "
    "-X github.com/containerd/containerd/v2/version.Revision=hardened-dev"
)

BINARIES: tuple[GoBinary, ...] = (
    _kubernetes("kubelet"),
    _kubernetes("kube-controller-manager"),
    _kubernetes("kube-scheduler"),
    _kubernetes("kube-proxy"),
    GoBinary(
        "containerd",
        "containerd",
        "github.com/containerd/containerd/v2/cmd/containerd",
        version_flags=_CONTAINERD_STAMP,
    ),
    GoBinary(
        "containerd-shim-runc-v2",
        "containerd",
        "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2",
        version_flags=_CONTAINERD_STAMP,
    ),
    GoBinary(
        "ctr",
        "containerd",
        "github.com/containerd/containerd/v2/cmd/ctr",
        version_flags=_CONTAINERD_STAMP,
    ),
    GoBinary(
        "runc",
        "runc",
        "github.com/opencontainers/runc",
        cgo=True,
        tags="seccomp",
        version_flags=f"-X main.version={RUNC_VERSION.lstrip('v')}",
    ),
    GoBinary(
        "helm",
        "helm",
        "helm.sh/helm/v4/cmd/helm",
        version_flags=f"-X helm.sh/helm/v4/internal/version.version={HELM_VERSION}",
    ),
    GoBinary(
        "kube-router",
        "kube-router",
        f"{_KUBE_ROUTER_MODULE}/cmd/kube-router",
        version_flags=f"-X {_KUBE_ROUTER_MODULE}/pkg/version.Version={KUBE_ROUTER_VERSION}",
    ),
)
_MODULES = ("envtest", "containerd", "runc", "helm", "kube-router")
_MANIFEST = "node-assets.json"


@dataclass(frozen=True)
class NodeAssets:
    """A directory holding every binary of :data:`BINARIES`."""

    directory: Path

    def path(self, name: str) -> Path:
        return self.directory / name


def pins_digest() -> str:
    """A short digest of every shipped module file the node's binaries are built from."""
    digest = hashlib.sha256()
    for module in _MODULES:
        source = assets.module_source(module)
        for name in ("go.mod", "go.sum", "tools.go"):
            digest.update(f"{module}/{name}\0".encode())
            digest.update(source.joinpath(name).read_bytes())
    return digest.hexdigest()[:12]


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    return assets.cache_root(env) / "node" / f"{assets.KUBERNETES_VERSION}-{pins_digest()}"


def missing(directory: Path) -> list[str]:
    return [b.name for b in BINARIES if not _is_executable(directory / b.name)]


def find_node_assets(env: Mapping[str, str] | None = None) -> NodeAssets | None:
    directory = cache_dir(env)
    return None if missing(directory) else NodeAssets(directory)


def require_node_assets(env: Mapping[str, str] | None = None) -> NodeAssets:
    found = find_node_assets(env)
    if found is None:
        raise AssetsNotFoundError(
            f"no node binaries in {cache_dir(env)}: run `hardened dev build-assets --node` "
            "(needs Go >= 1.26, a C compiler and libseccomp-dev; see docs/dev.md)"
        )
    return found


def build_node_assets(
    *, env: Mapping[str, str] | None = None, force: bool = False, log: assets.Log = print
) -> NodeAssets:
    """Build every node binary into the cache (no-op when already cached)."""
    env = dict(os.environ if env is None else env)
    target = cache_dir(env)
    if not force and not missing(target):
        log(f"node binaries already cached in {target}")
        return NodeAssets(target)
    go = assets.find_go(env)
    if go is None:
        raise AssetsNotFoundError("cannot build the node's binaries: no `go` (install Go >= 1.26)")
    target.parent.mkdir(parents=True, exist_ok=True)
    with assets.lock(target.parent / f".{target.name}.lock", log):
        if not force and not missing(target):
            log(f"node binaries already cached in {target}")
            return NodeAssets(target)
        started = time.monotonic()
        timings: dict[str, float] = {}
        with tempfile.TemporaryDirectory(prefix=f".build-{target.name}-", dir=target.parent) as tmp:
            work = Path(tmp)
            out = work / "out"
            out.mkdir()
            for module in _MODULES:
                assets.copy_module(work / module, module)
            for binary in BINARIES:
                log(f"building {binary.name} ({binary.package}) ...")
                began = time.monotonic()
                flags = assets.ldflags() if binary.module == "envtest" else binary.version_flags
                if binary.module != "envtest":
                    flags = f"-s -w {flags}".strip()
                assets.go_build(
                    go,
                    work / binary.module,
                    binary.package,
                    out / binary.name,
                    env,
                    cgo=binary.cgo,
                    tags=binary.tags,
                    flags=flags,
                )
                timings[binary.name] = round(time.monotonic() - began, 1)
                log(f"  {binary.name}: {timings[binary.name]:.0f}s")
            _verify(out)
            (out / _MANIFEST).write_text(
                json.dumps(
                    {
                        "kubernetes": assets.KUBERNETES_VERSION,
                        "containerd": CONTAINERD_VERSION,
                        "runc": RUNC_VERSION,
                        "helm": HELM_VERSION,
                        "kube-router": KUBE_ROUTER_VERSION,
                        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        "build_seconds": round(time.monotonic() - started),
                        "seconds_per_binary": timings,
                    },
                    indent=2,
                )
                + "\n"
            )
            assets.replace_dir(out, target)
        log(f"built the node's binaries into {target} in {time.monotonic() - started:.0f}s")
    return NodeAssets(target)


def _verify(directory: Path) -> None:
    checks = {
        "kubelet": (["--version"], assets.KUBERNETES_VERSION),
        "containerd": (["--version"], CONTAINERD_VERSION),
        "runc": (["--version"], RUNC_VERSION.lstrip("v")),
        "helm": (["version", "--short"], HELM_VERSION),
        "kube-router": (["--version"], KUBE_ROUTER_VERSION),
    }
    for name, (args, expected) in checks.items():
        result = subprocess.run(
            [str(directory / name), *args], capture_output=True, text=True, check=False
        )
        if expected not in result.stdout + result.stderr:  # kube-router prints to stderr
            raise ControlPlaneError(
                f"built {name} reports {(result.stdout + result.stderr).strip()!r}, not {expected}"
            )
    runc = subprocess.run(
        [str(directory / "runc"), "features"], capture_output=True, text=True, check=False
    )
    try:
        seccomp = json.loads(runc.stdout)["linux"]["seccomp"]["enabled"]
    except (ValueError, KeyError, TypeError):
        seccomp = False
    if seccomp is not True:
        raise ControlPlaneError(f"runc was built without seccomp support: {runc.stdout[:400]}")


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)
