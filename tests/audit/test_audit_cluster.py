"""``hardened audit --cluster`` against a real kube-apiserver: the same findings as the files
kubectl exports, the per-namespace summary, and what it reads and skips."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from hardened_operator.conventions import ENFORCE_LABEL
from hardened_operator.k8s import bootstrap, inventory
from tests.audit.audit_manifests import (
    DEBUGGED,
    FORGED,
    FORGED_REPORTED,
    bad_specs,
    compliant_spec,
    forged_children,
    valid_object,
)
from tests.audit.cluster_support import (
    RESOURCES,
    comparable,
    create,
    create_owner_chains,
    mixed_objects,
    run_hardened,
    sarif_namespaces,
)
from tests.support.controlplane import ControlPlaneHandle

pytestmark = pytest.mark.controlplane


@pytest.fixture
def labelled_namespaces(k8s_api: Any) -> Iterator[dict[str, str]]:
    """Fresh namespaces, one per value of the enforce label (``none``: no label), each with
    one root Pod and one compliant Pod."""
    suffix = uuid.uuid4().hex[:6]
    created: dict[str, str] = {}
    for value in ("none", "enforce", "warn", "audit", "disabled", "bogus", "exempted"):
        name = f"t-modes-{value}-{suffix}"
        labels = {ENFORCE_LABEL: value} if value not in ("none", "exempted") else None
        bootstrap.create_namespace(k8s_api, name, labels)
        bootstrap.ensure_service_account(k8s_api, name)
        created[value] = name
        create(k8s_api, valid_object("Pod", bad_specs()["pod-uid0"], "root", name))
        create(k8s_api, valid_object("Pod", compliant_spec(), "fine", name))
    try:
        yield created
    finally:
        for name in created.values():
            bootstrap.delete_namespace(k8s_api, name)


def test_cluster_and_its_kubectl_export_give_the_same_findings(
    control_plane: ControlPlaneHandle, k8s_api: Any, namespace: str, tmp_path: Path
) -> None:
    objects = mixed_objects(namespace)
    for obj in objects:
        create(k8s_api, obj)
    chains = create_owner_chains(k8s_api, namespace)  # judged through their top owners
    kubectl = shutil.which("kubectl")
    assert kubectl is not None, "kubectl is needed to export the objects as a user would"
    export = subprocess.run(
        [kubectl, "get", ",".join(RESOURCES), "-n", namespace, "-o", "yaml"],
        capture_output=True, text=True, timeout=60, check=True, env=control_plane.env(),
    )  # fmt: skip
    exported = tmp_path / "export.yaml"
    exported.write_text(export.stdout)

    offline = run_hardened("audit", str(exported), "--format", "json")
    live = run_hardened(
        "audit", "--cluster", "--kubeconfig", str(control_plane.kubeconfig),
        "-n", namespace, "--format", "json",
    )  # fmt: skip

    assert offline.returncode == live.returncode == 1, (offline.stderr, live.stderr)
    offline_entries, live_entries = json.loads(offline.stdout), json.loads(live.stdout)
    assert comparable(live_entries) == comparable(offline_entries)
    # Not two empty lists: every kind has findings, and a compliant object has none.
    judged = {(e["kind"], e["name"]) for e in live_entries}
    assert {kind for kind, _ in judged} == {obj["kind"] for obj in objects} - {"HardenedService"}
    assert not any(name.endswith("-ok") for _, name in judged)
    assert all(e["line"] is None and e["file"].endswith(f"/{e['name']}") for e in live_entries)
    # The owner chains: each failure once, at its top owner, and the debug container on its Pod.
    assert judged & set(chains) == {("Deployment", "web"), ("CronJob", "nightly"), DEBUGGED}
    debugged = [e for e in live_entries if (e["kind"], e["name"]) == DEBUGGED]
    assert {(e["container"], e["containerType"]) for e in debugged} == {
        ("debugger", "ephemeralContainer")
    }


def test_summary_gives_each_namespace_its_mode_and_what_admission_refuses(
    control_plane: ControlPlaneHandle, labelled_namespaces: dict[str, str]
) -> None:
    result = run_hardened(
        "audit", "--cluster", "--kubeconfig", str(control_plane.kubeconfig), "-A",
        "--format", "sarif", "--exempt-namespace", labelled_namespaces["exempted"],
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    rows = sarif_namespaces(result.stdout)
    expected = {  # label value -> (mode, refused now, refused if enforced)
        "none": ("enforce", 1, 1),
        "enforce": ("enforce", 1, 1),
        "bogus": ("enforce", 1, 1),  # an unknown value enforces (fail closed)
        "warn": ("warn", 0, 1),
        "audit": ("audit", 0, 1),
        "disabled": ("disabled", 0, 1),
        "exempted": ("exempt", 0, 0),
    }
    for value, (mode, now, enforced) in expected.items():
        row = rows[labelled_namespaces[value]]
        assert (row["mode"], row["refusedNow"], row["refusedIfEnforced"]) == (
            mode,
            now,
            enforced,
        ), row
        assert (row["objects"], row["violating"], row["partial"]) == (2, 1, False)
    # The same summary is shown to a human beside the machine format.
    warn_row = [labelled_namespaces["warn"], "warn", "warn", "2", "1", "0", "1"]
    assert warn_row in [line.split() for line in result.stderr.splitlines()]
    assert "Admission refuses" in result.stderr


def test_table_report_ends_with_the_namespace_summary(
    control_plane: ControlPlaneHandle, labelled_namespaces: dict[str, str]
) -> None:
    name = labelled_namespaces["warn"]
    result = run_hardened(
        "audit", "--cluster", "--kubeconfig", str(control_plane.kubeconfig), "-n", name
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    findings, summary = result.stdout.split("\nNAMESPACE ", 1)
    assert f"api/v1/namespaces/{name}/pods/root" in findings
    assert f"from cluster {control_plane.server}" in findings
    assert summary.splitlines()[1].split() == [name, "warn", "warn", "2", "1", "0", "1"]


def test_objects_are_read_owners_first(
    control_plane: ControlPlaneHandle, k8s_api: Any, namespace: str
) -> None:
    create_owner_chains(k8s_api, namespace)
    create(k8s_api, valid_object("Pod", bad_specs()["pod-uid0"], "bare", namespace))
    foreign = valid_object("Pod", bad_specs()["pod-uid0"], "rollout-pod", namespace)
    foreign["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Rollout",
            "name": "r",
            "uid": str(uuid.uuid4()),
            "controller": True,
        }
    ]
    create(k8s_api, foreign)

    api = control_plane.api_client()
    try:
        scope = inventory.read_namespaces(api, namespace)
        read = [item for item in inventory.read_pod_bearing(api, scope)]
    finally:
        api.close()
    listed = [item for item in read if isinstance(item, inventory.Listed)]
    assert sorted((i.obj["kind"], i.obj["metadata"]["name"]) for i in listed) == sorted(
        [
            ("Deployment", "web"),
            ("ReplicaSet", "web-1"),
            ("Pod", "web-1-abcde"),
            ("CronJob", "nightly"),
            ("Job", "nightly-1"),
            ("Pod", "nightly-1-xyz12"),
            ("HardenedService", "svc"),
            ("Deployment", "svc"),
            ("Pod", "bare"),
            ("Pod", "rollout-pod"),  # a controller of another kind: read, judged whole
        ]
    )
    order = [i.obj["kind"] for i in listed]
    for owner, made in [("HardenedService", "Deployment"), ("Deployment", "ReplicaSet"),
                        ("CronJob", "Job"), ("ReplicaSet", "Pod"), ("Job", "Pod")]:  # fmt: skip
        assert max(i for i, k in enumerate(order) if k == owner) < order.index(made)
    assert [item for item in read if not isinstance(item, inventory.Listed)] == []


def test_children_whose_owner_references_lie_are_reported(
    control_plane: ControlPlaneHandle, k8s_api: Any, namespace: str
) -> None:
    # Made by hand, as anyone may while enforcement is off: each child names the uid of a
    # real owner it does not match.
    forged_children(namespace, lambda obj: create(k8s_api, obj))
    result = run_hardened(
        "audit", "--cluster", "--kubeconfig", str(control_plane.kubeconfig), "-n", namespace,
        "--format", "json",
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    reported: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for entry in json.loads(result.stdout):
        reported.setdefault((entry["kind"], entry["name"]), set()).add(
            (entry["check"], entry["field"])
        )
    assert reported == FORGED_REPORTED
    row = sarif_or_table_row(result.stderr, namespace)
    # Every object read; those with a finding of their own.
    assert row[3:5] == [str(len(FORGED)), str(len(FORGED_REPORTED))]


def test_a_debug_container_in_an_owned_pod_is_found_and_counted(
    control_plane: ControlPlaneHandle, k8s_api: Any, namespace: str
) -> None:
    create_owner_chains(k8s_api, namespace)
    result = run_hardened(
        "audit", "--cluster", "--kubeconfig", str(control_plane.kubeconfig), "-n", namespace,
        "--format", "sarif",
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    results = json.loads(result.stdout)["runs"][0]["results"]
    found = {(r["properties"]["kind"], r["properties"]["name"]) for r in results}
    assert found == {("Deployment", "web"), ("CronJob", "nightly"), DEBUGGED}
    on_pod = [r["properties"] for r in results if r["properties"]["name"] == DEBUGGED[1]]
    assert {(p["container"], p["containerType"]) for p in on_pod} == {
        ("debugger", "ephemeralContainer")
    }
    row = sarif_namespaces(result.stdout)[namespace]
    # Eight objects read; three violate: the Deployment, the CronJob and the debugged Pod.
    assert (row["objects"], row["violating"], row["refusedNow"]) == (8, 3, 3)


def sarif_or_table_row(stderr: str, namespace: str) -> list[str]:
    """The namespace's row of the summary printed on stderr (``--format json``/``sarif``)."""
    return next(line.split() for line in stderr.splitlines() if line.startswith(namespace))


