"""workloads: every pod-bearing kind → its pod specs → violations located from the object root."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from hardened_operator import builders, workloads
from hardened_operator.errors import InputError, PolicyError, SpecValidationError
from hardened_operator.workloads import POD_BEARING_KINDS, pod_specs, review_object
from tests.policy.policy_pods import compliant_spec, spec_with

TEMPLATE_PATHS = {
    "Deployment": "spec.template",
    "StatefulSet": "spec.template",
    "DaemonSet": "spec.template",
    "ReplicaSet": "spec.template",
    "ReplicationController": "spec.template",
    "Job": "spec.template",
    "CronJob": "spec.jobTemplate.spec.template",
    "PodTemplate": "template",
}
API_VERSIONS = {
    "Pod": "v1",
    "ReplicationController": "v1",
    "PodTemplate": "v1",
    "Job": "batch/v1",
    "CronJob": "batch/v1",
}


def wrap(
    kind: str, spec: dict[str, Any], pod_metadata: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An object of ``kind`` carrying ``spec`` as its (template's) pod spec."""
    obj: dict[str, Any] = {
        "apiVersion": API_VERSIONS.get(kind, "apps/v1"),
        "kind": kind,
        "metadata": {"name": "web", "namespace": "shop"},
    }
    if kind == "Pod":
        obj["spec"] = spec
        if pod_metadata:
            obj["metadata"].update(pod_metadata)
        return obj
    node = obj
    keys = TEMPLATE_PATHS[kind].split(".")
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = {"metadata": pod_metadata or {"labels": {"app": "web"}}, "spec": spec}
    return obj


def spec_path(kind: str) -> str:
    return "spec" if kind == "Pod" else f"{TEMPLATE_PATHS[kind]}.spec"


KINDS = ["Pod", *TEMPLATE_PATHS]


def test_pod_bearing_kinds_and_plurals() -> None:
    assert dict(POD_BEARING_KINDS) == {
        "Pod": "pods",
        "Deployment": "deployments",
        "StatefulSet": "statefulsets",
        "DaemonSet": "daemonsets",
        "ReplicaSet": "replicasets",
        "ReplicationController": "replicationcontrollers",
        "Job": "jobs",
        "CronJob": "cronjobs",
        "PodTemplate": "podtemplates",
        "HardenedService": "hardenedservices",
    }


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("profile", ["nonroot", "restricted"])
def test_compliant_object_has_no_violations(kind: str, profile: str) -> None:
    obj = wrap(kind, compliant_spec())
    (ref,) = pod_specs(obj)
    assert ref.path == spec_path(kind)
    assert ref.spec == obj_spec(obj, kind)
    assert review_object(obj, profile) == []  # type: ignore[arg-type]


def obj_spec(obj: dict[str, Any], kind: str) -> Any:
    node: Any = obj
    for key in spec_path(kind).split("."):
        node = node[key]
    return node


@pytest.mark.parametrize("kind", KINDS)
def test_init_container_root_located_from_the_object_root(kind: str) -> None:
    obj = wrap(kind, spec_with(("initContainers[0].securityContext.runAsUser", 0)))
    (violation,) = review_object(obj)
    field = f"{spec_path(kind)}.initContainers[0].securityContext.runAsUser"
    assert (violation.kind, violation.namespace, violation.name) == (kind, "shop", "web")
    assert (violation.check, violation.field) == ("runAsUser", field)
    assert (violation.container, violation.container_type) == ("init", "initContainer")
    assert violation.fix == f"set {field}: 1000"
    assert (violation.fix_op, violation.fix_field, violation.fix_value) == ("set", field, 1000)
    assert violation.describe() == (
        f'{kind} shop/web init container "init": {field}: '
        f"runs as UID 0 (root) (fix: set {field}: 1000)"
    )


@pytest.mark.parametrize("kind", KINDS)
def test_container_override_and_ephemeral_of_a_compliant_pod(kind: str) -> None:
    spec = spec_with(
        ("containers[0].securityContext.runAsNonRoot", False),
        ("ephemeralContainers[0].securityContext.privileged", True),
    )
    found = {(v.check, v.field, v.container_type) for v in review_object(wrap(kind, spec))}
    base = spec_path(kind)
    assert found == {
        ("runAsNonRoot", f"{base}.containers[0].securityContext.runAsNonRoot", "container"),
        (
            "privileged",
            f"{base}.ephemeralContainers[0].securityContext.privileged",
            "ephemeralContainer",
        ),
    }


