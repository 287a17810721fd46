"""Shared helpers of the delivery tests (manifests/, the Helm chart, the image).

Named ``delivery_support`` (not ``helpers``) so it never collides with another test area's
module on pytest's import path.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

from tests.support.chart import CHART as CHART  # re-exported: the delivery tests' import

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "manifests"
SAMPLES = MANIFESTS / "samples"
CRD_SOURCE = REPO / "crds" / "hardenedservices.ai-system.io.yaml"
SYNC_CRDS = (
    "crds/ changed: run `.venv/bin/python scripts/render_manifests.py` (it copies crds/ into"
    " the chart and renders manifests/ from the chart)"
)

# The Kubernetes versions every rendered object must be valid for (oldest supported, newest).
KUBE_VERSIONS = ("1.30.0", "1.37.0")

# Kinds defined by CustomResourceDefinitions, not by Kubernetes itself: kubernetes-validate has
# no schema for them, so each is validated against its own CRD by the API server tests and by
# targeted assertions here. Any other kind without a schema is a test failure.
THIRD_PARTY_KINDS = frozenset(
    {
        ("kopf.dev/v1", "ClusterKopfPeering"),
        ("monitoring.coreos.com/v1", "ServiceMonitor"),
        ("cert-manager.io/v1", "Issuer"),
        ("cert-manager.io/v1", "Certificate"),
        ("ai-system.io/v1alpha1", "HardenedService"),
    }
)

OPERATOR_NAMESPACE = "hardened-system"
ENFORCE_LABEL = "ai-system.io/enforce"


def load_docs(text: str) -> list[dict[str, Any]]:
    """Every non-empty YAML document of ``text``."""
    return [doc for doc in yaml.safe_load_all(text) if doc]


def load_file(path: Path) -> list[dict[str, Any]]:
    return load_docs(path.read_text())


def kustomization_resources() -> list[str]:
    data = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())
    resources: list[str] = data["resources"]
    return resources


def manifest_objects() -> list[dict[str, Any]]:
    """The objects `kubectl apply -k manifests/` creates, in kustomization order."""
    return [obj for name in kustomization_resources() for obj in load_file(MANIFESTS / name)]


def validate_strict(obj: Mapping[str, Any], versions: Iterable[str] = KUBE_VERSIONS) -> None:
    """kubernetes-validate strict for every version; third-party kinds are skipped by name."""
    key = (obj.get("apiVersion"), obj.get("kind"))
    if key in THIRD_PARTY_KINDS:
        return
    for version in versions:
        kubernetes_validate.validate(dict(obj), version, strict=True)


def find(objs: Iterable[Mapping[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    matches = [
        dict(obj)
        for obj in objs
        if obj.get("kind") == kind and (name is None or obj["metadata"]["name"] == name)
    ]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, found {len(matches)}"
    return matches[0]


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """metav1.LabelSelector semantics (matchLabels AND every matchExpression)."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, operator, values = expr["key"], expr["operator"], expr.get("values") or []
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
        if operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            raise AssertionError(f"unknown selector operator {operator!r}")
    return True


def matching_webhooks(
    vwc: Mapping[str, Any], namespace: str, labels: Mapping[str, str]
) -> list[str]:
    """Names of the webhooks whose namespaceSelector selects this namespace."""
    # The API server sets kubernetes.io/metadata.name on every namespace.
    full = {**labels, "kubernetes.io/metadata.name": namespace}
    return [
        hook["name"]
        for hook in vwc["webhooks"]
        if selector_matches(hook.get("namespaceSelector") or {}, full)
    ]


