"""Finding, and if needed building, the control plane's binaries (kube-apiserver, etcd, kubectl).

Lookup order, first hit wins:

1. ``$KUBEBUILDER_ASSETS`` — controller-runtime's envtest convention, so
   ``setup-envtest use -p path 1.37.x`` works unchanged;
2. the cache ``${HARDENED_CACHE_DIR:-~/.cache/hardened-operator}/assets/<version>/``;
3. nothing: :func:`build_assets` compiles them with the machine's Go from the Go module
   shipped in this package (``envtest/``), which pins the exact versions.

The cache directory only ever appears complete: a build writes into a temporary sibling
directory and renames it into place, under a lock so two builds never race.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from hardened_operator.errors import AssetsNotFoundError, ControlPlaneError

KUBERNETES_VERSION = "v1.37.2"
ETCD_VERSION = "v3.7.0"

REQUIRED = ("kube-apiserver", "etcd")
OPTIONAL = ("kubectl",)

# Go package -> binary name. etcd's main package is go.etcd.io/etcd/server/v3 (binary "server").
_GO_PACKAGES: dict[str, str] = {
    "kube-apiserver": "k8s.io/kubernetes/cmd/kube-apiserver",
    "etcd": "go.etcd.io/etcd/server/v3",
    "kubectl": "k8s.io/kubernetes/cmd/kubectl",
}
_MODULE_FILES = ("go.mod", "go.sum", "tools.go")
_KUBERNETES_MODULE = "envtest"
_GO_FALLBACK = Path("/usr/local/go/bin/go")
_MANIFEST = "assets.json"

Log = Callable[[str], None]


@dataclass(frozen=True)
class Assets:
    """A directory holding ``kube-apiserver`` and ``etcd`` (and maybe ``kubectl``)."""

    directory: Path
    source: str  # "KUBEBUILDER_ASSETS" or "cache"

    @property
    def kube_apiserver(self) -> Path:
        return self.directory / "kube-apiserver"

    @property
    def etcd(self) -> Path:
        return self.directory / "etcd"

    @property
    def kubectl(self) -> Path | None:
        path = self.directory / "kubectl"
        return path if _is_executable(path) else None


def cache_root(env: Mapping[str, str] | None = None) -> Path:
    """``$HARDENED_CACHE_DIR`` or ``~/.cache/hardened-operator``."""
    env = os.environ if env is None else env
    configured = env.get("HARDENED_CACHE_DIR")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "hardened-operator"


def cache_dir(env: Mapping[str, str] | None = None, version: str = KUBERNETES_VERSION) -> Path:
    """Where the built binaries of ``version`` live."""
    return cache_root(env) / "assets" / version


def find_assets(env: Mapping[str, str] | None = None) -> Assets | None:
    """The assets to use, or None when neither KUBEBUILDER_ASSETS nor the cache has them.

    A KUBEBUILDER_ASSETS that is set but incomplete is an error, not a fallthrough: the user
    asked for those binaries, silently using others would hide their mistake.
    """
    env = os.environ if env is None else env
    explicit = env.get("KUBEBUILDER_ASSETS")
    if explicit:
        directory = Path(explicit).expanduser()
        missing = _missing(directory)
        if missing:
            raise AssetsNotFoundError(
                f"KUBEBUILDER_ASSETS={explicit} lacks {', '.join(missing)} "
                "(expected setup-envtest's layout: kube-apiserver and etcd in one directory)"
            )
        return Assets(directory, "KUBEBUILDER_ASSETS")
    cached = cache_dir(env)
    if not _missing(cached):
        return Assets(cached, "cache")
    return None


def find_go(env: Mapping[str, str] | None = None) -> Path | None:
    """The ``go`` command on PATH, else the standard install location."""
    env = os.environ if env is None else env
    found = shutil.which("go", path=env.get("PATH"))
    if found:
        return Path(found)
    return _GO_FALLBACK if _is_executable(_GO_FALLBACK) else None


def ensure_assets(env: Mapping[str, str] | None = None, log: Log = print) -> Assets:
    """Assets from KUBEBUILDER_ASSETS or the cache, building them first if needed."""
    found = find_assets(env)
    if found is not None:
        return found
    return build_assets(env=env, log=log)


def require_assets(env: Mapping[str, str] | None = None) -> Assets:
    """Assets that exist already; never builds (a build takes minutes)."""
    found = find_assets(env)
    if found is None:
        raise AssetsNotFoundError(
            f"no control-plane binaries: KUBEBUILDER_ASSETS is not set and {cache_dir(env)} "
            "is empty; run `hardened dev build-assets` (needs Go >= 1.26) or point "
            "KUBEBUILDER_ASSETS at setup-envtest's binaries"
        )
    return found


def build_assets(
    *, env: Mapping[str, str] | None = None, force: bool = False, log: Log = print
) -> Assets:
    """Build kube-apiserver, etcd and kubectl into the cache (no-op when already cached).

    Raises AssetsNotFoundError when there is no Go toolchain, ControlPlaneError when the
    build fails (with the tail of Go's output).
    """
    env = dict(os.environ if env is None else env)
    target = cache_dir(env)
    if not force and not _missing(target):
        log(f"control-plane binaries already cached in {target}")
        return Assets(target, "cache")
    go = find_go(env)
    if go is None:
        raise AssetsNotFoundError(
            "cannot build the control-plane binaries: no `go` on PATH or in /usr/local/go/bin "
            "(install Go >= 1.26), and KUBEBUILDER_ASSETS is not set "
            "(e.g. `export KUBEBUILDER_ASSETS=$(setup-envtest use -p path 1.37.x)`)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    with lock(target.parent / f".{target.name}.lock", log):
        # Someone else may have finished the build while we waited for the lock.
        if not force and not _missing(target):
            log(f"control-plane binaries already cached in {target}")
            return Assets(target, "cache")
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix=f".build-{target.name}-", dir=target.parent) as tmp:
            work = Path(tmp)
            module, out = work / "module", work / target.name
            copy_module(module)
            out.mkdir()
            for name in (*REQUIRED, *OPTIONAL):
                log(f"building {name} ({_GO_PACKAGES[name]}) with {go} ...")
                began = time.monotonic()
                go_build(go, module, _GO_PACKAGES[name], out / name, env)
                log(f"  {name}: {time.monotonic() - began:.0f}s")
            _verify(out)
            (out / _MANIFEST).write_text(
                json.dumps(
                    {
                        "kubernetes": KUBERNETES_VERSION,
                        "etcd": ETCD_VERSION,
                        "go": _go_version(go, env),
                        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        "build_seconds": round(time.monotonic() - started),
                    },
                    indent=2,
                )
                + "\n"
            )
            replace_dir(out, target)
        log(f"built control-plane binaries into {target} in {time.monotonic() - started:.0f}s")
    return Assets(target, "cache")


def ldflags() -> str:
    """Version stamps, as Kubernetes' own build (hack/lib/version.sh) sets them.

    Without them the API server reports ``v0.0.0-master+$Format:%H$`` on /version.
    """
    major, minor = KUBERNETES_VERSION.lstrip("v").split(".")[:2]
    stamps = {
        "gitVersion": KUBERNETES_VERSION,
        "gitMajor": major,
        "gitMinor": minor,
        "gitTreeState": "clean",
    }
    flags = ["-s", "-w"]
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [f"-X {package}.{name}={value}" for name, value in stamps.items()]
    return " ".join(flags)


def _missing(directory: Path) -> list[str]:
    return [name for name in REQUIRED if not _is_executable(directory / name)]


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def module_source(module: str) -> Traversable:
    """The shipped Go module ``module`` (``envtest`` or one under ``gomod/``)."""
    base = resources.files("hardened_operator").joinpath("dev")
    if module == _KUBERNETES_MODULE:
        return base.joinpath(module)
    return base.joinpath("gomod", module)


def copy_module(destination: Path, module: str = _KUBERNETES_MODULE) -> None:
    # Copy out of the installed package: site-packages may be read-only, and Go must not
    # touch files we ship.
    destination.mkdir(parents=True)
    source = module_source(module)
    for name in _MODULE_FILES:
        entry = source.joinpath(name)
        if not entry.is_file():
            raise ControlPlaneError(f"the package is missing {module}/{name} (broken install?)")
        (destination / name).write_bytes(entry.read_bytes())


def go_build(
    go: Path,
    module: Path,
    package: str,
    output: Path,
    env: dict[str, str],
    *,
    cgo: bool = False,
    tags: str = "",
    flags: str | None = None,
) -> None:
    build_env = {**env, "CGO_ENABLED": "1" if cgo else "0", "GOFLAGS": _goflags(env)}
    command = [str(go), "build", "-trimpath", "-ldflags", ldflags() if flags is None else flags]
    if tags:
        command += ["-tags", tags]
    command += ["-o", str(output), package]
    with _elapsed_on_terminal(package.rsplit("/", 1)[-1]):
        result = subprocess.run(
            command, cwd=module, env=build_env, capture_output=True, text=True, check=False
        )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-25:])
        raise ControlPlaneError(f"`go build {package}` failed ({result.returncode}):\n{tail}")


@contextlib.contextmanager
def _elapsed_on_terminal(what: str) -> Iterator[None]:
    """On a terminal, a line that counts the seconds of a long step; in CI logs, nothing.

    A cold kube-apiserver build takes minutes with no output of its own: without this a person
    cannot tell a slow build from a hung one. Logs (not a TTY) get only the start and end lines
    the callers print, so CI output stays short.
    """
    stream = sys.stderr
    if not stream.isatty() or os.environ.get("CI") == "true":
        yield
        return
    done = threading.Event()
    started = time.monotonic()

    def tick() -> None:
        while not done.wait(1.0):
            stream.write(f"\r  {what}: {time.monotonic() - started:.0f}s elapsed ")
            stream.flush()

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        yield
    finally:
        done.set()
        ticker.join()
        stream.write("\r\033[K")  # clear the line; the caller logs the result
        stream.flush()


def _goflags(env: Mapping[str, str]) -> str:
    # The pinned go.sum is the contract: never let the build rewrite it, and don't stamp VCS
    # info from whatever directory we happen to be in.
    ours = ("-mod=", "-buildvcs=")
    flags = [f for f in env.get("GOFLAGS", "").split() if not f.startswith(ours)]
    return " ".join([*flags, "-mod=readonly", "-buildvcs=false"])


def _go_version(go: Path, env: Mapping[str, str]) -> str:
    result = subprocess.run(
        [str(go), "version"], env=dict(env), capture_output=True, text=True, check=False
    )
    return result.stdout.strip()


def _verify(directory: Path) -> None:
    result = subprocess.run(
        [str(directory / "kube-apiserver"), "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    if KUBERNETES_VERSION not in result.stdout:
        raise ControlPlaneError(
            f"built kube-apiserver reports {result.stdout.strip()!r}, not {KUBERNETES_VERSION}"
        )


def replace_dir(new: Path, target: Path) -> None:
    # rename() is atomic for an absent target; a stale one (force) is moved aside first.
    if target.exists():
        stale = target.with_name(f".stale-{target.name}-{os.getpid()}")
        target.rename(stale)
        shutil.rmtree(stale, ignore_errors=True)
    new.rename(target)


@contextlib.contextmanager
def lock(path: Path, log: Log) -> Iterator[None]:
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"another build holds {path}; waiting for it ...")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
