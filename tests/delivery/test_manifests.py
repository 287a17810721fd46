"""manifests/: structure, schema validity, hardening, RBAC and admission routing (offline).

The files are rendered from the Helm chart (scripts/render_manifests.py; that they are current:
test_manifests_generated.py). These tests check what the plain install does, whatever the
chart's defaults; the same files are applied to a real API server in test_delivery_admission.py
and tests/node/test_node_manifests_install.py.
"""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import pytest

from hardened_operator import conventions
from tests.delivery.delivery_support import (
    CLUSTER_NEEDS,
    ENFORCE_LABEL,
    MANIFESTS,
    NAMED_CLUSTER_NEEDS,
    NAMESPACE_NEEDS,
    OPERATOR_NAMESPACE,
    REPO,
    SAMPLES,
    WEBHOOK_CONFIG_NAME,
    WEBHOOK_SECRET_NAME,
    expand_rules,
    find,
    kubectl_binary,
    kustomization_resources,
    load_docs,
    load_file,
    manifest_objects,
    matching_webhooks,
    parse_operator_args,
    rbac_rules,
    selector_matches,
    skip_or_fail,
    validate_strict,
)

WORKLOAD_RESOURCES = {
    ("", "pods"),
    ("", "pods/ephemeralcontainers"),
    ("", "replicationcontrollers"),
    ("", "podtemplates"),
    ("apps", "deployments"),
    ("apps", "replicasets"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
    ("ai-system.io", "hardenedservices"),
}


# ---- layout --------------------------------------------------------------------------------


def test_kustomization_lists_every_numbered_file_in_order() -> None:
    numbered = sorted(path.name for path in MANIFESTS.glob("[0-9][0-9]-*.yaml"))
    resources = kustomization_resources()
    assert resources == numbered
    # The namespace first, then the CRDs, then what lives in the namespace.
    assert resources[0] == "00-namespace.yaml"
    crds = [
        name
        for name in resources
        if load_file(MANIFESTS / name)[0]["kind"] == "CustomResourceDefinition"
    ]
    assert crds == resources[1 : 1 + len(crds)] and len(crds) >= 3


def test_kubectl_kustomize_agrees_with_the_files() -> None:
    # The real kustomize (built into kubectl) when available; the Python reading above always.
    kubectl = kubectl_binary()
    if kubectl is None:
        skip_or_fail("kubectl not available (built by `hardened dev build-assets`)")
        return
    out = subprocess.run(
        [kubectl, "kustomize", str(MANIFESTS)], capture_output=True, text=True, check=True
    ).stdout
    rendered = {(o["kind"], o["metadata"]["name"]) for o in load_docs(out)}
    expected = {(o["kind"], o["metadata"]["name"]) for o in manifest_objects()}
    assert rendered == expected


@pytest.mark.parametrize("name", kustomization_resources())
def test_every_object_is_schema_valid_for_old_and_new_kubernetes(name: str) -> None:
    objs = load_file(MANIFESTS / name)
    assert objs
    for obj in objs:
        validate_strict(obj)


def test_namespaced_objects_live_in_the_operator_namespace() -> None:
    cluster_scoped = {
        "Namespace",
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleBinding",
        "ValidatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ClusterKopfPeering",
    }
    for obj in manifest_objects():
        namespace = obj["metadata"].get("namespace")
        if obj["kind"] in cluster_scoped:
            assert namespace is None, obj["metadata"]["name"]
        else:
            assert namespace == OPERATOR_NAMESPACE, f"{obj['kind']}/{obj['metadata']['name']}"


# ---- the operator Deployment ---------------------------------------------------------------


def deployment() -> dict[str, Any]:
    return find(manifest_objects(), "Deployment", "hardened-operator")


def test_deployment_is_highly_available() -> None:
    deploy = deployment()
    spec = deploy["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    anti = spec["template"]["spec"]["affinity"]["podAntiAffinity"]
    (term,) = anti["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert selector_matches(
        term["podAffinityTerm"]["labelSelector"], spec["template"]["metadata"]["labels"]
    )
    pdb = find(manifest_objects(), "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1
    assert selector_matches(pdb["spec"]["selector"], spec["template"]["metadata"]["labels"])
    assert spec["selector"]["matchLabels"] == pdb["spec"]["selector"]["matchLabels"]


def test_deployment_runs_hardened_as_1000() -> None:
    pod = deployment()["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == conventions.APP_UID
    assert pod["securityContext"]["runAsGroup"] == conventions.APP_GID
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["serviceAccountName"] == "hardened-operator"
    assert not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC")
    (container,) = pod["containers"]
    ctx = container["securityContext"]
    assert ctx["runAsNonRoot"] is True and ctx["runAsUser"] == conventions.APP_UID
    assert ctx["readOnlyRootFilesystem"] is True
    assert ctx["allowPrivilegeEscalation"] is False
    assert ctx["privileged"] is False
    assert ctx["capabilities"] == {"drop": ["ALL"]}
    assert "add" not in ctx["capabilities"]
    assert ctx["seccompProfile"] == {"type": "RuntimeDefault"}
    for kind in ("requests", "limits"):
        assert set(container["resources"][kind]) == {"cpu", "memory"}
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"webhook": 8443, "health": 8080}
    # A read-only root filesystem needs somewhere to write: only emptyDirs, never hostPath.
    assert all(set(volume) == {"name", "emptyDir"} for volume in pod["volumes"])
    mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
    assert "/tmp" in mounts


def test_deployment_args_are_what_hardened_run_accepts() -> None:
    (container,) = deployment()["spec"]["template"]["spec"]["containers"]
    params = parse_operator_args(container["args"])
    assert params["all_namespaces"] is True
    assert params["certs_mode"] == "self"
    assert params["certs_secret"] == WEBHOOK_SECRET_NAME
    assert params["webhook_service"] == "hardened-operator-webhook"
    assert params["webhook_config_name"] == WEBHOOK_CONFIG_NAME
    assert params["peering_name"] == "hardened-operator"
    assert params["webhook_listen"].endswith(":8443")
    assert params["health_listen"].endswith(":8080")
    env = {item["name"]: item for item in container["env"]}
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"


def test_deployment_pod_template_passes_the_restricted_profile() -> None:
    from hardened_operator.workloads import review_object

    violations = review_object(deployment(), "restricted")
    assert violations == [], [v.describe() for v in violations]


def test_webhook_service_targets_the_operator_pods() -> None:
    objs = manifest_objects()
    service = find(objs, "Service", "hardened-operator-webhook")
    labels = deployment()["spec"]["template"]["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in service["spec"]["selector"].items())
    (port,) = service["spec"]["ports"]
    assert port["port"] == 443 and port["targetPort"] == "webhook"
    secret = find(objs, "Secret", WEBHOOK_SECRET_NAME)
    assert "data" not in secret and "stringData" not in secret  # never ship key material


# ---- the ValidatingWebhookConfiguration ----------------------------------------------------


def vwc() -> dict[str, Any]:
    return find(manifest_objects(), "ValidatingWebhookConfiguration", WEBHOOK_CONFIG_NAME)


def test_webhooks_fail_closed_and_are_fast() -> None:
    hooks = vwc()["webhooks"]
    assert len(hooks) == 3
    for hook in hooks:
        assert hook["failurePolicy"] == "Fail"
        assert hook["sideEffects"] == "None"
        assert hook["admissionReviewVersions"] == ["v1"]
        assert 1 <= hook["timeoutSeconds"] <= 5
        service = hook["clientConfig"]["service"]
        assert service["namespace"] == OPERATOR_NAMESPACE
        assert service["name"] == "hardened-operator-webhook"
        assert "?" not in service["path"]  # the API server forbids query strings here


def _covered(rules: list[dict[str, Any]]) -> set[tuple[str, str]]:
    covered = set()
    for rule in rules:
        assert set(rule["operations"]) == {"CREATE", "UPDATE"}
        assert "*" not in rule["resources"] and "*" not in rule["apiGroups"]
        covered |= {(g, r) for g in rule["apiGroups"] for r in rule["resources"]}
    return covered


def test_webhooks_cover_pods_ephemeral_containers_every_workload_and_hsvc() -> None:
    # The default (admission.enforcedBy: policy): the in-process policy covers pods and pod
    # templates, the webhook the rest (HardenedServices); together, every resource, once.
    policy = find(manifest_objects(), "ValidatingAdmissionPolicy", "hardened-operator")
    in_process = _covered(policy["spec"]["matchConstraints"]["resourceRules"])
    for hook in vwc()["webhooks"]:
        webhook = _covered(hook["rules"])
        assert not webhook & in_process, hook["name"]
        assert webhook | in_process == WORKLOAD_RESOURCES, hook["name"]


def test_webhook_rules_match_the_kinds_the_reviewer_understands() -> None:
    from hardened_operator.workloads import POD_BEARING_KINDS

    plurals = {resource for _, resource in WORKLOAD_RESOURCES} - {"pods/ephemeralcontainers"}
    assert set(POD_BEARING_KINDS.values()) == plurals


@pytest.mark.parametrize(
    ("namespace", "labels", "expected_mode"),
    [
        ("team-a", {}, "enforce"),
        ("team-a", {ENFORCE_LABEL: "enforce"}, "enforce"),
        ("team-a", {ENFORCE_LABEL: "warn"}, "warn"),
        ("team-a", {ENFORCE_LABEL: "audit"}, "audit"),
        ("team-a", {ENFORCE_LABEL: "disabled"}, None),
        ("team-a", {ENFORCE_LABEL: "warm"}, "enforce"),  # a typo fails closed
        ("team-a", {ENFORCE_LABEL: ""}, "enforce"),
        ("kube-system", {}, None),
        ("kube-system", {ENFORCE_LABEL: "enforce"}, None),
        (OPERATOR_NAMESPACE, {}, None),
        (OPERATOR_NAMESPACE, {ENFORCE_LABEL: "warn"}, None),
    ],
)
def test_namespace_label_routes_to_exactly_one_mode(
    namespace: str, labels: dict[str, str], expected_mode: str | None
) -> None:
    matched = matching_webhooks(vwc(), namespace, labels)
    if expected_mode is None:
        assert matched == []
    else:
        assert matched == [f"{expected_mode}.hardened-operator.ai-system.io"]


def test_each_mode_has_its_path() -> None:
    paths = {
        hook["name"].split(".")[0]: hook["clientConfig"]["service"]["path"]
        for hook in vwc()["webhooks"]
    }
    assert paths == {"enforce": "/validate", "warn": "/validate/warn", "audit": "/validate/audit"}


# ---- RBAC ------------------------------------------------------------------------------------


def test_rbac_has_no_wildcards() -> None:
    for obj in manifest_objects():
        for rule in obj.get("rules") or []:
            for field in ("apiGroups", "resources", "verbs", "resourceNames", "nonResourceURLs"):
                assert "*" not in (rule.get(field) or []), f"{obj['kind']}: {rule}"


def test_cluster_role_grants_exactly_what_the_operator_uses() -> None:
    granted = expand_rules(rbac_rules(manifest_objects(), "ClusterRole"))
    assert granted == set(CLUSTER_NEEDS) | set(NAMED_CLUSTER_NEEDS)


def test_secrets_only_in_own_namespace_and_only_the_webhook_certificate() -> None:
    objs = manifest_objects()
    cluster = expand_rules(rbac_rules(objs, "ClusterRole"))
    assert not any(grant[1] == "secrets" for grant in cluster)
    role = find(objs, "Role", "hardened-operator")
    assert role["metadata"]["namespace"] == OPERATOR_NAMESPACE
    assert expand_rules(role["rules"]) == set(NAMESPACE_NEEDS)


def test_bindings_point_at_the_operator_service_account() -> None:
    objs = manifest_objects()
    for kind in ("ClusterRoleBinding", "RoleBinding"):
        binding = find(objs, kind)
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "hardened-operator", "namespace": OPERATOR_NAMESPACE}
        ]


# ---- samples --------------------------------------------------------------------------------


def test_samples_cover_gpu_plain_and_debug() -> None:
    specs = [load_file(path)[0]["spec"] for path in sorted(SAMPLES.glob("*.yaml"))]
    assert any(spec.get("gpu", {}).get("count", 0) > 0 for spec in specs)
    assert any("gpu" not in spec and not spec.get("debug") for spec in specs)
    assert any(spec.get("debug") is True for spec in specs)


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_sample_parses_with_the_model_and_builds_hardened_objects(path: Any) -> None:
    from hardened_operator.builders import build_objects, parse

    (obj,) = load_file(path)
    assert obj["kind"] == "HardenedService"
    parse(obj)
    built = build_objects(obj)
    assert any(o["kind"] == "Deployment" for o in built)
    for generated in built:
        validate_strict(generated)


AUDIT = (sys.executable, "-m", "hardened_operator.cli", "audit")


def test_hardened_audit_cli_passes_manifests_and_samples_restricted() -> None:
    # What a user's CI runs on these files: the operator Deployment and every sample.
    proc = subprocess.run(
        [*AUDIT, "--profile", "restricted", str(MANIFESTS)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("0 violations in ")
    audited = int(proc.stdout.split(" objects")[0].rsplit(" ", 1)[1])
    assert audited >= len(manifest_objects()) + len(list(SAMPLES.glob("*.yaml")))


def test_the_documented_uninstall_keeps_the_namespace_and_crds_and_stops_admission_first() -> None:
    doc = (REPO / "docs" / "install.md").read_text()
    (glob,) = re.findall(r"for file in \$\(ls -r (manifests/\S+)\); do kubectl delete", doc)
    listed = subprocess.run(
        ["bash", "-c", f"ls -r {glob}"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    keep = {"Namespace", "CustomResourceDefinition"}
    expected = [
        f"manifests/{name}"
        for name in reversed(kustomization_resources())
        if not {obj["kind"] for obj in load_file(MANIFESTS / name)} & keep
    ]
    assert listed == expected
    kinds = [{obj["kind"] for obj in load_file(REPO / name)} for name in listed]
    first_deployment = next(i for i, k in enumerate(kinds) if "Deployment" in k)
    assert any("ValidatingWebhookConfiguration" in k for k in kinds[:first_deployment])
