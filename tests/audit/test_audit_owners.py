"""Who is judged when objects are judged together (``workloads.judged_as``): every object
whole, and what it shares with its judged controlling owner is the owner's -- so an honest
chain is reported at the top owner, a ``kubectl debug`` container on its Pod, and a child
whose ``ownerReferences`` lie (or that differs from its owner) for what its owner lacks. Here
the rule itself, the order owners are read in, and the offline audit of files holding owner
chains (as ``kubectl get -o yaml`` exports them)."""

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
    JudgedOwners,
    OwnerFindings,
    judge,
    judged_as,
)
from tests.audit.audit_manifests import (
    DEBUGGED,
    FORGED_REPORTED,
    ROOT_DEBUGGER,
    bad_specs,
    compliant_spec,
    container,
    forged_children,
    hardened_service,
    owner_chains,
    owner_reference,
    rendered_workload,
    valid_object,
)
from tests.audit.audit_support import invoke, parse_json, write_yaml

ROOT = bad_specs()["pod-uid0"]


def _stored(kind: str, spec: dict[str, Any], name: str, namespace: str = "team") -> dict[str, Any]:
    obj = valid_object(kind, spec, name, namespace)
    obj["metadata"]["uid"] = f"uid-{kind}-{name}-{namespace}"
    return obj


def _child(kind: str, spec: dict[str, Any], *refs: dict[str, Any]) -> dict[str, Any]:
    obj = _stored(kind, spec, f"{kind.lower()}-child")
    obj["metadata"]["ownerReferences"] = list(refs)
    return obj


def _reported(obj: dict[str, Any], owners: JudgedOwners) -> set[tuple[str, str]]:
    return {(v.check, v.field) for v in judge(obj, owners).reported}


def _with_sidecar() -> dict[str, Any]:
    spec = bad_specs()["pod-uid0"]
    spec["containers"].append(container("sidecar", allowPrivilegeEscalation=True))
    return spec


def _other_image() -> dict[str, Any]:
    spec = bad_specs()["pod-uid0"]
    for item in spec["containers"]:
        item["image"] = "evil.example/miner:1"
    return spec


def _debugged() -> dict[str, Any]:
    spec = bad_specs()["pod-uid0"]
    spec["ephemeralContainers"] = [ROOT_DEBUGGER]
    return spec


RUN_AS_USER = ("runAsUser", "securityContext.runAsUser")
SIDECAR_ESCALATES = (
    "allowPrivilegeEscalation",
    "containers[1].securityContext.allowPrivilegeEscalation",
)
SIDECAR_CAPS = ("capabilities_restricted", "containers[1].securityContext.capabilities.drop")
DEBUGGER = {
    ("runAsUser", "ephemeralContainers[0].securityContext.runAsUser"),
    ("allowPrivilegeEscalation", "ephemeralContainers[0].securityContext.allowPrivilegeEscalation"),
    ("capabilities_restricted", "ephemeralContainers[0].securityContext.capabilities.drop"),
}


