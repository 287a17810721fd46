"""The generated in-process policy: derived from the engine and the kinds table, committed
copies current, and the profiles CEL cannot express refused with the reason.

Whether it decides like the webhook is test_policy_cel_differential.py's job (a real API server).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hardened_operator.dev import manifests
from hardened_operator.errors import PolicyError
from hardened_operator.inprocess import (
    in_process_kinds,
    missing_cel,
    policy_documents,
    supported_profiles,
    webhook_only_kinds,
)
from hardened_operator.policy import CHECKS, check_ids
from hardened_operator.workloads import POD_BEARING

REPO = Path(__file__).resolve().parents[2]
HARDENED = [sys.executable, "-m", "hardened_operator.cli"]
COMMITTED = {
    "nonroot": REPO / "admission" / "nonroot.yaml",
    "nonroot:allow-root-group": REPO / "admission" / "nonroot-allow-root-group.yaml",
}
CHART_FILE = REPO / "helm" / "hardened-operator" / "files" / "admission-policies.json"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HARDENED, *args], capture_output=True, text=True, check=False)


@pytest.mark.parametrize("profile", sorted(COMMITTED))
def test_committed_policy_is_current(profile: str) -> None:
    done = _run("policies", "--profile", profile, "--check", str(COMMITTED[profile]))
    assert done.returncode == 0, done.stderr[-3000:]


def test_chart_copy_is_current() -> None:
    done = _run("policies", "--chart", "--check", str(CHART_FILE))
    assert done.returncode == 0, done.stderr[-3000:]


def test_a_stale_copy_fails_with_the_command_that_regenerates_it(tmp_path: Path) -> None:
    stale = tmp_path / "nonroot.yaml"
    stale.write_text(COMMITTED["nonroot"].read_text().replace("Forbidden", "Invalid"))
    done = _run("policies", "--check", str(stale))
    assert done.returncode == 1
    assert f"regenerate with: hardened policies --profile nonroot -o {stale}" in done.stderr


def test_nonroot_profiles_are_in_process_and_the_others_say_what_is_missing() -> None:
    assert supported_profiles() == ("nonroot", "nonroot:allow-root-group")
    assert all(CHECKS[i].cel is not None for i in check_ids("nonroot"))
    for profile in ("restricted", "baseline"):
        missing = missing_cel(profile)
        assert missing, profile
        with pytest.raises(PolicyError, match="cannot run in-process: no CEL rule for"):
            policy_documents(profile)
    done = _run("policies", "--profile", "restricted")
    assert done.returncode != 0 and "the webhook enforces it" in done.stderr


def test_one_validation_per_check_in_the_engines_order() -> None:
    policy = policy_documents("nonroot")[0]
    validations = policy["spec"]["validations"]
    assert [v["message"].rsplit(" check ", 1)[1] for v in validations] == [
        f"{check_id} failed" for check_id in check_ids("nonroot")
    ]
    assert all(v["reason"] == "Forbidden" for v in validations)
    allow_root_group = policy_documents("nonroot:allow-root-group")[0]["spec"]["validations"]
    assert len(allow_root_group) == len(validations) - 1  # rootGroups off


def test_resources_are_the_kinds_tables_with_the_subresources() -> None:
    rules = policy_documents()[0]["spec"]["matchConstraints"]["resourceRules"]
    covered = {(g, r) for rule in rules for g in rule["apiGroups"] for r in rule["resources"]}
    expected = {
        (k.group, name)
        for k in POD_BEARING
        if k.pod_path is not None
        for name in (k.resource, *(f"{k.resource}/{s}" for s in k.subresources))
    }
    assert covered == expected
    assert ("", "pods/ephemeralcontainers") in covered
    assert [k.kind for k in webhook_only_kinds()] == ["HardenedService"]
    assert len(in_process_kinds()) + 1 == len(POD_BEARING)
    assert all(rule["operations"] == ["CREATE", "UPDATE"] for rule in rules)


def test_fail_closed_and_bindings_route_the_mode_label_like_the_webhook() -> None:
    policy, *bindings = policy_documents(
        name="p", exempt_namespaces=["kube-system", "ops"], exempt_usernames=["ci-bot"]
    )
    assert policy["spec"]["failurePolicy"] == "Fail"
    conditions = {c["name"]: c["expression"] for c in policy["spec"]["matchConditions"]}
    assert conditions["not-an-exempt-user"] == '!(request.userInfo.username in ["ci-bot"])'
    assert conditions["changes-what-runs"].startswith("request.operation != 'UPDATE' || ")
    webhook = manifests.mode_routed_webhook_configuration("https://h/validate", b"")
    routed = {
        hook["name"].split(".")[0]: hook["namespaceSelector"]["matchExpressions"][-1]
        for hook in webhook["webhooks"]
    }
    actions = {"enforce": ["Deny"], "warn": ["Warn"], "audit": ["Audit"]}
    assert [b["metadata"]["name"] for b in bindings] == ["p-enforce", "p-warn", "p-audit"]
    for binding in bindings:
        mode = binding["metadata"]["name"].removeprefix("p-")
        spec = binding["spec"]
        assert spec["policyName"] == "p"
        assert spec["validationActions"] == actions[mode]
        name_term, label_term = spec["matchResources"]["namespaceSelector"]["matchExpressions"]
        assert name_term == {
            "key": "kubernetes.io/metadata.name",
            "operator": "NotIn",
            "values": ["kube-system", "ops"],
        }
        assert label_term == routed[mode]


def test_cli_validates_exemptions_as_the_webhook_does() -> None:
    done = _run("policies", "--exempt-namespace", "kube-*")
    assert done.returncode != 0 and "patterns are not supported" in done.stderr
    printed = list(yaml.safe_load_all(_run("policies", "--exempt-username", "ci-bot").stdout))
    assert [d["kind"] for d in printed] == ["ValidatingAdmissionPolicy"] + [
        "ValidatingAdmissionPolicyBinding"
    ] * 3
    exempt = printed[1]["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"][0]
    assert exempt["values"] == ["hardened-system", "kube-system"]  # the webhook's defaults
