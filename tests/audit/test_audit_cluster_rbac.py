"""``hardened audit --cluster`` as a user RBAC restricts: what it may not read makes the result
partial (named, exit 2), never "clean"."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from hardened_operator.k8s import bootstrap
from hardened_operator.workloads import POD_BEARING
from tests.audit.audit_manifests import DEBUGGED, bad_specs, compliant_spec, valid_object
from tests.audit.cluster_support import (
    create,
    create_owner_chains,
    run_hardened,
    token_kubeconfig,
)
from tests.support.controlplane import ControlPlaneHandle

pytestmark = pytest.mark.controlplane

ALL_KINDS = {kind.kind for kind in POD_BEARING}


def _rule(resources: list[str] | None = None) -> list[dict[str, Any]]:
    """get/list on the pod-bearing kinds (``resources``: only these plurals)."""
    groups: dict[str, list[str]] = {}
    for kind in POD_BEARING:
        if resources is None or kind.resource in resources:
            groups.setdefault(kind.group, []).append(kind.resource)
    return [
        {"apiGroups": [group], "resources": plurals, "verbs": ["get", "list"]}
        for group, plurals in groups.items()
    ]


class Users:
    """Makes ServiceAccounts with exactly the rights a test gives them, and their kubeconfig."""

    def __init__(self, api: Any, plane: ControlPlaneHandle, directory: Path) -> None:
        self.api, self.plane, self.directory = api, plane, directory
        self.home = f"t-auditors-{uuid.uuid4().hex[:6]}"
        bootstrap.create_namespace(api, self.home)
        self.cluster_objects: list[tuple[str, str]] = []

    def user(
        self,
        name: str,
        *,
        reads: dict[str, list[str] | None],
        namespaces_readable: bool = True,
    ) -> Path:
        """``reads``: namespace -> the plurals it may get/list there (None: every kind)."""
        core, rbac = client.CoreV1Api(self.api), client.RbacAuthorizationV1Api(self.api)
        account: Any = {"metadata": {"name": name}}
        core.create_namespaced_service_account(self.home, account)
        subject = {"kind": "ServiceAccount", "name": name, "namespace": self.home}
        for namespace, resources in reads.items():
            role: Any = {"metadata": {"name": f"{name}-reads"}, "rules": _rule(resources)}
            rbac.create_namespaced_role(namespace, role)
            binding: Any = {
                "metadata": {"name": f"{name}-reads"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": f"{name}-reads",
                },
                "subjects": [subject],
            }
            rbac.create_namespaced_role_binding(namespace, binding)
        if namespaces_readable:
            cluster_role_name = f"{self.home}-{name}-namespaces"
            rule = {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list"]}
            cluster_role: Any = {"metadata": {"name": cluster_role_name}, "rules": [rule]}
            rbac.create_cluster_role(cluster_role)
            cluster_binding: Any = {
                "metadata": {"name": cluster_role_name},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": cluster_role_name,
                },
                "subjects": [subject],
            }
            rbac.create_cluster_role_binding(cluster_binding)
            self.cluster_objects.append(("role", cluster_role_name))
        body: Any = {"spec": {"expirationSeconds": 600, "audiences": []}}
        token = core.create_namespaced_service_account_token(name, self.home, body)
        assert token.status is not None and token.status.token
        ca_file = str(self.api.configuration.ssl_ca_cert)
        path = self.directory / f"{name}.kubeconfig"
        return token_kubeconfig(path, self.plane.server, ca_file, token.status.token)

    def close(self) -> None:
        rbac = client.RbacAuthorizationV1Api(self.api)
        for _, name in self.cluster_objects:
            rbac.delete_cluster_role_binding(name)
            rbac.delete_cluster_role(name)
        bootstrap.delete_namespace(self.api, self.home)


@pytest.fixture
def users(control_plane: ControlPlaneHandle, k8s_api: Any, tmp_path: Path) -> Iterator[Users]:
    made = Users(k8s_api, control_plane, tmp_path)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def other_namespace(k8s_api: Any) -> Iterator[str]:
    """A second namespace, holding a root Pod nobody restricted may read."""
    name = f"t-forbidden-{uuid.uuid4().hex[:6]}"
    bootstrap.create_namespace(k8s_api, name)
    bootstrap.ensure_service_account(k8s_api, name)
    create(k8s_api, valid_object("Pod", bad_specs()["pod-uid0"], "root", name))
    try:
        yield name
    finally:
        bootstrap.delete_namespace(k8s_api, name)


def _audit(kubeconfig: Path, *args: str) -> tuple[int, list[dict[str, Any]], str]:
    result = run_hardened(
        "audit", "--cluster", "--kubeconfig", str(kubeconfig), "--format", "json", *args
    )
    return result.returncode, json.loads(result.stdout), result.stderr


def test_a_forbidden_namespace_is_unread_not_clean(
    users: Users, namespace: str, other_namespace: str
) -> None:
    kubeconfig = users.user("auditor", reads={namespace: None})
    code, entries, stderr = _audit(kubeconfig, "-n", other_namespace)
    assert code == 2
    assert {e["check"] for e in entries} == {"unread-objects"}
    assert {e["kind"] for e in entries} == ALL_KINDS
    assert {e["namespace"] for e in entries} == {other_namespace}
    assert all("403" in e["message"] and "not audited" in e["message"] for e in entries)
    assert "PARTIAL" in stderr


def test_all_namespaces_reads_what_it_may_and_names_the_rest(
    k8s_api: Any, users: Users, namespace: str, other_namespace: str
) -> None:
    create(k8s_api, valid_object("Pod", compliant_spec(), "fine", namespace))
    kubeconfig = users.user("auditor", reads={namespace: None})
    code, entries, stderr = _audit(kubeconfig, "-A")
    # Its own namespace is clean, yet the run is not: the root Pod next door was not read.
    assert code == 2
    assert [e for e in entries if e["type"] == "violation"] == []
    unread = {(e["namespace"], e["kind"]) for e in entries if e["check"] == "unread-objects"}
    assert {(other_namespace, kind) for kind in ALL_KINDS} <= unread
    assert not any(ns == namespace for ns, _ in unread)
    summary = {line.split()[0]: line for line in stderr.splitlines() if line.strip()}
    assert "PARTIAL" in summary[other_namespace]
    assert "PARTIAL" not in summary[namespace]


def test_a_forbidden_kind_is_unread_and_a_pod_of_it_is_still_judged(
    k8s_api: Any, users: Users, namespace: str
) -> None:
    root = bad_specs()["pod-uid0"]
    replica_set = create(k8s_api, valid_object("ReplicaSet", root, "web-1", namespace))
    pod = valid_object("Pod", root, "web-1-abcde", namespace)
    pod["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": "web-1",
            "uid": replica_set["metadata"]["uid"],
            "controller": True,
        }
    ]
    create(k8s_api, pod)
    kubeconfig = users.user("pods-only", reads={namespace: ["pods"]})
    code, entries, _ = _audit(kubeconfig, "-n", namespace)
    assert code == 2
    unread = {e["kind"] for e in entries if e["check"] == "unread-objects"}
    assert unread == ALL_KINDS - {"Pod"}
    # Its ReplicaSet could not be read, so the Pod is judged itself rather than skipped.
    violations = {(e["kind"], e["name"]) for e in entries if e["type"] == "violation"}
    assert violations == {("Pod", "web-1-abcde")}


@pytest.mark.parametrize(
    ("forbidden", "violating", "debugged_pod"),
    [
        (  # the Deployment and CronJob unread: their ReplicaSet and Job are judged themselves
            ("deployments", "cronjobs"),
            {("ReplicaSet", "web-1"), ("Job", "nightly-1"), DEBUGGED},
            {"ephemeralContainer"},
        ),
        (  # the HardenedService unread: the Deployment it rendered is judged whole (compliant)
            ("hardenedservices",),
            {("Deployment", "web"), ("CronJob", "nightly"), DEBUGGED},
            {"ephemeralContainer"},
        ),
        (  # the ReplicaSet unread: its Pod is judged whole, not only its debug container
            ("replicasets",),
            {("Deployment", "web"), ("CronJob", "nightly"), DEBUGGED},
            {None, "ephemeralContainer"},  # None: the template's pod-level runAsUser 0
        ),
    ],
    ids=["deployments-cronjobs", "hardenedservices", "replicasets"],
)
def test_an_owner_that_cannot_be_read_hides_nothing_it_owns(
    k8s_api: Any,
    users: Users,
    namespace: str,
    forbidden: tuple[str, ...],
    violating: set[tuple[str, str]],
    debugged_pod: set[str | None],
) -> None:
    create_owner_chains(k8s_api, namespace)
    readable = [kind.resource for kind in POD_BEARING if kind.resource not in forbidden]
    kubeconfig = users.user("partial", reads={namespace: readable})
    code, entries, stderr = _audit(kubeconfig, "-n", namespace)
    assert code == 2  # partial: what was forbidden is named
    unread = {e["kind"] for e in entries if e["check"] == "unread-objects"}
    assert unread == {kind.kind for kind in POD_BEARING if kind.resource in forbidden}
    violations = [e for e in entries if e["type"] == "violation"]
    assert {(e["kind"], e["name"]) for e in violations} == violating
    on_pod = {e["containerType"] for e in violations if (e["kind"], e["name"]) == DEBUGGED}
    assert on_pod == debugged_pod
    row = next(line.split() for line in stderr.splitlines() if line.startswith(namespace))
    assert row[4] == str(len(violating))  # VIOLATING counts the objects judged whole too


def test_unreadable_namespace_labels_leave_the_mode_unknown_and_partial(
    users: Users, namespace: str
) -> None:
    kubeconfig = users.user("no-ns", reads={namespace: None}, namespaces_readable=False)
    code, entries, stderr = _audit(kubeconfig, "-n", namespace)
    assert code == 2
    assert [(e["kind"], e["check"]) for e in entries] == [("Namespace", "unread-objects")]
    row = next(line.split() for line in stderr.splitlines() if line.startswith(namespace))
    assert row[1:3] == ["?", "unknown"]
    assert "could not be read" in stderr


def test_credentials_the_server_refuses_are_a_clear_error_and_exit_2(
    control_plane: ControlPlaneHandle, k8s_api: Any, tmp_path: Path
) -> None:
    ca_file = str(k8s_api.configuration.ssl_ca_cert)
    kubeconfig = token_kubeconfig(tmp_path / "kc", control_plane.server, ca_file, "not-a-token")
    result = run_hardened("audit", "--cluster", "--kubeconfig", str(kubeconfig), "-A")
    assert result.returncode == 2
    assert "did not accept the credentials (401 Unauthorized)" in result.stderr
    assert result.stdout == ""


def test_without_namespace_rights_a_kind_forbidden_cluster_wide_is_unread_everywhere(
    users: Users, namespace: str
) -> None:
    kubeconfig = users.user("narrow", reads={namespace: None}, namespaces_readable=False)
    code, entries, stderr = _audit(kubeconfig, "-A")
    assert code == 2
    unread = {(e["kind"], e["namespace"]) for e in entries if e["check"] == "unread-objects"}
    assert unread == {("Namespace", None)} | {(kind, None) for kind in ALL_KINDS}
    assert "cluster-wide" in stderr