def test_pod_level_fix_is_rerooted() -> None:
    spec = compliant_spec()
    del spec["securityContext"]["runAsNonRoot"]
    violations = review_object(wrap("CronJob", spec))
    assert {v.fix for v in violations} == {
        "set spec.jobTemplate.spec.template.spec.securityContext.runAsNonRoot: true"
    }
    assert len(violations) == 3  # one per container, all pointing at the one pod-level fix


def test_annotation_violation_is_located_in_the_template_metadata() -> None:
    key = "container.apparmor.security.beta.kubernetes.io/app"
    obj = wrap("Deployment", compliant_spec(), {"annotations": {key: "unconfined"}})
    (violation,) = review_object(obj, "restricted")
    field = f"spec.template.metadata.annotations[{key}]"
    assert (violation.check, violation.field, violation.fix_field) == (
        "appArmorProfile",
        field,
        field,
    )
    assert violation.fix == f"set {field}: runtime/default"
    pod = wrap("Pod", compliant_spec(), {"annotations": {key: "unconfined"}})
    assert review_object(pod, "restricted")[0].field == f"metadata.annotations[{key}]"


def test_malformed_field_reported_once_not_once_per_check() -> None:
    obj = wrap("Deployment", spec_with(("containers[0].securityContext", "root")))
    malformed = [v for v in review_object(obj, "restricted") if v.message.startswith("malformed")]
    assert len(malformed) == 1
    assert malformed[0].field == "spec.template.spec.containers[0].securityContext"
    assert malformed[0].container == "app"


@pytest.mark.parametrize(
    "obj",
    [
        {"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"runAsUser": "0"}},
        {"kind": "Service", "spec": {"template": {"spec": {"containers": [{"name": "x"}]}}}},
        {"apiVersion": "v1", "metadata": {"name": "no-kind"}},
        {"kind": "List", "items": []},
    ],
)
def test_kinds_without_pods_have_no_pod_specs(obj: dict[str, Any]) -> None:
    assert pod_specs(obj) == []
    assert review_object(obj) == []


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ("Pod", "must be a mapping"),
        ({"kind": 3}, "kind must be a string"),
        ({"kind": "Pod", "metadata": {"name": "p"}}, "Pod p: spec is missing"),
        ({"kind": "Pod", "spec": []}, "spec is a list, not an object"),
        ({"kind": "Deployment", "spec": {}}, "spec.template is missing"),
        ({"kind": "Deployment", "spec": {"template": "x"}}, "spec.template is a str"),
        (
            {"kind": "Deployment", "spec": {"template": {"metadata": {}}}},
            "spec.template: spec is missing",
        ),
        (
            {"kind": "Deployment", "spec": {"template": {"spec": {}, "metadata": []}}},
            "spec.template.metadata must be an object",
        ),
        (
            {"kind": "CronJob", "spec": {"jobTemplate": {"spec": None}}},
            "spec.jobTemplate.spec is missing",
        ),
        ({"kind": "PodTemplate", "template": ["spec"]}, "template is a list"),
        ({"kind": "Pod", "metadata": "x", "spec": {}}, "metadata must be an object"),
        (
            {"kind": "Pod", "metadata": {"namespace": 1}, "spec": {}},
            "metadata.namespace must be a string",
        ),
    ],
)
def test_wrong_shapes_raise_input_error(obj: Any, message: str) -> None:
    with pytest.raises(InputError, match=message):
        review_object(obj)


# --- HardenedService ---------------------------------------------------------------------------


def hardened_service(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "ai-system.io/v1alpha1",
        "kind": "HardenedService",
        "metadata": {"name": "svc", "namespace": "ai"},
        "spec": {"image": "registry.example/svc:1.0", **spec},
    }


