"""The local node's images: OCI archives containerd can import, built without a registry."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

from hardened_operator.dev import images


def _spec(user: str | None = "1000:1000") -> images.ImageSpec:
    return images.ImageSpec(
        name="localhost/test/app:1.0",
        files={"usr/local/bin/app": (0o755, b"#!/bin/sh\necho hi\n"), "etc/passwd": (0o644, b"")},
        symlinks={"bin/sh": "busybox"},
        directories={"tmp": 0o1777},
        entrypoint=["/usr/local/bin/app"],
        user=user,
    )


def _read(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive) as tar:
        return {
            member.name: tar.extractfile(member).read()  # type: ignore[union-attr]
            for member in tar.getmembers()
            if member.isfile()
        }


def _blob(files: dict[str, bytes], digest: str) -> bytes:
    return files[f"blobs/sha256/{digest.split(':', 1)[1]}"]


def test_the_archive_is_an_oci_layout_whose_digests_verify(tmp_path: Path) -> None:
    archive = tmp_path / "app.oci.tar"
    manifest_digest = images.write_oci_archive(_spec(), archive)
    files = _read(archive)
    assert json.loads(files["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    for name, data in files.items():
        if name.startswith("blobs/sha256/"):
            assert hashlib.sha256(data).hexdigest() == name.rsplit("/", 1)[1]
    index = json.loads(files["index.json"])
    [entry] = index["manifests"]
    assert entry["digest"] == manifest_digest
    assert entry["annotations"]["io.containerd.image.name"] == "localhost/test/app:1.0"
    assert entry["platform"] == {"architecture": "amd64", "os": "linux"}
    manifest = json.loads(_blob(files, manifest_digest))
    config = json.loads(_blob(files, manifest["config"]["digest"]))
    assert config["config"]["User"] == "1000:1000"
    assert config["config"]["Entrypoint"] == ["/usr/local/bin/app"]
    layer = _blob(files, manifest["layers"][0]["digest"])
    assert config["rootfs"]["diff_ids"] == [manifest["layers"][0]["digest"]]
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert members["usr/local/bin/app"].mode == 0o755
    assert members["bin/sh"].issym() and members["bin/sh"].linkname == "busybox"
    assert members["tmp"].isdir() and members["tmp"].mode == 0o1777
    assert {m.uid for m in members.values()} == {0}


def test_an_image_without_user_runs_as_root(tmp_path: Path) -> None:
    archive = tmp_path / "root.oci.tar"
    digest = images.write_oci_archive(_spec(user=None), archive)
    files = _read(archive)
    config: dict[str, Any] = json.loads(
        _blob(files, json.loads(_blob(files, digest))["config"]["digest"])
    )
    assert "User" not in config["config"]


def test_archives_are_reproducible(tmp_path: Path) -> None:
    first, second = tmp_path / "a.tar", tmp_path / "b.tar"
    assert images.write_oci_archive(_spec(), first) == images.write_oci_archive(_spec(), second)
    assert first.read_bytes() == second.read_bytes()