def test_lists_are_read_page_by_page(
    control_plane: ControlPlaneHandle, k8s_api: Any, namespace: str
) -> None:
    for index in range(7):
        create(k8s_api, valid_object("Pod", compliant_spec(), f"p{index}", namespace))
    api = control_plane.api_client()
    calls: list[str] = []
    call_api = api.call_api

    def counting(method: str, url: str, **kwargs: Any) -> Any:
        calls.append(url)
        return call_api(method, url, **kwargs)

    api.call_api = counting
    try:
        scope = inventory.read_namespaces(api, namespace)
        read = list(inventory.read_pod_bearing(api, scope, page_size=2))
    finally:
        api.close()
    pods = [i.obj["metadata"]["name"] for i in read if isinstance(i, inventory.Listed)]
    assert sorted(pods) == [f"p{index}" for index in range(7)]
    pod_pages = [url for url in calls if url.split("?")[0].endswith(f"/{namespace}/pods")]
    assert len(pod_pages) == 4  # 2 + 2 + 2 + 1
    assert sum("continue=" in url for url in pod_pages) == 3


def test_a_namespace_that_does_not_exist_is_an_error_not_clean(
    control_plane: ControlPlaneHandle,
) -> None:
    result = run_hardened(
        "audit", "--cluster", "--kubeconfig", str(control_plane.kubeconfig), "-n", "no-such-ns"
    )  # fmt: skip
    assert result.returncode == 2
    assert "namespace 'no-such-ns' does not exist" in result.stderr
    assert result.stdout == ""


