"""The admission path and manifests/ against a real kube-apiserver (``control_plane``).

- The shipped admission path (from manifests/ and from the chart's default rendering, each in
  turn): the ValidatingWebhookConfiguration re-pointed at a local ``hardened webhook`` and the
  in-process ValidatingAdmissionPolicy with its bindings (the default
  ``admission.enforcedBy: policy`` gives it pods and pod templates): refuses a root Pod with
  our message, admits a compliant one, refuses a ``kubectl debug`` ephemeral container
  through the subresource, warns in a ``warn`` namespace.
- Every file of manifests/ passes the API server's own validation (server-side dry run) and
  every sample in manifests/samples/ is accepted by the CRD schema.
"""

from __future__ import annotations

import base64
import copy
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from hardened_operator.k8s import bootstrap
from tests.delivery.delivery_cluster import apply, create_namespace, kubectl, unique
from tests.delivery.delivery_support import (
    ENFORCE_LABEL,
    MANIFESTS,
    OPERATOR_NAMESPACE,
    SAMPLES,
    find,
    kustomization_resources,
    load_docs,
    load_file,
)
from tests.support.chart import render_files

pytestmark = pytest.mark.controlplane


def shipped_objects(source: str) -> list[dict[str, Any]]:
    """The admission objects as shipped: manifests/, or the chart rendered with default
    values (the webhook's registration, the in-process policy and its bindings)."""
    if source == "manifests":
        return [
            *load_file(MANIFESTS / "06-validatingwebhookconfiguration.yaml"),
            *load_file(MANIFESTS / "06-validatingadmissionpolicy.yaml"),
        ]
    rendered = render_files(namespace=OPERATOR_NAMESPACE)
    return [
        *load_docs(rendered["templates/validatingwebhookconfiguration.yaml"]),
        *load_docs(rendered["templates/validatingadmissionpolicy.yaml"]),
    ]


def shipped_policy(scope_label: dict[str, str], source: str) -> list[dict[str, Any]]:
    """The shipped ValidatingAdmissionPolicy and its bindings, renamed for this test and
    confined to its namespaces (the plane is shared by the whole session)."""
    objs = copy.deepcopy(shipped_objects(source))
    policy = find(objs, "ValidatingAdmissionPolicy")
    name = unique("delivery-e2e")
    policy["metadata"] = {"name": name}
    bindings = [obj for obj in objs if obj["kind"] == "ValidatingAdmissionPolicyBinding"]
    ((key, value),) = scope_label.items()
    for binding in bindings:
        binding["metadata"] = {"name": f"{name}-{binding['metadata']['name'].rsplit('-', 1)[1]}"}
        binding["spec"]["policyName"] = name
        binding["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"].append(
            {"key": key, "operator": "In", "values": [value]}
        )
    return [policy, *bindings]


def shipped_webhook_configuration(
    url_base: str, ca_pem: bytes, scope_label: dict[str, str], source: str = "manifests"
) -> dict[str, Any]:
    """The shipped ValidatingWebhookConfiguration with clientConfig re-pointed at a local URL.

    Everything else (rules, modes, failurePolicy, timeouts, exemptions) is kept as shipped.
    One extra namespaceSelector term confines it to this test's namespaces: the plane is
    shared by the whole test session and a fail-closed webhook must not outlive its server.
    """
    vwc = copy.deepcopy(find(shipped_objects(source), "ValidatingWebhookConfiguration"))
    vwc["metadata"] = {"name": unique("delivery-e2e")}
    for hook in vwc["webhooks"]:
        path = hook["clientConfig"]["service"]["path"]
        hook["clientConfig"] = {
            "url": f"{url_base}{path}",
            "caBundle": base64.b64encode(ca_pem).decode(),
        }
        ((key, value),) = scope_label.items()
        hook["namespaceSelector"]["matchExpressions"].append(
            {"key": key, "operator": "In", "values": [value]}
        )
    return vwc


ROOT_POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "root"},
    "spec": {
        "containers": [
            {"name": "app", "image": "busybox:1.36", "securityContext": {"runAsUser": 0}}
        ]
    },
}

COMPLIANT_POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "compliant"},
    "spec": {
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 1000,
            "runAsGroup": 1000,
            "fsGroup": 1000,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                "name": "app",
                "image": "registry.example.com/app:1.0",
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": 1000,
                    "runAsGroup": 1000,
                    "allowPrivilegeEscalation": False,
                    "readOnlyRootFilesystem": True,
                    "capabilities": {"drop": ["ALL"]},
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "resources": {
                    "requests": {"cpu": "100m", "memory": "64Mi"},
                    "limits": {"cpu": "500m", "memory": "128Mi"},
                },
            }
        ],
    },
}


