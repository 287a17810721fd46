"""One table of pod-bearing kinds (``workloads.POD_BEARING``), and everything derived from it.

``review_object``'s kinds and pod paths, the webhook's request routing (``webhook.kinds.TARGETS``),
``hardened dev``'s registration (``dev.manifests.webhook_rules``) come from the table in code;
the shipped manifest and the Helm chart are YAML, so these tests compare them with it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from hardened_operator import API_GROUP, API_VERSION, KIND, PLURAL
from hardened_operator.dev import manifests
from hardened_operator.inprocess import policy_documents, webhook_only_kinds
from hardened_operator.webhook.kinds import KIND_TO_RESOURCE, TARGETS
from hardened_operator.workloads import (
    POD_BEARING,
    POD_BEARING_KINDS,
    admission_resources,
    review_object,
)
from tests.support.chart import render_objects

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "manifests" / "06-validatingwebhookconfiguration.yaml"
SHIPPED_POLICY = REPO / "manifests" / "06-validatingadmissionpolicy.yaml"
MODES = ["audit", "enforce", "warn"]


def test_the_table_names_each_kind_and_resource_once() -> None:
    kinds = [k.kind for k in POD_BEARING]
    resources = [(k.group, k.resource) for k in POD_BEARING]
    assert len(set(kinds)) == len(kinds)
    assert len(set(resources)) == len(resources)
    hardened = next(k for k in POD_BEARING if k.kind == KIND)
    assert (hardened.group, hardened.version, hardened.resource) == (API_GROUP, API_VERSION, PLURAL)
    assert hardened.pod_path is None  # its pods are rendered by the builders


def test_admission_resources_spell_out_the_ephemeral_containers_subresource() -> None:
    assert admission_resources() == {
        ("", "v1"): ("pods", "pods/ephemeralcontainers", "replicationcontrollers", "podtemplates"),
        ("apps", "v1"): ("deployments", "statefulsets", "daemonsets", "replicasets"),
        ("batch", "v1"): ("jobs", "cronjobs"),
        (API_GROUP, API_VERSION): (PLURAL,),
    }


def _root_pod() -> dict[str, Any]:
    return {"spec": {"containers": [{"name": "app", "image": "x", "securityContext": {}}]}}


@pytest.mark.parametrize(
    "entry", [k for k in POD_BEARING if k.pod_path is not None], ids=lambda k: k.kind
)
def test_review_object_finds_the_pod_where_the_table_says(entry: Any) -> None:
    obj: dict[str, Any] = {"apiVersion": "x", "kind": entry.kind, "metadata": {"name": "n"}}
    node = obj
    for key in entry.pod_path:
        node = node.setdefault(key, {})
    node.update(_root_pod())
    fields = {v.field for v in review_object(obj, "nonroot")}
    prefix = ".".join((*entry.pod_path, "spec"))
    assert f"{prefix}.containers[0].securityContext.runAsNonRoot" in fields, fields


def test_the_webhook_routes_exactly_the_tables_resources() -> None:
    assert {key: (t.group, t.kind) for key, t in TARGETS.items()} == {
        (k.group, k.resource): (k.group, k.kind) for k in POD_BEARING
    }
    assert {kind: resource for (_, kind), resource in KIND_TO_RESOURCE.items()} == dict(
        POD_BEARING_KINDS
    )


def test_dev_registration_uses_the_rules_for_every_mode() -> None:
    config = manifests.mode_routed_webhook_configuration("https://127.0.0.1:1/validate", b"CA")
    assert sorted(hook["name"].split(".")[0] for hook in config["webhooks"]) == MODES
    for hook in config["webhooks"]:
        assert hook["rules"] == manifests.webhook_rules(), hook["name"]
    rules = manifests.webhook_rules()
    assert [r["apiGroups"] for r in rules] == [[g] for g, _ in admission_resources()]
    assert all(r["operations"] == ["CREATE", "UPDATE"] for r in rules)
    assert all(r["scope"] == "Namespaced" for r in rules)


def _assert_rules_are_the_tables(vwc: dict[str, Any], where: str, *, webhook_only: bool) -> None:
    """Every entry's rules are the table's; with the in-process policy in charge of pods and
    pod templates (``webhook_only``), the table's rules for the kinds CEL cannot cover."""
    hooks = vwc["webhooks"]
    assert sorted(hook["name"].split(".")[0] for hook in hooks) == MODES, where
    expected = manifests.webhook_rules()
    if webhook_only:
        groups = [[k.group] for k in webhook_only_kinds()]
        expected = [rule for rule in expected if rule["apiGroups"] in groups]
    for hook in hooks:
        assert hook["rules"] == expected, (
            f"{where}: {hook['name']} rules differ from hardened_operator.workloads.POD_BEARING"
        )


def _policy_resources(policy: dict[str, Any]) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = policy["spec"]["matchConstraints"]["resourceRules"]
    return rules


def test_shipped_manifest_rules_are_the_tables() -> None:
    # manifests/ is the chart's default: admission.enforcedBy: policy.
    (vwc,) = [d for d in yaml.safe_load_all(SHIPPED.read_text()) if d]
    _assert_rules_are_the_tables(vwc, str(SHIPPED.relative_to(REPO)), webhook_only=True)
    policy, *_ = [d for d in yaml.safe_load_all(SHIPPED_POLICY.read_text()) if d]
    assert (
        _policy_resources(policy)
        == policy_documents()[0]["spec"]["matchConstraints"]["resourceRules"]
    )


@pytest.mark.parametrize("enforced_by", ["policy", "webhook", "both"])
def test_helm_chart_rules_are_the_tables(enforced_by: str) -> None:
    docs = render_objects({"admission": {"enforcedBy": enforced_by}})
    (vwc,) = [d for d in docs if d.get("kind") == "ValidatingWebhookConfiguration"]
    where = f"the Helm chart, admission.enforcedBy={enforced_by}"
    _assert_rules_are_the_tables(vwc, where, webhook_only=enforced_by == "policy")
    policies = [d for d in docs if d.get("kind") == "ValidatingAdmissionPolicy"]
    assert len(policies) == (enforced_by != "webhook")
    for policy in policies:
        assert policy["spec"] == policy_documents()[0]["spec"], where


@pytest.mark.parametrize("profile", ["restricted", "baseline"])
def test_profiles_without_cel_leave_everything_to_the_webhook(profile: str) -> None:
    docs = render_objects({"webhook": {"profile": profile}})  # enforcedBy: policy (default)
    assert not [d for d in docs if d.get("kind", "").startswith("ValidatingAdmissionPolicy")]
    (vwc,) = [d for d in docs if d.get("kind") == "ValidatingWebhookConfiguration"]
    _assert_rules_are_the_tables(vwc, f"the Helm chart, {profile}", webhook_only=False)


def test_chart_bindings_are_the_generated_ones() -> None:
    values = {
        "webhook": {
            "exemptNamespaces": ["kube-system", "ops"],
            "profile": "nonroot",
            "modeLabel": "example.com/admission",
        }
    }
    docs = render_objects(values)
    rendered = {
        d["metadata"]["name"]: d["spec"]
        for d in docs
        if d.get("kind") == "ValidatingAdmissionPolicyBinding"
    }
    generated = policy_documents(
        name="hardened-operator",
        exempt_namespaces=["kube-system", "ops", "hardened-system"],
        mode_label="example.com/admission",
    )
    assert rendered == {d["metadata"]["name"]: d["spec"] for d in generated[1:]}