@pytest.mark.parametrize("key", ["runAsUser", "runAsGroup", "fsGroup"])
def test_hardened_service_root_identity_is_a_violation(key: str) -> None:
    violations = review_object(hardened_service(securityContext={key: 0}))
    field = f"spec.securityContext.{key}"
    assert [v.field for v in violations] == [
        field
    ]  # the schema error on the same field is not repeated
    assert violations[0].kind == "HardenedService"
    assert violations[0].fix == f"set {field}: 1000"


def test_hardened_service_identity_of_wrong_type_is_denied() -> None:
    violations = review_object(hardened_service(securityContext={"runAsUser": "0"}))
    assert violations and violations[0].field == "spec.securityContext.runAsUser"
    assert "must be an integer" in violations[0].message


def test_hardened_service_spec_error_becomes_a_violation_naming_the_field() -> None:
    (violation,) = review_object(hardened_service(replicas="many"))
    assert violation.check == workloads.SPEC_VALIDATION_CHECK
    assert violation.field == "spec.replicas"
    assert "invalid HardenedService spec" in violation.message
    with pytest.raises(SpecValidationError):
        pod_specs(hardened_service(replicas="many"))


@pytest.mark.parametrize("profile", ["nonroot", "restricted"])
def test_real_rendered_hardened_service_passes_its_own_policy(profile: str) -> None:
    obj = hardened_service()
    refs = pod_specs(obj)
    assert refs, "a HardenedService renders at least one pod template"
    assert all(ref.rendered and ref.path.startswith("rendered[Deployment/") for ref in refs)
    assert len(refs) == len(builders.pod_templates(obj))
    assert review_object(obj, profile) == []  # type: ignore[arg-type]


def test_rendered_template_violation_uses_the_rendered_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bad = {"metadata": {}, "spec": spec_with(("containers[0].securityContext.runAsUser", 0))}

    def fake_pod_templates(obj: Any) -> list[tuple[str, dict[str, Any]]]:
        return [("Deployment/svc", copy.deepcopy(bad))]

    monkeypatch.setattr(builders, "pod_templates", fake_pod_templates)
    (violation,) = review_object(hardened_service())
    assert (
        violation.field
        == "rendered[Deployment/svc].spec.template.spec.containers[0].securityContext.runAsUser"
    )
    assert violation.fix_op is None and violation.fix_field is None  # not a field of the object
    assert violation.fix == (
        "set rendered[Deployment/svc].spec.template.spec.containers[0].securityContext.runAsUser:"
        " 1000 (in the pod template the operator renders from this HardenedService)"
    )


def test_builders_input_error_becomes_a_violation(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(obj: Any) -> list[tuple[str, dict[str, Any]]]:
        raise InputError("cannot render this")

    monkeypatch.setattr(builders, "pod_templates", refuse)
    (violation,) = review_object(hardened_service())
    assert (violation.check, violation.field) == (workloads.SPEC_VALIDATION_CHECK, "spec")
    assert "cannot render this" in violation.message


def test_policy_and_workloads_stay_pure_and_light() -> None:
    """Importing the engine (what the audit CLI and webhook start with) loads no Kubernetes
    client, no kopf, no aiohttp and not even pydantic (only a HardenedService needs it)."""
    import subprocess
    import sys

    code = (
        "import sys, hardened_operator.workloads, hardened_operator.policy\n"
        "heavy = [m for m in ('kubernetes', 'kopf', 'aiohttp', 'pydantic') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize(
    ("annotations", "field"),
    [
        ("not-a-map", "spec.template.metadata.annotations"),
        (
            {"container.apparmor.security.beta.kubernetes.io/app": 3},
            "spec.template.metadata.annotations[container.apparmor.security.beta.kubernetes.io/app]",
        ),
    ],
)
def test_malformed_pod_metadata_is_located_in_the_template_metadata(
    annotations: Any, field: str
) -> None:
    obj = wrap("Deployment", compliant_spec(), {"annotations": annotations})
    (violation,) = review_object(obj, "restricted")
    assert (violation.check, violation.field) == ("appArmorProfile", field)


@pytest.mark.parametrize("obj", [{"kind": "ConfigMap"}, hardened_service(), wrap("Pod", {})])
def test_unknown_profile_fails_whatever_the_object(obj: dict[str, Any]) -> None:
    with pytest.raises(PolicyError, match="unknown policy profile"):
        review_object(obj, "strict")  # type: ignore[arg-type]
