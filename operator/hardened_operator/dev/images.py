"""The local node's images, built without a registry or a Docker engine.

Three images, written as OCI image archives (``oci-layout``, ``index.json``, ``blobs/``) that
``ctr images import`` loads into containerd:

- ``pause``: the pod sandbox (a small Go program of ours), under the name containerd's CRI
  pins as its sandbox image, so no pod ever pulls one;
- ``sample-app``: a busybox userland (Debian's ``busybox-static``) and our Go test service,
  running as ``1000:1000``: what the tests run and ``kubectl exec`` into;
- ``sample-root``: the same files with no ``USER``, i.e. an image that runs as root.

Archives are deterministic (fixed timestamps and owners, sorted entries) and cached under a
digest of their inputs.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hardened_operator.dev import assets
from hardened_operator.errors import AssetsNotFoundError, ControlPlaneError

SANDBOX_IMAGE = "registry.k8s.io/pause:3.10.2"
SAMPLE_APP_IMAGE = "localhost/hardened-dev/sample-app:1.0"
SAMPLE_ROOT_IMAGE = "localhost/hardened-dev/sample-root:1.0"
MISSING_IMAGE = "localhost/hardened-dev/does-not-exist:1.0"
"""A name no archive provides: pulling it fails at once (nothing listens on localhost:443)."""

BUSYBOX = Path("/bin/busybox")
# The applets the tests and a person in `kubectl exec` use.
_APPLETS = (
    "sh", "id", "cat", "ls", "touch", "stat", "mkdir", "rm", "echo", "sleep", "wget", "grep",
    "env", "ps", "df", "mount", "head", "tail", "test", "true", "false", "whoami",
)  # fmt: skip
_PASSWD = "root:x:0:0:root:/root:/bin/sh\nai:x:1000:1000:ai:/app:/bin/sh\n"
_GROUP = "root:x:0:\nai:x:1000:\n"
_EPOCH = 0  # every file's mtime: reproducible layers


@dataclass(frozen=True)
class ImageSpec:
    """One image: its name, files (path -> (mode, bytes or a symlink target)), config."""

    name: str
    files: Mapping[str, tuple[int, bytes]]
    symlinks: Mapping[str, str]
    directories: Mapping[str, int]
    entrypoint: list[str]
    user: str | None
    env: list[str] = field(default_factory=lambda: ["PATH=/usr/local/bin:/bin"])
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BuiltImages:
    """The archives, by image name."""

    directory: Path
    archives: Mapping[str, Path]


def _sources_digest(busybox: bytes) -> str:
    digest = hashlib.sha256(busybox)
    root = assets.module_source("images")
    for relative in ("go.mod", "pause/main.go", "sample-app/main.go"):
        digest.update(relative.encode() + b"\0" + root.joinpath(relative).read_bytes())
    digest.update(f"{SANDBOX_IMAGE}{SAMPLE_APP_IMAGE}{SAMPLE_ROOT_IMAGE}".encode())
    return digest.hexdigest()[:12]


def cache_dir(busybox: bytes, env: Mapping[str, str] | None = None) -> Path:
    return assets.cache_root(env) / "images" / _sources_digest(busybox)


def ensure_images(env: Mapping[str, str] | None = None, log: assets.Log = print) -> BuiltImages:
    """Build (or find cached) the three archives."""
    env = dict(os.environ if env is None else env)
    if not BUSYBOX.is_file():
        raise AssetsNotFoundError(
            f"{BUSYBOX} is missing: install Debian's busybox-static (apt-get install "
            "busybox-static); the test images' userland comes from it"
        )
    busybox = BUSYBOX.read_bytes()
    target = cache_dir(busybox, env)
    names = (SANDBOX_IMAGE, SAMPLE_APP_IMAGE, SAMPLE_ROOT_IMAGE)
    archives = {name: target / f"{_file_name(name)}.oci.tar" for name in names}
    if all(path.is_file() for path in archives.values()):
        return BuiltImages(target, archives)
    go = assets.find_go(env)
    if go is None:
        raise AssetsNotFoundError("cannot build the test images: no `go` (install Go >= 1.26)")
    target.parent.mkdir(parents=True, exist_ok=True)
    with assets.lock(target.parent / f".{target.name}.lock", log):
        if all(path.is_file() for path in archives.values()):
            return BuiltImages(target, archives)
        with tempfile.TemporaryDirectory(prefix=".build-", dir=target.parent) as tmp:
            work = Path(tmp)
            module = work / "module"
            shutil.copytree(str(assets.module_source("images")), module)
            binaries = {}
            for program in ("pause", "sample-app"):
                log(f"building the {program} program ...")
                out = work / program
                assets.go_build(go, module, f"./{program}", out, env, flags="-s -w")
                binaries[program] = out.read_bytes()
            out_dir = work / "images"
            out_dir.mkdir()
            for spec in _specs(busybox, binaries):
                write_oci_archive(spec, out_dir / archives[spec.name].name)
                log(f"wrote {spec.name}")
            assets.replace_dir(out_dir, target)
    return BuiltImages(target, archives)


def _file_name(image: str) -> str:
    return image.rsplit("/", 1)[-1].replace(":", "-")


def _specs(busybox: bytes, binaries: Mapping[str, bytes]) -> list[ImageSpec]:
    userland_files = {
        "bin/busybox": (0o755, busybox),
        "usr/local/bin/sample-app": (0o755, binaries["sample-app"]),
        "etc/passwd": (0o644, _PASSWD.encode()),
        "etc/group": (0o644, _GROUP.encode()),
    }
    userland_links = {f"bin/{applet}": "busybox" for applet in _APPLETS}
    userland_dirs = {
        "tmp": 0o1777,
        "app": 0o755,
        **{f"app/{name}": 0o755 for name in ("logs", "data", "models", "cache")},
    }
    labels = {"org.opencontainers.image.source": "hardened-operator dev/images.py"}
    return [
        ImageSpec(
            SANDBOX_IMAGE,
            {"pause": (0o755, binaries["pause"])},
            {},
            {},
            ["/pause"],
            "65535:65535",
            env=[],
        ),
        ImageSpec(
            SAMPLE_APP_IMAGE,
            userland_files,
            userland_links,
            userland_dirs,
            ["/usr/local/bin/sample-app"],
            "1000:1000",
            labels=labels,
        ),
        ImageSpec(
            SAMPLE_ROOT_IMAGE,
            userland_files,
            userland_links,
            userland_dirs,
            ["/usr/local/bin/sample-app"],
            None,  # no USER: the image runs as root
            labels=labels,
        ),
    ]


def _layer(spec: ImageSpec) -> bytes:
    buffer = io.BytesIO()
    entries: list[tuple[str, tarfile.TarInfo, bytes | None]] = []
    parents: set[str] = set()
    for path in [*spec.files, *spec.symlinks, *spec.directories]:
        parts = path.split("/")[:-1]
        parents.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    for directory in sorted(parents | set(spec.directories)):
        info = tarfile.TarInfo(directory + "/")
        info.type = tarfile.DIRTYPE
        info.mode = spec.directories.get(directory, 0o755)
        entries.append((directory, info, None))
    for path, (mode, data) in spec.files.items():
        info = tarfile.TarInfo(path)
        info.mode, info.size = mode, len(data)
        entries.append((path, info, data))
    for path, target in spec.symlinks.items():
        info = tarfile.TarInfo(path)
        info.type, info.linkname, info.mode = tarfile.SYMTYPE, target, 0o777
        entries.append((path, info, None))
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for _, info, content in sorted(entries, key=lambda entry: entry[0]):
            info.mtime, info.uid, info.gid, info.uname, info.gname = _EPOCH, 0, 0, "", ""
            tar.addfile(info, io.BytesIO(content) if content is not None else None)
    return buffer.getvalue()


def _blob(blobs: dict[str, bytes], data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    blobs[digest] = data
    return digest


def _canonical(document: object) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def write_oci_archive(spec: ImageSpec, path: Path) -> str:
    """Write ``spec`` as an OCI image archive at ``path``; return the manifest digest."""
    blobs: dict[str, bytes] = {}
    layer = _layer(spec)
    layer_digest = _blob(blobs, layer)
    config: dict[str, object] = {
        "architecture": "amd64",
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": {
            "Entrypoint": spec.entrypoint,
            "Env": spec.env,
            "WorkingDir": "/",
            "Labels": dict(spec.labels),
            **({"User": spec.user} if spec.user is not None else {}),
        },
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "hardened dev images"}],
    }
    config_bytes = _canonical(config)
    config_digest = _blob(blobs, config_bytes)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": len(config_bytes),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": layer_digest,
                "size": len(layer),
            }
        ],
    }
    manifest_bytes = _canonical(manifest)
    manifest_digest = _blob(blobs, manifest_bytes)
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": manifest_digest,
                "size": len(manifest_bytes),
                "platform": {"architecture": "amd64", "os": "linux"},
                "annotations": {
                    "io.containerd.image.name": spec.name,
                    "org.opencontainers.image.ref.name": spec.name.rsplit(":", 1)[-1],
                },
            }
        ],
    }
    files = {
        "oci-layout": _canonical({"imageLayoutVersion": "1.0.0"}),
        "index.json": _canonical(index),
        **{f"blobs/sha256/{d.split(':', 1)[1]}": data for d, data in blobs.items()},
    }
    with tarfile.open(path, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for directory in ("blobs", "blobs/sha256"):
            info = tarfile.TarInfo(directory + "/")
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, _EPOCH
            tar.addfile(info)
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, _EPOCH
            tar.addfile(info, io.BytesIO(data))
    return manifest_digest


def import_archives(
    ctr: Path, address: str, archives: Iterable[Path], log: assets.Log = print
) -> None:
    """``ctr -n k8s.io images import`` each archive (the namespace the CRI plugin reads)."""
    for archive in archives:
        result = subprocess.run(
            [str(ctr), "--address", address, "-n", "k8s.io", "images", "import", str(archive)],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if result.returncode != 0:
            raise ControlPlaneError(
                f"ctr images import {archive} failed: {(result.stdout + result.stderr).strip()}"
            )
        log(f"imported {archive.name}")