@pytest.mark.parametrize(
    ("owner_kind", "owner_spec", "kind", "spec", "reported"),
    [
        # Honest chains: the child's findings are its owner's template's; nothing is its own.
        ("ReplicaSet", ROOT, "Pod", ROOT, set()),
        ("Deployment", ROOT, "ReplicaSet", ROOT, set()),
        ("CronJob", ROOT, "Job", ROOT, set()),
        ("Job", ROOT, "Pod", ROOT, set()),
        # kubectl debug: owners have no ephemeral containers, so the debugger is the Pod's.
        ("ReplicaSet", ROOT, "Pod", _debugged(), DEBUGGER),
        # A forged owner reference: a root child naming a compliant owner is judged whole.
        ("ReplicaSet", compliant_spec(), "Pod", ROOT, {RUN_AS_USER}),
        ("Deployment", compliant_spec(), "ReplicaSet", ROOT, {RUN_AS_USER}),
        ("CronJob", compliant_spec(), "Job", ROOT, {RUN_AS_USER}),
        # A sidecar the owner does not have: its findings are the child's own, and so is the
        # pod-level root the owner shares, since it now applies to the sidecar too.
        (
            "Deployment",
            ROOT,
            "ReplicaSet",
            _with_sidecar(),
            {RUN_AS_USER, SIDECAR_ESCALATES, SIDECAR_CAPS},
        ),
        (
            "ReplicaSet",
            ROOT,
            "Pod",
            _with_sidecar(),
            {RUN_AS_USER, SIDECAR_ESCALATES, SIDECAR_CAPS},
        ),
        # The same finding as the owner's, in a container running another image: its own.
        ("ReplicaSet", ROOT, "Pod", _other_image(), {RUN_AS_USER}),
    ],
    ids=[
        "honest-pod",
        "honest-replicaset",
        "honest-job",
        "honest-job-pod",
        "debugged-pod",
        "forged-pod",
        "forged-replicaset",
        "forged-job",
        "diverged-replicaset",
        "diverged-pod",
        "other-image-pod",
    ],
)
def test_a_child_reports_what_its_owner_does_not_have(
    owner_kind: str,
    owner_spec: dict[str, Any],
    kind: str,
    spec: dict[str, Any],
    reported: set[tuple[str, str]],
) -> None:
    owner = _stored(owner_kind, owner_spec, "owner")
    owners = JudgedOwners()
    owners.remember(owner, judge(owner, owners).found)
    child = _child(kind, spec, owner_reference(owner))
    prefix = "spec." if kind == "Pod" else "spec.template.spec."
    assert _reported(child, owners) == {(check, prefix + field) for check, field in reported}
    # Its owner not known (unread, not in the input, not seen yet): judged whole.
    whole = {(v.check, v.field) for v in judge(child, JudgedOwners()).reported}
    assert _reported(child, JudgedOwners()) == whole
    assert whole >= {(check, prefix + field) for check, field in reported}


@pytest.mark.parametrize(
    ("owner", "reference"),
    [
        # Only a kind whose controllers make the child's kind vouches (no cycles: a Pod never
        # owns a Pod, a Deployment does not make Pods).
        (("Pod", "team"), {}),
        (("Deployment", "team"), {}),
        # ownerReferences never cross namespaces (the garbage collector ignores them).
        (("ReplicaSet", "other"), {}),
        # Not the controller, or no uid: nothing vouches.
        (("ReplicaSet", "team"), {"controller": False}),
        (("ReplicaSet", "team"), {"uid": None}),
        # The kind the reference claims does not matter: the stored owner's does.
        (("Deployment", "team"), {"kind": "ReplicaSet", "apiVersion": "apps/v1"}),
    ],
    ids=["pod", "deployment", "other-namespace", "not-controller", "no-uid", "kind-lies"],
)
def test_only_an_owner_that_could_have_made_the_child_vouches(
    owner: tuple[str, str], reference: dict[str, Any]
) -> None:
    made = _stored(owner[0], ROOT, "owner", owner[1])
    owners = JudgedOwners()
    owners.remember(made, judge(made, owners).found)
    pod = _child("Pod", ROOT, owner_reference(made, **reference))
    assert judged_as(pod, owners) == frozenset()
    assert _reported(pod, owners) == {("runAsUser", "spec.securityContext.runAsUser")}


def test_an_object_naming_itself_as_owner_is_judged_whole() -> None:
    replica_set = _stored("ReplicaSet", ROOT, "self")
    owners = JudgedOwners()
    owners.remember(replica_set, judge(replica_set, owners).found)
    replica_set["metadata"]["ownerReferences"] = [owner_reference(replica_set)]
    assert judged_as(replica_set, owners) == frozenset()


