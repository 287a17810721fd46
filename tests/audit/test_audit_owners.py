"""Who is judged when objects are judged together (``workloads.judged_as``): the top owner,
an owned Pod for its ephemeral containers, and -- fail safe -- anything whose owner is not
known to be judged, whole. Here the rule itself, the order owners are read in, and the
offline audit of files holding owner chains (as ``kubectl get -o yaml`` exports them)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from hardened_operator import KIND
from hardened_operator.builders.objects import WORKLOAD_KINDS
from hardened_operator.workloads import (
    OWNERS_FIRST,
    POD_BEARING,
    ControllerRef,
    Judged,
    judged_as,
    review_judged,
)
from tests.audit.audit_manifests import (
    DEBUGGED,
    ROOT_DEBUGGER,
    bad_specs,
    owner_chains,
    valid_object,
)
from tests.audit.audit_support import invoke, parse_json, write_yaml

ROOT = bad_specs()["pod-uid0"]


def _owned(kind: str, owner: dict[str, Any] | None) -> dict[str, Any]:
    obj = valid_object(kind, ROOT, f"{kind.lower()}-x", "team")
    if owner is not None:
        obj["metadata"]["ownerReferences"] = [{"name": "o", "uid": "u-1", **owner}]
    return obj


DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment", "controller": True}
REPLICA_SET = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "controller": True}
CRON_JOB = {"apiVersion": "batch/v1", "kind": "CronJob", "controller": True}
SERVICE = {"apiVersion": "ai-system.io/v1alpha1", "kind": KIND, "controller": True}


@pytest.mark.parametrize(
    ("kind", "owner", "owner_judged", "expected"),
    [
        ("ReplicaSet", DEPLOYMENT, True, Judged.THROUGH_OWNER),
        ("Job", CRON_JOB, True, Judged.THROUGH_OWNER),
        ("Deployment", SERVICE, True, Judged.THROUGH_OWNER),
        ("Pod", REPLICA_SET, True, Judged.EPHEMERAL_CONTAINERS),
        # Fail safe: an owner not known to be judged (unreadable, absent) vouches for nothing.
        ("ReplicaSet", DEPLOYMENT, False, Judged.WHOLE),
        ("Job", CRON_JOB, False, Judged.WHOLE),
        ("Deployment", SERVICE, False, Judged.WHOLE),
        ("Pod", REPLICA_SET, False, Judged.WHOLE),
        # No controller: an owner that is not the controller makes nothing.
        ("Pod", None, True, Judged.WHOLE),
        ("Pod", {**REPLICA_SET, "controller": False}, True, Judged.WHOLE),
        (
            "ReplicaSet",
            {k: v for k, v in DEPLOYMENT.items() if k != "controller"},
            True,
            Judged.WHOLE,
        ),
    ],
)
def test_an_object_is_judged_through_its_owner_only_when_the_owner_is_judged(
    kind: str, owner: dict[str, Any] | None, owner_judged: bool, expected: Judged
) -> None:
    asked: list[ControllerRef] = []

    def judged(ref: ControllerRef) -> bool:
        asked.append(ref)
        return owner_judged

    assert judged_as(_owned(kind, owner), judged) is expected
    if owner is not None and owner.get("controller") is True:
        assert asked == [ControllerRef(owner["apiVersion"].rpartition("/")[0], owner["kind"],
                                       "o", "u-1")]  # fmt: skip


@pytest.mark.parametrize(
    "references",
    ["not a list", [None, "x"], [{"controller": "true", "uid": "u-1"}], []],
)
def test_malformed_owner_references_vouch_for_nothing(references: Any) -> None:
    obj = _owned("Pod", None)
    obj["metadata"]["ownerReferences"] = references
    assert judged_as(obj, lambda ref: True) is Judged.WHOLE


def test_an_owned_pod_is_judged_for_its_ephemeral_containers_only() -> None:
    pod = _owned("Pod", REPLICA_SET)
    assert review_judged(pod, Judged.EPHEMERAL_CONTAINERS) == []  # the root template: its owner's
    pod["spec"]["ephemeralContainers"] = [ROOT_DEBUGGER]
    found = review_judged(pod, Judged.EPHEMERAL_CONTAINERS)
    assert found and {(v.container, v.container_type) for v in found} == {
        ("debugger", "ephemeralContainer")
    }
    # Whole, the pod-level runAsUser 0 of its template counts too (no container: None).
    assert {v.container_type for v in review_judged(pod, Judged.WHOLE)} == {
        None,
        "ephemeralContainer",
    }
    assert review_judged(pod, Judged.THROUGH_OWNER) == []


def test_owners_are_read_before_what_they_make() -> None:
    order = [kind.kind for kind in OWNERS_FIRST]
    assert sorted(order) == sorted(kind.kind for kind in POD_BEARING)
    for kind in POD_BEARING:
        for maker in kind.made_by:
            assert order.index(maker) < order.index(kind.kind), (maker, kind.kind)
    for before, after in itertools.pairwise([KIND, "Deployment", "ReplicaSet", "Pod"]):
        assert order.index(before) < order.index(after)
    assert order.index("CronJob") < order.index("Job")
    assert order[-1] == "Pod"


def test_the_operator_makes_the_workloads_said_to_be_made_by_a_hardened_service() -> None:
    made = {kind.kind for kind in POD_BEARING if KIND in kind.made_by}
    assert made == set(WORKLOAD_KINDS)


# ----------------------------------------------------------------- the offline audit of files


def _export(leave_out: frozenset[tuple[str, str]] = frozenset()) -> dict[str, Any]:
    """The owner chains as ``kubectl get -o yaml`` prints them: a List, uids set."""
    uids = itertools.count()

    def keep(obj: dict[str, Any]) -> dict[str, Any]:
        obj["metadata"]["uid"] = f"00000000-0000-4000-8000-{next(uids):012d}"
        return obj

    made = owner_chains("team", keep, leave_out)
    if DEBUGGED in made:
        made[DEBUGGED]["spec"]["ephemeralContainers"] = [ROOT_DEBUGGER]
    return {"apiVersion": "v1", "kind": "List", "items": list(made.values())}


TOP = {("Deployment", "web"), ("CronJob", "nightly"), DEBUGGED}


@pytest.mark.parametrize(
    ("left_out", "violating", "debugged_pod"),
    [
        (None, TOP, {"ephemeralContainer"}),
        (
            ("Deployment", "web"),
            TOP - {("Deployment", "web")} | {("ReplicaSet", "web-1")},
            {"ephemeralContainer"},
        ),
        (("ReplicaSet", "web-1"), TOP, {None, "ephemeralContainer"}),  # None: pod-level
        (
            ("CronJob", "nightly"),
            TOP - {("CronJob", "nightly")} | {("Job", "nightly-1")},
            {"ephemeralContainer"},
        ),
        (("HardenedService", "svc"), TOP | {("Deployment", "svc")}, {"ephemeralContainer"}),
    ],
    ids=["all", "no-deployment", "no-replicaset", "no-cronjob", "no-hardenedservice"],
)
def test_files_judge_an_object_through_its_owner_when_the_owner_is_in_the_input(
    tmp_path: Path,
    left_out: tuple[str, str] | None,
    violating: set[tuple[str, str]],
    debugged_pod: set[str | None],
) -> None:
    export = _export(frozenset({left_out}) if left_out else frozenset())
    result = invoke(str(write_yaml(tmp_path / "export.yaml", export)), "--format", "json")
    assert result.exit_code == 1, result.output
    entries = parse_json(result)
    assert {(e["kind"], e["name"]) for e in entries} == violating
    on_pod = {e["containerType"] for e in entries if (e["kind"], e["name"]) == DEBUGGED}
    assert on_pod == debugged_pod


def test_an_owner_in_another_file_of_the_same_run_counts(tmp_path: Path) -> None:
    items = _export()["items"]
    owners = [o for o in items if "ownerReferences" not in o["metadata"]]  # the top owners
    rest = [o for o in items if o not in owners]
    # The owned objects first: the owners are read after them, in another file.
    first = write_yaml(tmp_path / "a-owned.yaml", *rest)
    second = write_yaml(tmp_path / "b-owners.yaml", *owners)
    result = invoke(str(first), str(second), "--format", "json")
    assert {(e["kind"], e["name"]) for e in parse_json(result)} == TOP
    alone = invoke(str(first), "--format", "json")
    # Alone, the owned file lacks the top owners: what they made is judged itself.
    assert {(e["kind"], e["name"]) for e in parse_json(alone)} == {
        ("ReplicaSet", "web-1"),
        ("Job", "nightly-1"),
        ("Deployment", "svc"),
        DEBUGGED,
    }


def test_the_table_counts_every_object_read(tmp_path: Path) -> None:
    result = invoke(str(write_yaml(tmp_path / "export.yaml", _export())))
    assert result.exit_code == 1
    assert "in 8 objects from 1 file" in result.output