@pytest.fixture(params=["manifests", "chart"])
def admission(
    control_plane: Any, k8s_api: Any, local_webhook: Any, request: pytest.FixtureRequest
) -> Iterator[dict[str, str]]:
    """The shipped configuration (manifests/, then the chart's default rendering) registered
    for a local webhook; one namespace per mode."""
    scope = {"delivery-e2e": uuid.uuid4().hex[:8]}
    base = local_webhook.url.removesuffix("/validate")
    vwc = shipped_webhook_configuration(base, local_webhook.ca_pem, scope, request.param)
    namespaces = {
        "enforce": create_namespace(k8s_api, unique("enforce"), dict(scope)),
        "warn": create_namespace(k8s_api, unique("warn"), {**scope, ENFORCE_LABEL: "warn"}),
        "audit": create_namespace(k8s_api, unique("audit"), {**scope, ENFORCE_LABEL: "audit"}),
        "disabled": create_namespace(
            k8s_api, unique("disabled"), {**scope, ENFORCE_LABEL: "disabled"}
        ),
    }
    policy, *bindings = shipped_policy(scope, request.param)
    admission_api = client.AdmissionregistrationV1Api(k8s_api)
    bootstrap.apply_validating_webhook_configuration(k8s_api, vwc)
    admission_api.create_validating_admission_policy(policy)  # type: ignore[arg-type]
    for binding in bindings:
        admission_api.create_validating_admission_policy_binding(binding)  # type: ignore[arg-type]
    try:
        wait_for_denial(control_plane, namespaces["enforce"])
        yield namespaces
    finally:
        bootstrap.delete_validating_webhook_configuration(k8s_api, vwc["metadata"]["name"])
        for binding in bindings:
            admission_api.delete_validating_admission_policy_binding(binding["metadata"]["name"])
        admission_api.delete_validating_admission_policy(policy["metadata"]["name"])


def wait_for_denial(control_plane: Any, namespace: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        proc = kubectl(
            control_plane,
            "-n",
            namespace,
            "create",
            "--dry-run=server",
            "-f",
            "-",
            stdin=yaml.safe_dump(ROOT_POD),
        )
        last = proc.stdout + proc.stderr
        if proc.returncode != 0 and 'hardened-operator policy "nonroot"' in last:
            return
        time.sleep(0.3)
    raise AssertionError(f"the shipped admission never denied the root pod: {last}")


def test_root_pod_is_refused_with_our_message(
    control_plane: Any, admission: dict[str, str]
) -> None:
    proc = kubectl(
        control_plane,
        "-n",
        admission["enforce"],
        "create",
        "-f",
        "-",
        stdin=yaml.safe_dump(ROOT_POD),
    )
    assert proc.returncode != 0
    # The default: the in-process policy's Deny binding, with our message.
    assert "with binding 'delivery-e2e-" in proc.stderr and "-enforce' denied" in proc.stderr
    assert 'hardened-operator policy "nonroot": Pod ' in proc.stderr
    assert 'container "app": spec.containers[0].securityContext.' in proc.stderr  # the field
    assert "(fix: set " in proc.stderr  # and how


@pytest.mark.parametrize(
    ("kind", "api_version", "template_path"),
    [
        ("Deployment", "apps/v1", ("spec", "template")),
        ("CronJob", "batch/v1", ("spec", "jobTemplate", "spec", "template")),
    ],
)
def test_root_workloads_are_refused_through_the_workload_rules(
    control_plane: Any,
    admission: dict[str, str],
    kind: str,
    api_version: str,
    template_path: tuple[str, ...],
) -> None:
    template: dict[str, Any] = {
        "metadata": {"labels": {"app": "root"}},
        "spec": {
            **ROOT_POD["spec"],
            "restartPolicy": "OnFailure" if kind == "CronJob" else "Always",
        },
    }
    obj: dict[str, Any] = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "root"}}
    cursor = obj
    for key in template_path[:-1]:
        cursor = cursor.setdefault(key, {})
    cursor[template_path[-1]] = template
    if kind == "Deployment":
        obj["spec"]["selector"] = {"matchLabels": {"app": "root"}}
    else:
        obj["spec"]["schedule"] = "0 * * * *"
    proc = kubectl(
        control_plane, "-n", admission["enforce"], "create", "-f", "-", stdin=yaml.safe_dump(obj)
    )
    assert proc.returncode != 0
    assert "denied" in proc.stderr
    assert f'hardened-operator policy "nonroot": {kind} ' in proc.stderr


