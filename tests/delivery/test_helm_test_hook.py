"""The chart's ``helm test`` hook: `hardened verify` in a hardened Pod with the least RBAC.

That it passes where root pods are refused and fails where they are not, on a real node with
the operator as a pod: tests/node/test_node_operator_pod.py. Here: what the chart renders.
"""

from __future__ import annotations

from typing import Any

import helm_python as helm
import pytest

from hardened_operator.workloads import review_object
from tests.delivery.delivery_support import find, manifest_objects, validate_strict
from tests.support.chart import NAMESPACE, RELEASE, is_test_hook, render_objects

VERIFY = f"{RELEASE}-verify"


def _hooks(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return [obj for obj in render_objects(values, test_hooks=True) if is_test_hook(obj)]


def test_the_hook_runs_verify_in_each_listed_namespace_from_a_hardened_pod() -> None:
    hooks = _hooks({"tests": {"namespaces": ["team-a", "team-b"]}})
    for obj in hooks:
        validate_strict(obj)
    pod = find(hooks, "Pod", VERIFY)
    assert pod["metadata"]["namespace"] == NAMESPACE
    container = pod["spec"]["containers"][0]
    assert container["command"] == ["hardened"]
    assert container["args"] == ["verify", "--namespace=team-a", "--namespace=team-b"]
    # The test pod itself passes the strictest profile it could meet anywhere.
    for profile in ("nonroot", "restricted"):
        assert review_object(pod, profile) == [], profile
    # Its account may create pods (what a dry run needs) in the listed namespaces, nothing else.
    roles = [obj for obj in hooks if obj["kind"] == "Role"]
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["team-a", "team-b"]
    assert all(r["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]}]
               for r in roles)  # fmt: skip
    bindings = [obj for obj in hooks if obj["kind"] == "RoleBinding"]
    assert all(b["subjects"] == [{"kind": "ServiceAccount", "name": VERIFY,
                                  "namespace": NAMESPACE}] for b in bindings)  # fmt: skip
    assert not [obj for obj in hooks if obj["kind"] in ("ClusterRole", "ClusterRoleBinding")]
    # The account, roles and bindings exist before the pod and go away however the run ends
    # (create-pods rights must not outlive the test); a failed test's Pod stays for its logs.
    for obj in hooks:
        annotations = obj["metadata"]["annotations"]
        policy = annotations["helm.sh/hook-delete-policy"]
        if obj["kind"] == "Pod":
            assert policy == "before-hook-creation,hook-succeeded"
        else:
            assert policy == "before-hook-creation,hook-succeeded,hook-failed"
            assert annotations["helm.sh/hook-weight"] == "-1"


def test_the_hook_is_not_installed_and_can_be_switched_off() -> None:
    assert not [obj for obj in render_objects() if is_test_hook(obj)]
    assert not [obj for obj in manifest_objects() if is_test_hook(obj)]  # manifests/ neither
    assert _hooks({"tests": {"enabled": False}}) == []
    assert find(_hooks(), "Role", VERIFY)["metadata"]["namespace"] == "default"


@pytest.mark.parametrize("namespaces", [[], ["Not_A_Name"], ["a", "a"]])
def test_the_schema_refuses_namespaces_the_hook_could_not_use(namespaces: list[str]) -> None:
    with pytest.raises(helm.HelmValuesError):
        render_objects({"tests": {"namespaces": namespaces}})
