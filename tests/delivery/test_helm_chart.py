"""helm/hardened-operator with the real Helm SDK (helm-python-sdk): lint, render, schema,
package; every rendered object schema-valid and hardened; the chart agrees with manifests/.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

from tests.delivery.delivery_support import (
    CHART,
    CLUSTER_NEEDS,
    CRD_SOURCE,
    NAMED_CLUSTER_NEEDS,
    NAMESPACE_NEEDS,
    OPERATOR_NAMESPACE,
    SYNC_CRDS,
    THIRD_PARTY_KINDS,
    expand_rules,
    find,
    manifest_objects,
    matching_webhooks,
    parse_operator_args,
    pod_templates,
    rbac_rules,
    selector_matches,
    validate_strict,
)
from tests.support.chart import RELEASE, render_files, render_objects

# Every option that changes what is rendered, each with all of its values.
OPTION_AXES: dict[str, list[Any]] = {
    "webhook.enabled": [True, False],
    "certificates.mode": ["self", "cert-manager"],
    "certificates.certManager.issuerRef": [{}, {"name": "corp-ca", "kind": "ClusterIssuer"}],
    "metrics": [
        {"enabled": False, "serviceMonitor": {"enabled": False}},
        {"enabled": True, "serviceMonitor": {"enabled": False}},
        {"enabled": True, "serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}},
    ],
    "podDisruptionBudget.enabled": [True, False],
    "webhook.failurePolicy": ["Fail", "Ignore"],
    "webhook.profile": ["nonroot", "nonroot:allow-root-group", "restricted", "baseline"],
}
# Placement and cosmetics, rendered once on top of the defaults and once with everything.
EXTRAS: dict[str, Any] = {
    "image": {"digest": "sha256:" + "a" * 64},
    "imagePullSecrets": [{"name": "regcred"}],
    "replicas": 3,
    "logLevel": "debug",
    "logFormat": "text",
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "tolerations": [
        {"key": "dedicated", "operator": "Equal", "value": "ops", "effect": "NoSchedule"}
    ],
    "affinity": {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}
                        ]
                    }
                ]
            }
        }
    },
    "priorityClassName": "system-cluster-critical",
    "podAnnotations": {"example.com/team": "platform"},
    "podLabels": {"team": "platform"},
    "serviceAccount": {"annotations": {"example.com/role": "operator"}},
    "webhook": {"exemptNamespaces": ["kube-system", "kube-node-lease", "monitoring"]},
}


def nested(dotted: str, value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    cursor = out
    *parents, leaf = dotted.split(".")
    for key in parents:
        cursor = cursor.setdefault(key, {})
    cursor[leaf] = value
    return out


def merge(*dicts: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in dicts:
        for key, value in item.items():
            if isinstance(value, dict) and isinstance(out.get(key), dict) and value:
                out[key] = merge(out[key], value)
            else:
                out[key] = value
    return out


def combinations() -> Iterator[dict[str, Any]]:
    keys = list(OPTION_AXES)
    for choice in itertools.product(*(OPTION_AXES[k] for k in keys)):
        yield merge(*(nested(k, v) for k, v in zip(keys, choice, strict=True)))


COMBINATIONS = list(combinations())


def combo_id(values: dict[str, Any]) -> str:
    return yaml.safe_dump(values, default_flow_style=True, width=10_000).strip()


@pytest.fixture(scope="module")
def chart() -> Iterator[helm.Chart]:
    with helm.Chart.load(CHART) as loaded:
        yield loaded


# ---- lint, package, CRDs ---------------------------------------------------------------------


def assert_lint_clean(report: dict[str, Any]) -> None:
    # Severity: 1 info, 2 warning, 3 error. Info is allowed: the only one is "icon is
    # recommended" (the project has no icon).
    assert report["errors"] == []
    serious = [m for m in report["messages"] if m["severity"] >= 2]
    assert serious == []
    assert {m["error"] for m in report["messages"]} <= {"icon is recommended"}


def test_lint_strict_is_clean_with_defaults() -> None:
    for kube_version in ("v1.30.0", "v1.37.0"):
        report = helm.lint(
            CHART, strict=True, namespace=OPERATOR_NAMESPACE, kube_version=kube_version
        )
        assert report["total_charts_linted"] == 1
        assert_lint_clean(report)


# Lint every value of every option (and everything at once); rendering below covers the
# full product of the options.
SINGLE_OPTIONS = [nested(key, value) for key, values in OPTION_AXES.items() for value in values]


@pytest.mark.parametrize("values", [*SINGLE_OPTIONS, COMBINATIONS[-1], EXTRAS], ids=combo_id)
def test_lint_strict_is_clean_for_every_option(values: dict[str, Any]) -> None:
    assert_lint_clean(helm.lint(CHART, values, strict=True, namespace=OPERATOR_NAMESPACE))


def test_lint_reports_a_broken_chart(tmp_path: Path) -> None:
    # Negative control: the same lint call must flag a chart with a template error.
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "Chart.yaml").write_text("apiVersion: v2\nname: broken\nversion: 0.1.0\n")
    (broken / "templates").mkdir()
    (broken / "templates" / "x.yaml").write_text("kind: {{ .Values.nope.deeper }\n")
    report = helm.lint(broken, strict=True)
    assert report["errors"] or any(m["severity"] >= 2 for m in report["messages"])


def test_chart_metadata(chart: helm.Chart) -> None:
    meta = chart.metadata
    assert meta["apiVersion"] == "v2"
    assert meta["name"] == "hardened-operator"
    assert chart.values["replicas"] == 2
    assert chart.schema is not None and chart.schema["additionalProperties"] is False


def test_chart_crds_are_identical_to_the_sources(chart: helm.Chart) -> None:
    assert CRD_SOURCE.exists(), "crds/hardenedservices.ai-system.io.yaml (helper model) missing"
    crd_dir = CHART / "crds"
    # The kopf CRDs are written here only; manifests/ copies them (scripts/render_manifests.py).
    assert (crd_dir / CRD_SOURCE.name).read_bytes() == CRD_SOURCE.read_bytes(), SYNC_CRDS
    assert sorted(path.name for path in crd_dir.iterdir()) == sorted(
        [CRD_SOURCE.name, "clusterkopfpeerings.kopf.dev.yaml", "kopfpeerings.kopf.dev.yaml"]
    )
    names = {yaml.safe_load(c["data"])["metadata"]["name"] for c in chart.crds}
    assert names == {
        "hardenedservices.ai-system.io",
        "clusterkopfpeerings.kopf.dev",
        "kopfpeerings.kopf.dev",
    }


def test_package_round_trips(tmp_path: Path) -> None:
    archive = helm.package(CHART, destination=tmp_path)
    assert Path(archive).name == "hardened-operator-0.1.0.tgz"
    with helm.Chart.load(archive) as packaged:
        assert {c["name"] for c in packaged.crds} == {
            "crds/clusterkopfpeerings.kopf.dev.yaml",
            "crds/hardenedservices.ai-system.io.yaml",
            "crds/kopfpeerings.kopf.dev.yaml",
        }
    assert render_objects(chart=archive) == render_objects()


# ---- every rendering: schema-valid and hardened -------------------------------------------


def check_rendering(objs: list[dict[str, Any]]) -> None:
    assert objs
    for obj in objs:
        validate_strict(obj)
    # Kinds without a Kubernetes schema: checked against what they must point at.
    for obj in objs:
        key = (obj["apiVersion"], obj["kind"])
        if key not in THIRD_PARTY_KINDS:
            continue
        if obj["kind"] == "ServiceMonitor":
            service = find(objs, "Service", f"{RELEASE}-metrics")
            assert selector_matches(obj["spec"]["selector"], service["metadata"]["labels"])
            ports = {port["name"] for port in service["spec"]["ports"]}
            assert {endpoint["port"] for endpoint in obj["spec"]["endpoints"]} <= ports
        elif obj["kind"] == "Certificate":
            assert obj["spec"]["issuerRef"]["kind"] in ("Issuer", "ClusterIssuer")
            assert obj["spec"]["secretName"] == f"{RELEASE}-webhook-cert"
        elif obj["kind"] == "Issuer":
            assert obj["spec"] == {"selfSigned": {}}
        elif obj["kind"] == "ClusterKopfPeering":
            assert obj["metadata"]["name"] == RELEASE
        else:
            raise AssertionError(f"unexpected third-party kind {key}")
    for label, obj in pod_templates(objs):
        from hardened_operator.workloads import review_object

        violations = review_object(obj, "restricted")
        assert violations == [], (label, [v.describe() for v in violations])


def test_default_rendering_is_valid_and_hardened() -> None:
    check_rendering(render_objects())


@pytest.mark.parametrize("values", COMBINATIONS, ids=combo_id)
def test_every_combination_renders_valid_and_hardened(values: dict[str, Any]) -> None:
    objs = render_objects(values)
    check_rendering(objs)
    kinds = [o["kind"] for o in objs]
    webhook = values["webhook"]["enabled"]
    cert_manager = webhook and values["certificates"]["mode"] == "cert-manager"
    assert ("ValidatingWebhookConfiguration" in kinds) is webhook
    assert ("Certificate" in kinds) is cert_manager
    assert ("Issuer" in kinds) is (
        cert_manager and not values["certificates"]["certManager"]["issuerRef"]
    )
    assert ("Role" in kinds) is (webhook and not cert_manager)  # Secret access only for self certs
    assert ("ServiceMonitor" in kinds) is values["metrics"]["serviceMonitor"]["enabled"]
    assert ("PodDisruptionBudget" in kinds) is values["podDisruptionBudget"]["enabled"]
    args = find(objs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    params = parse_operator_args(args)
    assert params["no_webhook"] is (not webhook)
    if webhook:
        assert params["certs_mode"] == ("files" if cert_manager else "self")
        assert params["profile"] == values["webhook"]["profile"]
        assert params["webhook_config_name"] == ("" if cert_manager else RELEASE)
    assert any(a.startswith("--tls-cert-file=") for a in args) is cert_manager
    if webhook:
        vwc = find(objs, "ValidatingWebhookConfiguration")
        for hook in vwc["webhooks"]:
            assert hook["failurePolicy"] == values["webhook"]["failurePolicy"]
        inject = vwc["metadata"].get("annotations", {}).get("cert-manager.io/inject-ca-from")
        assert (inject == f"{OPERATOR_NAMESPACE}/{RELEASE}-webhook") is cert_manager
        granted = expand_rules(rbac_rules(objs, "ClusterRole"))
        assert bool(granted & set(NAMED_CLUSTER_NEEDS)) is (not cert_manager)
    if cert_manager:
        certificate = find(objs, "Certificate")
        service = find(objs, "Service", f"{RELEASE}-webhook")["metadata"]["name"]
        assert f"{service}.{OPERATOR_NAMESPACE}.svc" in certificate["spec"]["dnsNames"]
        volumes = find(objs, "Deployment")["spec"]["template"]["spec"]["volumes"]
        assert {"secretName": certificate["spec"]["secretName"], "defaultMode": 0o440} in [
            v.get("secret") for v in volumes
        ]


def test_placement_and_cosmetic_values_render() -> None:
    for base in ({}, COMBINATIONS[-1]):
        objs = render_objects(merge(base, EXTRAS))
        check_rendering(objs)
        pod = find(objs, "Deployment")["spec"]["template"]["spec"]
        assert pod["nodeSelector"] == EXTRAS["nodeSelector"]
        assert pod["tolerations"] == EXTRAS["tolerations"]
        assert pod["affinity"] == EXTRAS["affinity"]
        assert pod["containers"][0]["image"].endswith("@sha256:" + "a" * 64)
        # Cosmetics never weaken the security context.
        assert pod["securityContext"]["runAsNonRoot"] is True
        params = parse_operator_args(pod["containers"][0]["args"])
        assert params["verbose"] is True  # logLevel: debug
        assert params["log_format"] == "text"
        if not params["no_webhook"]:
            assert params["no_default_exemptions"] is True  # exactly the VWC's exclusions
            assert set(params["exempt_namespaces"]) == {
                "kube-system",
                "kube-node-lease",
                "monitoring",
                OPERATOR_NAMESPACE,
            }


def test_exempt_namespaces_always_include_the_release_namespace() -> None:
    objs = render_objects({"webhook": {"exemptNamespaces": []}}, namespace="security")
    vwc = find(objs, "ValidatingWebhookConfiguration")
    assert matching_webhooks(vwc, "security", {}) == []
    assert matching_webhooks(vwc, "kube-system", {}) == [
        "enforce.hardened-operator.ai-system.io"
    ]  # no longer exempt: the user emptied the list
    assert matching_webhooks(vwc, "team-a", {"ai-system.io/enforce": "warn"}) == [
        "warn.hardened-operator.ai-system.io"
    ]


def test_mode_label_is_configurable() -> None:
    objs = render_objects({"webhook": {"modeLabel": "example.com/admission"}})
    vwc = find(objs, "ValidatingWebhookConfiguration")
    assert matching_webhooks(vwc, "team-a", {"example.com/admission": "audit"}) == [
        "audit.hardened-operator.ai-system.io"
    ]


# ---- bad values: refused with a message naming the key -----------------------------------------


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"replicas": 0}, "/replicas"),
        ({"replicaCount": 3}, "additional properties 'replicaCount' not allowed"),
        ({"webhook": {"timeoutSeconds": 10}}, "/webhook/timeoutSeconds"),
        ({"webhook": {"failurePolicy": "Maybe"}}, "/webhook/failurePolicy"),
        ({"webhook": {"exemptNamespaces": ["kube-*"]}}, "/webhook/exemptNamespaces/0"),
        ({"webhook": {"port": 443}}, "/webhook/port"),
        ({"webhook": {"enabled": "yes"}}, "/webhook/enabled"),
        ({"certificates": {"mode": "vault"}}, "/certificates/mode"),
        ({"certificates": {"certManager": {"issuerRef": {"kind": "Issuer"}}}}, "issuerRef"),
        ({"image": {"digest": "md5:abc"}}, "/image/digest"),
        ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
        ({"logLevel": "trace"}, "/logLevel"),
        ({"webhook": {"profile": "privileged"}}, "/webhook/profile"),
        ({"resources": {"limits": {"gpu": 1}}}, "/resources/limits"),
        (
            {"metrics": {"serviceMonitor": {"interval": "often"}}},
            "/metrics/serviceMonitor/interval",
        ),
        (
            {"securityContext": {"runAsUser": 0}},
            "additional properties 'securityContext' not allowed",
        ),
    ],
    ids=lambda v: combo_id(v) if isinstance(v, dict) else v,
)
def test_schema_rejects_bad_values_readably(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm.HelmValuesError) as caught:
        render_files(values)
    assert message in str(caught.value)
    assert "hardened-operator" in str(caught.value)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"image": {"tag": "latest"}}, 'image.tag "latest" is refused'),
        ({"webhook": {"port": 8080}}, "webhook.port and healthPort must differ"),
        (
            {"metrics": {"enabled": False, "serviceMonitor": {"enabled": True}}},
            "metrics.serviceMonitor.enabled needs metrics.enabled",
        ),
        ({"podDisruptionBudget": {"minAvailable": 2}}, "must be below replicas"),
        ({"replicas": 1}, "must be below replicas (1)"),
    ],
    ids=combo_id,
)
def test_templates_reject_combinations_the_schema_cannot_express(
    values: dict[str, Any], message: str
) -> None:
    with pytest.raises(helm.HelmError) as caught:
        render_files(values)
    assert message in str(caught.value)


# ---- the chart and manifests/ agree ------------------------------------------------------------

STRIP_LABELS = ("helm.sh/chart", "app.kubernetes.io/managed-by", "app.kubernetes.io/version")


def security_view(objs: list[dict[str, Any]]) -> dict[str, Any]:
    """The security-relevant fields of an installation, independent of labels and comments."""
    deploy = find(objs, "Deployment")
    pod = deploy["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    vwc = find(objs, "ValidatingWebhookConfiguration")
    return {
        "replicas": deploy["spec"]["replicas"],
        "strategy": deploy["spec"]["strategy"],
        "selector": deploy["spec"]["selector"],
        "pod": {k: v for k, v in pod.items() if k != "containers"},
        "container": {k: v for k, v in container.items() if k not in ("image",)},
        "pdb": find(objs, "PodDisruptionBudget")["spec"],
        "webhooks": vwc["webhooks"],
        "webhook_service": find(objs, "Service", f"{RELEASE}-webhook")["spec"],
        "metrics_service": find(objs, "Service", f"{RELEASE}-metrics")["spec"],
        "cluster_rules": sorted(expand_rules(rbac_rules(objs, "ClusterRole"))),
        "role_rules": sorted(expand_rules(rbac_rules(objs, "Role"))),
        "secret": {k: v for k, v in find(objs, "Secret").items() if k != "metadata"},
        "peering": find(objs, "ClusterKopfPeering")["metadata"]["name"],
    }


def test_default_chart_and_manifests_agree_on_security() -> None:
    from_chart = security_view(render_objects())
    from_manifests = security_view(manifest_objects())
    for key in from_manifests:
        assert from_chart[key] == from_manifests[key], key
    assert set(from_manifests["cluster_rules"]) == set(CLUSTER_NEEDS) | set(NAMED_CLUSTER_NEEDS)
    assert set(from_manifests["role_rules"]) == set(NAMESPACE_NEEDS)


def test_hardened_audit_cli_accepts_the_rendered_chart(tmp_path: Path) -> None:
    # The same check users run in CI, through the CLI, on the default rendering.
    rendered = tmp_path / "chart.yaml"
    rendered.write_text(yaml.safe_dump_all(render_objects()))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "hardened_operator.cli",
            "audit",
            "--profile",
            "restricted",
            str(rendered),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