def test_compliant_pod_is_admitted(control_plane: Any, admission: dict[str, str]) -> None:
    proc = kubectl(
        control_plane,
        "-n",
        admission["enforce"],
        "create",
        "-f",
        "-",
        stdin=yaml.safe_dump(COMPLIANT_POD),
    )
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr


def test_ephemeral_debug_container_is_refused(
    control_plane: Any, admission: dict[str, str], k8s_api: Any
) -> None:
    namespace = admission["enforce"]
    created = kubectl(
        control_plane, "-n", namespace, "create", "-f", "-", stdin=yaml.safe_dump(COMPLIANT_POD)
    )
    assert created.returncode == 0, created.stderr
    # What `kubectl debug -it compliant --image=busybox` sends: an UPDATE of the
    # pods/ephemeralcontainers subresource adding a container with no security context.
    core = client.CoreV1Api(k8s_api)
    pod = core.read_namespaced_pod("compliant", namespace)
    assert pod.metadata is not None
    body = {
        "metadata": {
            "name": "compliant",
            "namespace": namespace,
            "resourceVersion": pod.metadata.resource_version,
        },
        "spec": {
            "ephemeralContainers": [
                {
                    "name": "debugger",
                    "image": "busybox:1.36",
                    "stdin": True,
                    "tty": True,
                    "targetContainerName": "app",
                }
            ]
        },
    }
    with pytest.raises(ApiException) as refused:
        core.patch_namespaced_pod_ephemeralcontainers("compliant", namespace, body)
    assert refused.value.status == 403
    assert "denied" in str(refused.value.body)
    assert 'ephemeral container \\"debugger\\"' in str(refused.value.body)


def test_warn_namespace_admits_with_a_warning_the_client_shows(
    control_plane: Any, admission: dict[str, str]
) -> None:
    proc = kubectl(
        control_plane, "-n", admission["warn"], "create", "-f", "-", stdin=yaml.safe_dump(ROOT_POD)
    )
    assert proc.returncode == 0, proc.stderr
    assert "Warning:" in proc.stderr
    assert "runAsUser" in proc.stderr


@pytest.mark.parametrize("mode", ["audit", "disabled"])
def test_audit_and_disabled_namespaces_admit_silently(
    control_plane: Any, admission: dict[str, str], mode: str
) -> None:
    proc = kubectl(
        control_plane, "-n", admission[mode], "create", "-f", "-", stdin=yaml.safe_dump(ROOT_POD)
    )
    assert proc.returncode == 0, proc.stderr
    assert "denied" not in proc.stderr


def test_api_server_refuses_a_query_string_mode(k8s_api: Any) -> None:
    # Why the modes are path segments: the API server rejects `?mode=` in webhook URLs.
    vwc = shipped_webhook_configuration("https://127.0.0.1:9", b"ca", {"delivery-e2e": "never"})
    vwc["webhooks"][1]["clientConfig"]["url"] = "https://127.0.0.1:9/validate?mode=warn"
    with pytest.raises(ApiException) as refused:
        # The client validates a plain dict into the model; its annotation names only the model.
        client.AdmissionregistrationV1Api(k8s_api).create_validating_webhook_configuration(vwc)  # type: ignore[arg-type]
    assert refused.value.status == 422
    assert "query parameters are not permitted" in str(refused.value.body)


# ---- manifests/ and samples against the API server's schemas -------------------------------------


def test_every_manifest_is_accepted_by_the_api_server(control_plane: Any, k8s_api: Any) -> None:
    # The namespace and the CRDs for real (later files need them), everything else as a
    # server-side dry run in kustomization order: schema, defaulting and validation by the
    # API server itself, without leaving a fail-closed webhook behind.
    names = kustomization_resources()
    for obj in load_file(MANIFESTS / names[0]):
        apply(k8s_api, obj)
    for name in names:
        for obj in load_file(MANIFESTS / name):
            if obj["kind"] == "CustomResourceDefinition":
                bootstrap.install_crd(k8s_api, obj)
    for name in names:
        proc = kubectl(
            control_plane, "apply", "--server-side", "--dry-run=server", "-f", str(MANIFESTS / name)
        )
        assert proc.returncode == 0, f"{name}: {proc.stderr}"
        applied = [line for line in proc.stdout.splitlines() if "(server dry run)" in line]
        assert len(applied) == len(load_file(MANIFESTS / name)), proc.stdout


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_sample_is_accepted_by_the_crd_schema(path: Path, k8s_api: Any) -> None:
    namespace = create_namespace(k8s_api, unique("sample"), {ENFORCE_LABEL: "disabled"})
    (obj,) = load_file(path)
    stored = apply(k8s_api, obj, namespace)
    assert stored.metadata.name == obj["metadata"]["name"]
    assert stored.spec.image == obj["spec"]["image"]
