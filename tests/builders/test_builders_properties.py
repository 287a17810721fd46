"""Properties over generated specs: every pod we generate is restricted-compliant and every object
passes the official Kubernetes schemas (kubernetes-validate, strict) for 1.30 and 1.37."""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator
from typing import Any

import kubernetes_validate
import kubernetes_validate.utils
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardened_operator import conventions
from hardened_operator.builders import build_objects, pod_templates
from hardened_operator.builders.availability import wants_disruption_budget
from hardened_operator.errors import SpecValidationError
from hardened_operator.model.validation import parse
from tests.builders.builders_strategies import hardened_services

try:  # helper "policy" owns the engine; without it these tests must fail, never skip
    from hardened_operator.policy import evaluate
except ImportError as error:  # pragma: no cover - only while the policy package is missing
    _POLICY_IMPORT_ERROR: ImportError | None = error
else:
    _POLICY_IMPORT_ERROR = None

KUBERNETES_VERSIONS = ("1.30", "1.37")
PROPERTY_SETTINGS = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@pytest.fixture(scope="module", autouse=True)
def _reuse_loaded_schemas() -> Iterator[None]:
    """kubernetes-validate re-reads its JSON schemas (megabytes) on every call; cache them for
    this module so the property tests check many more specs in the same time. Same schemas,
    same validator: only the file reads are shared."""
    original = kubernetes_validate.utils.schema_contents
    kubernetes_validate.utils.schema_contents = functools.lru_cache(maxsize=None)(original)
    try:
        yield
    finally:
        kubernetes_validate.utils.schema_contents = original


def _policy_evaluate() -> Any:
    if _POLICY_IMPORT_ERROR is not None:
        pytest.fail(f"hardened_operator.policy.evaluate is not importable: {_POLICY_IMPORT_ERROR}")
    return evaluate


@PROPERTY_SETTINGS
@given(hardened_services())
def test_every_pod_template_passes_the_restricted_profile(obj: dict[str, Any]) -> None:
    check = _policy_evaluate()
    templates = pod_templates(obj)
    assert templates, "a HardenedService always runs at least its workload Deployment"
    for label, template in templates:
        results = check(template["metadata"], template["spec"], "restricted")
        assert results, "the restricted profile ran no checks"
        denied = [f"{r.check}: {r.reason} {r.detail}" for r in results if not r.allowed]
        assert denied == [], f"{label}: {denied}"


@PROPERTY_SETTINGS
@given(hardened_services())
def test_every_object_passes_the_official_schemas(obj: dict[str, Any]) -> None:
    for item in build_objects(obj):
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(item, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                pytest.fail(
                    f"{item['kind']}/{item['metadata']['name']} invalid for {version}: "
                    f"{error.message} at {list(error.path)}"
                )


@PROPERTY_SETTINGS
@given(hardened_services())
def test_structural_invariants(obj: dict[str, Any]) -> None:
    hs = parse(obj)
    original = copy.deepcopy(obj)
    objects = build_objects(obj)
    assert obj == original, "the builders must not mutate their input"
    assert objects == build_objects(copy.deepcopy(obj)), "same input, same output"
    name = obj["metadata"]["name"]
    uid = str(hs.spec.securityContext.runAsUser)
    kinds = [o["kind"] for o in objects]
    enabled = [v for v, spec in hs.spec.volumes.enabled()]
    stateful = hs.spec.workload == "StatefulSet"
    assert kinds == (
        ["PersistentVolumeClaim"] * (0 if stateful else len(enabled))
        + ["StatefulSet" if stateful else "Deployment"]
        + (["Service"] if hs.spec.ports or stateful else [])
        + (["Deployment"] if hs.spec.debug else [])
        + (["HorizontalPodAutoscaler"] if hs.spec.autoscaling else [])
        + (["PodDisruptionBudget"] if wants_disruption_budget(hs) else [])
        + (["NetworkPolicy"] if hs.spec.networkPolicy is not None else [])
    )
    for item in objects:
        meta = item["metadata"]
        assert meta.get("namespace") == obj["metadata"].get("namespace")
        assert "ownerReferences" not in meta
        labels = meta["labels"]
        assert labels["app.kubernetes.io/name"] == name
        assert labels["app.kubernetes.io/instance"] == name
        assert labels["app.kubernetes.io/managed-by"] == "hardened-operator"
        assert labels["app.kubernetes.io/part-of"] == "ai-system"
        assert labels["app.kubernetes.io/component"]
        expected_security = {**conventions.SECURITY_LABELS, "ai-system.io/run-as-user": uid}
        assert expected_security.items() <= labels.items()
    for item in objects:
        if item["kind"] != "Deployment":
            continue
        selector = item["spec"]["selector"]["matchLabels"]
        pod_labels = item["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= pod_labels.items()
        assert set(selector) == {
            "app.kubernetes.io/name",
            "app.kubernetes.io/instance",
            "app.kubernetes.io/component",
        }
        assert (obj["spec"].get("podLabels") or {}).items() <= pod_labels.items()
        pod = item["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsUser"] == hs.spec.securityContext.runAsUser
        assert pod["automountServiceAccountToken"] is hs.spec.automountServiceAccountToken
        mounts = {m["mountPath"] for c in pod["containers"] for m in c["volumeMounts"]}
        assert mounts == {"/tmp", *(f"/app/{v}" for v in enabled)}


@PROPERTY_SETTINGS
@given(hardened_services())
def test_root_identity_is_always_refused(obj: dict[str, Any]) -> None:
    for field in ("runAsUser", "runAsGroup", "fsGroup"):
        bad = copy.deepcopy(obj)
        bad["spec"].setdefault("securityContext", {})[field] = 0
        with pytest.raises(SpecValidationError) as caught:
            build_objects(bad)
        assert caught.value.field == f"spec.securityContext.{field}"


_SECURITY_ANNOTATIONS = [
    ("container.apparmor.security.beta.kubernetes.io/app", "unconfined"),
    ("container.apparmor.security.beta.kubernetes.io/debug", "runtime/default"),
    ("seccomp.security.alpha.kubernetes.io/pod", "unconfined"),
    ("container.seccomp.security.alpha.kubernetes.io/app", "unconfined"),
]


@PROPERTY_SETTINGS
@given(hardened_services(), st.sampled_from(_SECURITY_ANNOTATIONS))
def test_security_annotations_are_always_refused(
    obj: dict[str, Any], annotation: tuple[str, str]
) -> None:
    """podAnnotations could otherwise carry an AppArmor/seccomp profile past the builders."""
    bad = copy.deepcopy(obj)
    key, value = annotation
    bad["spec"].setdefault("podAnnotations", {})[key] = value
    with pytest.raises(SpecValidationError) as caught:
        pod_templates(bad)
    assert caught.value.field == "spec.podAnnotations"
