"""The local node's volume provisioner: which claims get a volume, which volumes go."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hardened_operator.dev import provisioner

ROOT = Path("/var/volumes")
NODE = "hardened-dev-node"
UID = "0a1b2c3d-0000-4000-8000-000000000001"


def claim(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "metadata": {
            "name": "web-data",
            "namespace": "apps",
            "uid": UID,
            "annotations": {"volume.kubernetes.io/selected-node": NODE},
        },
        "spec": {
            "storageClassName": provisioner.STORAGE_CLASS,
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "10Gi"}},
        },
        "status": {"phase": "Pending"},
    }
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        target = body
        for key in parents:
            target = target.setdefault(key, {})
        if value is None:
            target.pop(leaf, None)
        else:
            target[leaf] = value
    return body


def test_a_placed_pending_claim_of_our_class_gets_a_local_volume_bound_to_it() -> None:
    work = provisioner.plan([claim()], [], ROOT, NODE)
    assert work.delete == []
    [volume] = work.create
    spec = volume["spec"]
    assert volume["metadata"]["name"] == f"pvc-{UID}"
    assert spec["local"] == {"path": f"{ROOT}/pvc-{UID}"}  # local, not hostPath: fsGroup applies
    assert "hostPath" not in spec
    assert spec["claimRef"] == {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "namespace": "apps",
        "name": "web-data",
        "uid": UID,
    }
    assert spec["capacity"] == {"storage": "10Gi"}
    assert spec["accessModes"] == ["ReadWriteOnce"]
    assert spec["storageClassName"] == provisioner.STORAGE_CLASS
    terms = spec["nodeAffinity"]["required"]["nodeSelectorTerms"]
    assert terms[0]["matchExpressions"][0]["values"] == [NODE]


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"spec__storageClassName": "other"}, "another class"),
        ({"spec__volumeName": "pv-1"}, "already bound"),
        ({"status__phase": "Bound"}, "not pending"),
        ({"metadata__annotations": {}}, "not placed by the scheduler yet"),
        ({"metadata__annotations": {"volume.kubernetes.io/selected-node": "x"}}, "another node"),
        ({"metadata__deletionTimestamp": "2026-01-01T00:00:00Z"}, "being deleted"),
    ],
)
def test_claims_that_are_not_ours_to_provision_are_left_alone(
    changes: dict[str, Any], why: str
) -> None:
    assert provisioner.plan([claim(**changes)], [], ROOT, NODE).create == [], why


def test_a_claim_whose_volume_exists_is_not_provisioned_twice() -> None:
    existing = provisioner.plan([claim()], [], ROOT, NODE).create
    assert provisioner.plan([claim()], existing, ROOT, NODE).create == []


def _volume(phase: str, policy: str = "Delete", ours: bool = True) -> dict[str, Any]:
    [volume] = provisioner.plan([claim()], [], ROOT, NODE).create
    volume["status"] = {"phase": phase}
    volume["spec"]["persistentVolumeReclaimPolicy"] = policy
    if not ours:
        volume["metadata"]["annotations"] = {}
    return volume


def test_released_volumes_of_ours_with_delete_policy_are_deleted_with_their_directory() -> None:
    work = provisioner.plan([], [_volume("Released")], ROOT, NODE)
    assert work.delete == [(f"pvc-{UID}", ROOT / f"pvc-{UID}")]


@pytest.mark.parametrize(
    "volume",
    [_volume("Bound"), _volume("Released", policy="Retain"), _volume("Released", ours=False)],
    ids=["bound", "retain-policy", "not-ours"],
)
def test_other_volumes_are_never_deleted(volume: dict[str, Any]) -> None:
    assert provisioner.plan([], [volume], ROOT, NODE).delete == []


def test_directories_outside_the_root_or_not_named_like_ours_are_never_removed(
    tmp_path: Path,
) -> None:
    root = tmp_path / "volumes"
    mine = root / f"pvc-{UID}"
    mine.mkdir(parents=True)
    (mine / "f").write_text("x")
    elsewhere = tmp_path / f"pvc-{UID}"
    elsewhere.mkdir()
    odd = root / "important"
    odd.mkdir()
    assert not provisioner.remove_directory(root, elsewhere)
    assert not provisioner.remove_directory(root, odd)
    assert not provisioner.remove_directory(root, root / ".." / "volumes")
    assert elsewhere.exists() and odd.exists()
    assert provisioner.remove_directory(root, mine)
    assert not mine.exists()


def test_the_storage_class_waits_for_the_scheduler_and_is_the_default() -> None:
    storage_class = provisioner.storage_class()
    assert storage_class["volumeBindingMode"] == "WaitForFirstConsumer"
    assert storage_class["provisioner"] == provisioner.PROVISIONER
    annotations = storage_class["metadata"]["annotations"]
    assert annotations["storageclass.kubernetes.io/is-default-class"] == "true"
