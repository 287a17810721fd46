"""The local node's dynamic volume provisioner: ``local`` PersistentVolumes in a directory.

It follows the external-provisioner contract, in the small: a claim of our StorageClass that
the scheduler has placed (``volume.kubernetes.io/selected-node``, since the class binds
``WaitForFirstConsumer``) gets a directory and a ``local`` PersistentVolume pre-bound to it
(``claimRef``); the PV controller of kube-controller-manager completes the binding. A
``Released`` volume of ours whose reclaim policy is ``Delete`` loses its directory, then its
object.

``local`` rather than ``hostPath`` volumes on purpose: the kubelet applies a pod's
``fsGroup`` to local volumes (group ownership, setgid directories), never to hostPath ones,
and the directories are created ``0755 root:root`` -- nothing is world-writable, so a pod
can write there only through fsGroup, which is what the tests prove.

Run as ``python -m hardened_operator.dev.provisioner --kubeconfig K --root DIR --node N``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROVISIONER = "hardened.dev/local"
STORAGE_CLASS = "hardened-local"
_SELECTED_NODE = "volume.kubernetes.io/selected-node"
_PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"


def storage_class() -> dict[str, Any]:
    """The node's default StorageClass."""
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": STORAGE_CLASS,
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
    }


@dataclass(frozen=True)
class Plan:
    """What one pass should do: volumes to create, volumes (and directories) to delete."""

    create: list[dict[str, Any]]
    delete: list[tuple[str, Path]]


def volume_name(claim: Mapping[str, Any]) -> str:
    """``pvc-<claim uid>``, as the external provisioners name theirs."""
    return f"pvc-{claim['metadata']['uid']}"


def plan(
    claims: Sequence[Mapping[str, Any]],
    volumes: Sequence[Mapping[str, Any]],
    root: Path,
    node: str,
) -> Plan:
    """Pure: the work for one pass, from every claim and volume in the cluster."""
    existing = {v["metadata"]["name"] for v in volumes}
    create = []
    for claim in claims:
        meta, spec = claim.get("metadata") or {}, claim.get("spec") or {}
        annotations = meta.get("annotations") or {}
        if spec.get("storageClassName") != STORAGE_CLASS or spec.get("volumeName"):
            continue
        if (claim.get("status") or {}).get("phase") != "Pending":
            continue
        if meta.get("deletionTimestamp") or annotations.get(_SELECTED_NODE) != node:
            continue
        name = volume_name(claim)
        if name not in existing:
            create.append(_volume(claim, name, root / name, node))
    delete = []
    for volume in volumes:
        meta, spec = volume.get("metadata") or {}, volume.get("spec") or {}
        if (meta.get("annotations") or {}).get(_PROVISIONED_BY) != PROVISIONER:
            continue
        released = (volume.get("status") or {}).get("phase") in ("Released", "Failed")
        if released and spec.get("persistentVolumeReclaimPolicy") == "Delete":
            path = Path((spec.get("local") or {}).get("path") or "")
            delete.append((str(meta["name"]), path))
    return Plan(create, delete)


def _volume(claim: Mapping[str, Any], name: str, path: Path, node: str) -> dict[str, Any]:
    meta, spec = claim["metadata"], claim["spec"]
    storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name, "annotations": {_PROVISIONED_BY: PROVISIONER}},
        "spec": {
            "capacity": {"storage": storage},
            "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
            "persistentVolumeReclaimPolicy": "Delete",
            "storageClassName": STORAGE_CLASS,
            "volumeMode": "Filesystem",
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": meta["namespace"],
                "name": meta["name"],
                "uid": meta["uid"],
            },
            "local": {"path": str(path)},
            "nodeAffinity": {
                "required": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {
                                    "key": "kubernetes.io/hostname",
                                    "operator": "In",
                                    "values": [node],
                                }
                            ]
                        }
                    ]
                }
            },
        },
    }


_SAFE_NAME = re.compile(r"^pvc-[0-9a-f-]{36}$")


def remove_directory(root: Path, path: Path) -> bool:
    """Delete a volume's directory, only if it is one of ours (directly under ``root``)."""
    if path.parent != root or not _SAFE_NAME.match(path.name):
        return False
    shutil.rmtree(path, ignore_errors=True)
    return True


def run_once(api: Any, root: Path, node: str) -> Plan:
    """One pass: list, plan, act. Directories exist before the volume that names them."""
    from hardened_operator.k8s import devnode

    work = plan(devnode.list_claims(api), devnode.list_volumes(api), root, node)
    for volume in work.create:
        path = Path(volume["spec"]["local"]["path"])
        path.mkdir(mode=0o755, parents=True, exist_ok=True)
        devnode.create_volume(api, volume)
        print(f"provisioned {volume['metadata']['name']} at {path}", flush=True)
    for name, path in work.delete:
        remove_directory(root, path)
        devnode.delete_volume(api, name)
        print(f"deleted {name} and {path}", flush=True)
    return work


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hardened-dev-provisioner")
    parser.add_argument("--kubeconfig", required=True, type=Path)
    parser.add_argument("--root", required=True, type=Path)
    parser.add_argument("--node", required=True)
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args(argv)

    from hardened_operator.errors import ApiError
    from hardened_operator.k8s import bootstrap

    args.root.mkdir(parents=True, exist_ok=True)
    api = bootstrap.api_client(args.kubeconfig)
    print(f"provisioning {STORAGE_CLASS} volumes under {args.root} on {args.node}", flush=True)
    while True:
        try:
            run_once(api, args.root.resolve(), args.node)
        except (ApiError, OSError) as error:  # the API server restarting: try again
            print(f"warning: {error}", file=sys.stderr, flush=True)
        time.sleep(args.interval)


if __name__ == "__main__":
    sys.exit(main())