def pod_templates(objs: Iterable[Mapping[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(kind/name, object) of every pod-bearing Kubernetes object among ``objs``."""
    for obj in objs:
        if obj.get("kind") in ("Deployment", "StatefulSet", "DaemonSet", "Job", "Pod"):
            yield f"{obj['kind']}/{obj['metadata']['name']}", dict(obj)


def rbac_rules(objs: Sequence[Mapping[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [rule for obj in objs if obj["kind"] == kind for rule in obj.get("rules") or []]


# ---- least privilege: what the operator needs, and what it must never get --------------------
# (api group, resource, verb). Cluster-wide needs come from the ClusterRole; the webhook
# certificate Secret is the only namespaced grant. docs/install.md#rbac explains each line.
WEBHOOK_CONFIG_NAME = "hardened-operator"
WEBHOOK_SECRET_NAME = "hardened-operator-webhook-tls"

CLUSTER_NEEDS = frozenset(
    [("ai-system.io", "hardenedservices", verb) for verb in ("get", "list", "watch")]
    + [("ai-system.io", "hardenedservices/status", "patch")]
    + [("ai-system.io", "hardenedservices/finalizers", "update")]
    + [
        (group, resource, verb)
        for group, resource in (
            ("apps", "deployments"),
            ("apps", "statefulsets"),
            ("", "services"),
            ("autoscaling", "horizontalpodautoscalers"),
            ("policy", "poddisruptionbudgets"),
            ("networking.k8s.io", "networkpolicies"),
        )
        for verb in ("list", "watch", "create", "patch", "delete")
    ]
    + [("", "persistentvolumeclaims", verb) for verb in ("list", "watch", "create", "patch")]
    + [("", "pods", verb) for verb in ("list", "watch")]
    + [("", "events", "create")]
    + [("kopf.dev", "clusterkopfpeerings", verb) for verb in ("get", "list", "watch", "patch")]
    + [("apiextensions.k8s.io", "customresourcedefinitions", verb) for verb in ("list", "watch")]
)
# Only on the named object (resourceNames).
NAMED_CLUSTER_NEEDS = frozenset(
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations", verb, WEBHOOK_CONFIG_NAME)
    for verb in ("get", "patch")
)
NAMESPACE_NEEDS = frozenset(("", "secrets", verb, WEBHOOK_SECRET_NAME) for verb in ("get", "patch"))

# (api group, resource, verb, namespace or None for cluster-wide): requests the operator's
# identity must be refused.
MUST_NOT = (
    ("", "secrets", "list", None),
    ("", "secrets", "get", "default"),
    ("", "secrets", "list", OPERATOR_NAMESPACE),
    ("", "secrets", "get", OPERATOR_NAMESPACE),  # any Secret but its own, named one
    ("", "secrets", "delete", OPERATOR_NAMESPACE),
    ("", "configmaps", "get", "kube-system"),
    ("", "persistentvolumeclaims", "delete", "default"),  # users' data is never its to delete
    ("", "secrets", "create", OPERATOR_NAMESPACE),
    ("rbac.authorization.k8s.io", "clusterroles", "create", None),
    ("rbac.authorization.k8s.io", "clusterrolebindings", "create", None),
    ("rbac.authorization.k8s.io", "rolebindings", "create", "default"),
    ("", "namespaces", "delete", None),
    ("", "pods", "create", "default"),
    ("", "pods/exec", "create", "default"),
    ("", "serviceaccounts/token", "create", OPERATOR_NAMESPACE),
    ("", "nodes", "list", None),
    ("apps", "daemonsets", "create", "default"),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations", "delete", None),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations", "create", None),
    ("apiextensions.k8s.io", "customresourcedefinitions", "delete", None),
)


def cluster_role_grants(templates: Mapping[str, str]) -> set[tuple[str, ...]]:
    """What the ClusterRole of the chart's rendered ``templates/rbac.yaml`` grants
    (:func:`expand_rules`: a 4-tuple with the name for a grant on named objects only)."""
    docs = [d for d in yaml.safe_load_all(templates["templates/rbac.yaml"]) if d]
    return expand_rules(rbac_rules(docs, "ClusterRole"))


def expand_rules(rules: Iterable[Mapping[str, Any]]) -> set[tuple[str, ...]]:
    """Every (group, resource, verb[, resourceName]) a list of PolicyRules grants."""
    granted: set[tuple[str, ...]] = set()
    for rule in rules:
        names = rule.get("resourceNames") or [None]
        for group in rule.get("apiGroups") or []:
            for resource in rule.get("resources") or []:
                for verb in rule.get("verbs") or []:
                    for name in names:
                        granted.add(
                            (group, resource, verb)
                            if name is None
                            else (group, resource, verb, name)
                        )
    return granted


def required_by_ci() -> bool:
    """In CI a missing tool or control plane is a failure, never a skip."""
    import os

    return os.environ.get("CI") == "true" or os.environ.get("HARDENED_REQUIRE_CONTROL_PLANE") == "1"


def kubectl_binary() -> str | None:
    """kubectl on PATH, else the one `hardened dev build-assets` built into the asset cache."""
    import shutil

    found = shutil.which("kubectl")
    if found:
        return found
    from hardened_operator.dev import assets

    located = assets.find_assets()
    kubectl = located.kubectl if located is not None else None
    return str(kubectl) if kubectl is not None else None


def skip_or_fail(reason: str) -> None:
    import pytest

    if required_by_ci():
        pytest.fail(f"{reason} (required in CI)")
    pytest.skip(reason)


def parse_operator_args(args: Sequence[str]) -> dict[str, Any]:
    """Parse a container's args with the real ``hardened run`` command (nothing is run).

    An unknown flag or a bad value raises click's usage error, so a manifest can never
    drift from the command it starts.
    """
    from hardened_operator.cli.run import run

    context = run.make_context("run", list(args))
    return dict(context.params)