def test_mode_label_follows_a_chart_installed_with_another_label(
    control_plane: ControlPlaneHandle, k8s_api: Any
) -> None:
    name = f"t-modelabel-{uuid.uuid4().hex[:6]}"
    bootstrap.create_namespace(k8s_api, name, {"team.example/admission": "audit"})
    bootstrap.ensure_service_account(k8s_api, name)
    try:
        create(k8s_api, valid_object("Pod", bad_specs()["pod-uid0"], "root", name))
        kubeconfig = str(control_plane.kubeconfig)
        modes = {}
        for args in ((), ("--mode-label", "team.example/admission")):
            result = run_hardened(
                "audit", "--cluster", "--kubeconfig", kubeconfig, "-n", name, "--format",
                "sarif", *args,
            )  # fmt: skip
            assert result.returncode == 1, result.stderr
            modes[args] = sarif_namespaces(result.stdout)[name]["mode"]
        assert modes == {(): "enforce", ("--mode-label", "team.example/admission"): "audit"}
    finally:
        bootstrap.delete_namespace(k8s_api, name)


def test_context_picks_the_cluster_and_its_namespace_as_kubectl_does(
    control_plane: ControlPlaneHandle, k8s_api: Any, namespace: str, tmp_path: Path
) -> None:
    create(k8s_api, valid_object("Pod", bad_specs()["pod-uid0"], "root", namespace))
    config = yaml.safe_load(control_plane.kubeconfig.read_text())
    good = config["contexts"][0]
    good["context"]["namespace"] = namespace
    broken_cluster = {"name": "gone", "cluster": {"server": "https://127.0.0.1:1"}}
    config["clusters"].append(broken_cluster)
    broken = {"name": "broken", "context": {"cluster": "gone", "user": good["context"]["user"]}}
    config["contexts"].append(broken)
    config["current-context"] = "broken"
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))

    current = run_hardened("audit", "--cluster", "--kubeconfig", str(kubeconfig))
    chosen = run_hardened(
        "audit", "--cluster", "--kubeconfig", str(kubeconfig), "--context", good["name"],
        "--format", "json",
    )  # fmt: skip
    assert current.returncode == 2 and "https://127.0.0.1:1" in current.stderr
    assert chosen.returncode == 1, chosen.stderr
    entries = json.loads(chosen.stdout)
    assert {(e["namespace"], e["name"]) for e in entries} == {(namespace, "root")}