@pytest.mark.parametrize(
    "references",
    ["not a list", [None, "x"], [{"controller": "true", "uid": "u-1"}], []],
)
def test_malformed_owner_references_vouch_for_nothing(references: Any) -> None:
    obj = _child("Pod", ROOT)
    obj["metadata"]["ownerReferences"] = references
    everything = OwnerFindings(
        "ReplicaSet", "team", frozenset({("runAsUser", "spec.x", "m", "app", "img")})
    )
    assert judged_as(obj, lambda ref: everything) == frozenset()


def test_the_owner_lookup_is_asked_for_the_controller() -> None:
    asked: list[ControllerRef] = []
    pod = _child(
        "Pod",
        ROOT,
        {"apiVersion": "v1", "kind": "Node", "name": "n", "uid": "u-0"},
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": "o",
            "uid": "u-1",
            "controller": True,
        },
    )
    assert judged_as(pod, lambda ref: asked.append(ref)) == frozenset()
    assert asked == [ControllerRef("apps", "ReplicaSet", "o", "u-1")]


def test_a_hardened_service_vouches_for_the_deployment_it_renders() -> None:
    service = hardened_service("svc", "team")
    service["spec"]["securityContext"] = {"runAsNonRoot": True}
    service["metadata"]["uid"] = "uid-svc"
    owners = JudgedOwners()
    owners.remember(service, judge(service, owners, "restricted").found)
    deployment = rendered_workload("svc", "team", "Deployment")
    deployment["metadata"]["ownerReferences"] = [owner_reference(service)]
    assert judge(deployment, owners, "restricted").reported == []
    # The same Deployment made root by hand keeps what the service does not render.
    deployment["spec"]["template"]["spec"]["securityContext"]["runAsUser"] = 0
    assert {(v.check, v.field) for v in judge(deployment, owners, "restricted").reported} == {
        ("runAsUser", "spec.template.spec.securityContext.runAsUser")
    }


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
        # The Deployment the service renders is compliant: judged whole, it is still clean.
        (("HardenedService", "svc"), TOP, {"ephemeralContainer"}),
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
    # Alone, the owned file lacks the top owners: what they made is judged itself (the
    # service's rendered Deployment is compliant).
    assert {(e["kind"], e["name"]) for e in parse_json(alone)} == {
        ("ReplicaSet", "web-1"),
        ("Job", "nightly-1"),
        DEBUGGED,
    }


def test_the_table_counts_every_object_read(tmp_path: Path) -> None:
    result = invoke(str(write_yaml(tmp_path / "export.yaml", _export())))
    assert result.exit_code == 1
    assert "in 8 objects from 1 file" in result.output


def test_files_report_children_whose_owner_references_lie(tmp_path: Path) -> None:
    uids = itertools.count()

    def keep(obj: dict[str, Any]) -> dict[str, Any]:
        obj["metadata"]["uid"] = f"00000000-0000-4000-9000-{next(uids):012d}"
        return obj

    made = forged_children("team", keep)
    export = {"apiVersion": "v1", "kind": "List", "items": list(made.values())}
    result = invoke(str(write_yaml(tmp_path / "export.yaml", export)), "--format", "json")
    assert result.exit_code == 1, result.output
    reported: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for entry in parse_json(result):
        reported.setdefault((entry["kind"], entry["name"]), set()).add(
            (entry["check"], entry["field"])
        )
    assert reported == FORGED_REPORTED


def test_two_objects_claiming_one_uid_vouch_only_for_what_both_found(tmp_path: Path) -> None:
    compliant = _stored("ReplicaSet", compliant_spec(), "rs")
    root_twin = _stored("ReplicaSet", ROOT, "rs-twin")
    root_twin["metadata"]["uid"] = compliant["metadata"]["uid"]
    pod = _child("Pod", ROOT, owner_reference(compliant))
    result = invoke(
        str(write_yaml(tmp_path / "x.yaml", compliant, root_twin, pod)), "--format", "json"
    )
    found = {(e["kind"], e["name"]) for e in parse_json(result)}
    assert found == {("ReplicaSet", "rs-twin"), ("Pod", "pod-child")}
