"""The pure decision function, table-driven: verbs, subresources, kinds, modes, exemptions,
the significant-update rule, dryRun and uid echo."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from hardened_operator import workloads as workloads_module
from hardened_operator.webhook import BadReview, WebhookConfig, decide, evaluate_review
from hardened_operator.webhook.responses import MAX_WARNING_CHARS, MAX_WARNINGS
from tests.webhook.webhook_support import (
    COMPLIANT_POD_SPEC,
    UID,
    pod,
    review,
    root_pod_spec,
    workload,
)

CONFIG = WebhookConfig()
WORKLOAD_KINDS = (
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ReplicationController",
    "Job",
    "CronJob",
    "PodTemplate",
)
IGNORED_POD_SUBRESOURCES = (
    "status",
    "binding",
    "eviction",
    "exec",
    "attach",
    "log",
    "portforward",
    "proxy",
)


def hsvc(
    run_as_user: int | None = None, image: str = "ai_system/base:1.0", replicas: int = 1
) -> dict[str, Any]:
    spec: dict[str, Any] = {"image": image, "replicas": replicas}
    if run_as_user is not None:
        spec["securityContext"] = {"runAsUser": run_as_user}
    return {
        "apiVersion": "ai-system.io/v1alpha1",
        "kind": "HardenedService",
        "metadata": {"name": "svc", "namespace": "shop"},
        "spec": spec,
    }


def with_image(obj: dict[str, Any], image: str) -> dict[str, Any]:
    changed = copy.deepcopy(obj)
    spec = changed["spec"] if changed["kind"] == "Pod" else changed["spec"]["template"]["spec"]
    spec["containers"][0]["image"] = image
    return changed


def with_label(obj: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(obj)
    changed["metadata"].setdefault("labels", {})["touched"] = "yes"
    return changed


def with_ephemeral(obj: dict[str, Any], run_as_user: int) -> dict[str, Any]:
    changed = copy.deepcopy(obj)
    changed["spec"]["ephemeralContainers"] = [
        {
            "name": "debugger",
            "image": "busybox:1.36",
            "securityContext": {
                "runAsUser": run_as_user,
                "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"]},
            },
        }
    ]
    return changed


ROOT_POD = pod(root_pod_spec())
OK_POD = pod()
ROOT_DEPLOY = workload("Deployment", root_pod_spec())
OK_DEPLOY = workload("Deployment")
SCALED_ROOT_DEPLOY = copy.deepcopy(ROOT_DEPLOY)
SCALED_ROOT_DEPLOY["spec"]["replicas"] = 5
ROOT_INIT_POD = pod(
    {
        **copy.deepcopy(COMPLIANT_POD_SPEC),
        "initContainers": [
            {"name": "setup", "image": "busybox:1", "securityContext": {"runAsUser": 0}}
        ],
    }
)
SECCOMP_ANNOTATED_ROOT_POD = copy.deepcopy(ROOT_POD)
SECCOMP_ANNOTATED_ROOT_POD["metadata"]["annotations"] = {
    "seccomp.security.alpha.kubernetes.io/pod": "runtime/default"
}
ADDED_CONTAINER_ROOT_POD = copy.deepcopy(ROOT_POD)
ADDED_CONTAINER_ROOT_POD["spec"]["containers"].append(
    {**copy.deepcopy(ROOT_POD["spec"]["containers"][0]), "name": "second"}
)
INIT_IMAGE_CHANGED = copy.deepcopy(ROOT_INIT_POD)
INIT_IMAGE_CHANGED["spec"]["initContainers"][0]["image"] = "busybox:2"
EPHEMERAL_IMAGE_CHANGED = with_ephemeral(OK_POD, 0)
EPHEMERAL_IMAGE_CHANGED["spec"]["ephemeralContainers"][0]["image"] = "busybox:2"
TEMPLATE_LABEL_CHANGED = copy.deepcopy(ROOT_DEPLOY)
TEMPLATE_LABEL_CHANGED["spec"]["template"]["metadata"]["labels"]["v"] = "2"
SCALE = {
    "apiVersion": "autoscaling/v1",
    "kind": "Scale",
    "metadata": {"name": "web"},
    "spec": {"replicas": 3},
}

# (id, review, mode, config, allowed, status code or None, verdict)
CASES: list[tuple[str, dict[str, Any], str, WebhookConfig, bool, int | None, str]] = [
    # --- verbs
    ("create compliant pod", review(OK_POD), "enforce", CONFIG, True, None, "allow"),
    ("create root pod", review(ROOT_POD), "enforce", CONFIG, False, 403, "deny"),
    (
        "delete root pod",
        review(None, kind="Pod", operation="DELETE", old=ROOT_POD),
        "enforce",
        CONFIG,
        True,
        None,
        "skip",
    ),
    (
        "connect exec",
        review({"kind": "PodExecOptions"}, kind="Pod", operation="CONNECT", subresource="exec"),
        "enforce",
        CONFIG,
        True,
        None,
        "skip",
    ),
    (
        "update op unknown",
        review(ROOT_POD, operation="PATCH"),
        "enforce",
        CONFIG,
        False,
        400,
        "invalid",
    ),
    # --- pod updates (PSA's significant-update rule)
    (
        "pod update: label only",
        review(with_label(ROOT_POD), operation="UPDATE", old=ROOT_POD),
        "enforce",
        CONFIG,
        True,
        None,
        "skip",
    ),
    (
        "pod update: image",
        review(with_image(ROOT_POD, "nginx:2"), operation="UPDATE", old=ROOT_POD),
        "enforce",
        CONFIG,
        False,
        403,
        "deny",
    ),
    (
        "pod update: container added",
        review(ADDED_CONTAINER_ROOT_POD, operation="UPDATE", old=ROOT_POD),
        "enforce",
        CONFIG,
        False,
        403,
        "deny",
    ),
    (
        "pod update: container removed",
        review(ROOT_POD, operation="UPDATE", old=ADDED_CONTAINER_ROOT_POD),
        "enforce",
        CONFIG,
        False,
        403,
        "deny",
    ),
    (
        "pod update: label on root init pod",
        review(with_label(ROOT_INIT_POD), operation="UPDATE", old=ROOT_INIT_POD),
        "enforce",
        CONFIG,
        True,
        None,
        "skip",
    ),
    (
        "pod update: init image",
        review(INIT_IMAGE_CHANGED, operation="UPDATE", old=ROOT_INIT_POD),
        "enforce",
        CONFIG,
        False,
        403,
        "deny",
    ),
    (
        "pod update: seccomp annotation",
        review(SECCOMP_ANNOTATED_ROOT_POD, operation="UPDATE", old=ROOT_POD),
        "enforce",
        CONFIG,
        False,
        403,
        "deny",
    ),
    (
        "pod update: compliant image change",
        review(with_image(OK_POD, "nginx:2"), operation="UPDATE", old=OK_POD),
        "enforce",
        CONFIG,
        True,
        None,
        "allow",
    ),
    (
        "pod update: no oldObject",
        review(with_label(ROOT_POD), operation="UPDATE", old=None),
        "enforce",
        CONFIG,
        False,
        403,
        "deny",
    ),
    (
        "pod update: oldObject of another kind",
        review(with_label(ROOT_POD), operation="UPDATE", old=OK_DEPLOY),
        "enforce",
        CONFIG,
        False,
        403,
        "deny",
    ),
    # --- ephemeral containers: kubectl debug
    (
        "debug: root ephemeral",
        review(
            with_ephemeral(OK_POD, 0),
            kind="Pod",
            operation="UPDATE",
            subresource="ephemeralcontainers",
            old=OK_POD,
        ),
        "enforce",
        CONFIG,
        False,
        403,
        "deny",
    ),
    (
        "debug: non-root ephemeral",
        review(
            with_ephemeral(OK_POD, 1000),
            kind="Pod",
            operation="UPDATE",
            subresource="ephemeralcontainers",
            old=OK_POD,
        ),
        "enforce",
        CONFIG,
        True,
        None,
        "allow",
    ),
    (
        "debug: ephemeral unchanged",
        review(
            with_ephemeral(OK_POD, 0),
            kind="Pod",
            operation="UPDATE",
            subresource="ephemeralcontainers",
            old=with_ephemeral(OK_POD, 0),
        ),
        "enforce",
        CONFIG,
        True,
        None,
        "skip",
    ),
    (
        "debug: ephemeral image changed",
        review(
            EPHEMERAL_IMAGE_CHANGED,
            kind="Pod",
            operation="UPDATE",
            subresource="ephemeralcontainers",
            old=with_ephemeral(OK_POD, 0),
        ),
        "enforce",
        CONFIG,
        False,
        403,
        "deny",
    ),
    (
        "debug: object not a pod",
        review(SCALE, kind="Pod", operation="UPDATE", subresource="ephemeralcontainers"),
        "enforce",
        CONFIG,
        False,
        400,
        "invalid",
    ),
    # --- unknown pod subresource: evaluated like PSA (fail closed on version skew)
    (
        "pod/resize: root pod, nothing significant",
        review(ROOT_POD, kind="Pod", operation="UPDATE", subresource="resize", old=ROOT_POD),
        "enforce",
        CONFIG,
        True,
        None,
        "skip",
    ),
    (
        "pod/future: root pod created",
        review(ROOT_POD, kind="Pod", subresource="future"),
        "enforce",
        CONFIG,
        False,
        403,
        "deny",
    ),
    (
        "pod/future: not a pod",
        review(SCALE, kind="Pod", subresource="future"),
        "enforce",
        CONFIG,
        False,
        400,
        "invalid",
    ),
    # --- workload updates: pod template only
    (
        "deploy update: scale old root",
        review(SCALED_ROOT_DEPLOY, operation="UPDATE", old=ROOT_DEPLOY),
        "enforce",
        CONFIG,
        True,
        None,
        "skip",
    ),
    (
        "deploy update: label on object",
        review(with_label(ROOT_DEPLOY), operation="UPDATE", old=ROOT_DEPLOY),
        "enforce",
        CONFIG,
        True,
        None,
        "skip",
    ),
    (
        "deploy update: image",
        review(with_image(ROOT_DEPLOY, "nginx:2"), operation="UPDATE", old=ROOT_DEPLOY),
        "enforce",
        CONFIG,
        False,
        403,
        "deny",
    ),
    (
        "deploy update: template label",
        review(TEMPLATE_LABEL_CHANGED, operation="UPDATE", old=ROOT_DEPLOY),
        "enforce",
        CONFIG,
        False,
        403,
        "deny",
    ),
    (
        "deploy update: made compliant",
        review(OK_DEPLOY, operation="UPDATE", old=ROOT_DEPLOY),
        "enforce",
        CONFIG,
        True,
        None,
        "allow",
    ),
    (
        "deploy update: unreadable old",
        review(
            with_label(ROOT_DEPLOY),
            operation="UPDATE",
            old={"apiVersion": "apps/v1", "kind": "Deployment", "spec": 3},
        ),
        "enforce",
        CONFIG,
        False,
        403,
        "deny",
    ),
    (
        "deployments/scale",
        review(SCALE, kind="Deployment", operation="UPDATE", subresource="scale"),
        "enforce",
        CONFIG,
        True,
        None,
        "skip",
    ),
    (
        "deployments/status",
        review(ROOT_DEPLOY, operation="UPDATE", subresource="status", old=ROOT_DEPLOY),
        "enforce",
        CONFIG,
        True,
        None,
        "skip",
    ),
    (
        "deployments/unknown carrying root deploy",
        review(ROOT_DEPLOY, operation="UPDATE", subresource="rollback"),
        "enforce",
        CONFIG,
        False,
        403,
        "deny",
    ),
    (
        "deployments/unknown carrying other",
        review(SCALE, kind="Deployment", operation="UPDATE", subresource="rollback"),
        "enforce",
        CONFIG,
        False,
        400,
        "invalid",
    ),
    # --- HardenedService
    ("hsvc compliant", review(hsvc()), "enforce", CONFIG, True, None, "allow"),
    ("hsvc root", review(hsvc(run_as_user=0)), "enforce", CONFIG, False, 403, "deny"),
    (
        "hsvc update: replicas only",
        review(hsvc(replicas=3), operation="UPDATE", old=hsvc()),
        "enforce",
        CONFIG,
        True,
        None,
        "skip",
    ),
    (
        "hsvc update: image",
        review(hsvc(image="ai_system/base:1.1"), operation="UPDATE", old=hsvc()),
        "enforce",
        CONFIG,
        True,
        None,
        "allow",
    ),
    (
        "hsvc update: to root",
        review(hsvc(run_as_user=0), operation="UPDATE", old=hsvc()),
        "enforce",
        CONFIG,
        False,
        403,
        "deny",
    ),
    (
        "hsvc/status",
        review(hsvc(run_as_user=0), operation="UPDATE", subresource="status"),
        "enforce",
        CONFIG,
        True,
        None,
        "skip",
    ),
    # --- kinds and shapes
    (
        "configmap",
        review({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"}}),
        "enforce",
        CONFIG,
        True,
        None,
        "skip",
    ),
    (
        "configmap, garbage object",
        review([1, 2], kind="ConfigMap"),
        "enforce",
        CONFIG,
        True,
        None,
        "skip",
    ),
    (
        "deployment resource, pod object",
        review(ROOT_POD, kind="Deployment"),
        "enforce",
        CONFIG,
        False,
        400,
        "invalid",
    ),
    (
        "deployment resource, wrong group",
        review({**OK_DEPLOY, "apiVersion": "extensions.example.com/v1"}),
        "enforce",
        CONFIG,
        False,
        400,
        "invalid",
    ),
    (
        "deployment resource, list object",
        review([OK_DEPLOY], kind="Deployment"),
        "enforce",
        CONFIG,
        False,
        400,
        "invalid",
    ),
    (
        "deployment resource, no object",
        review(None, kind="Deployment"),
        "enforce",
        CONFIG,
        False,
        400,
        "invalid",
    ),
    (
        "deployment, template is a list",
        review({**OK_DEPLOY, "spec": {"template": []}}),
        "enforce",
        CONFIG,
        False,
        400,
        "invalid",
    ),
    (
        "pod, spec missing",
        review({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}}),
        "enforce",
        CONFIG,
        False,
        400,
        "invalid",
    ),
    (
        "pod, containers not a list",
        review(pod({"containers": {"name": "a"}})),
        "enforce",
        CONFIG,
        False,
        403,
        "deny",
    ),
    # --- modes
    ("warn: root", review(ROOT_POD), "warn", CONFIG, True, None, "warn"),
    ("audit: root", review(ROOT_POD), "audit", CONFIG, True, None, "audit"),
    ("warn: compliant", review(OK_POD), "warn", CONFIG, True, None, "allow"),
    ("unknown mode", review(ROOT_POD), "disabled", CONFIG, False, 400, "invalid"),
    (
        "warn: malformed still denied",
        review(ROOT_POD, kind="Deployment"),
        "warn",
        CONFIG,
        False,
        400,
        "invalid",
    ),
    # --- dryRun: same verdict
    ("dryRun root", review(ROOT_POD, dry_run=True), "enforce", CONFIG, False, 403, "deny"),
    ("dryRun compliant", review(OK_POD, dry_run=True), "enforce", CONFIG, True, None, "allow"),
    # --- exemptions: exact matches only
    (
        "kube-system exempt",
        review(ROOT_POD, namespace="kube-system"),
        "enforce",
        CONFIG,
        True,
        None,
        "exempt",
    ),
    (
        "operator namespace exempt",
        review(ROOT_POD, namespace="hardened-system"),
        "enforce",
        CONFIG,
        True,
        None,
        "exempt",
    ),
    (
        "kube-system-evil",
        review(ROOT_POD, namespace="kube-system-evil"),
        "enforce",
        CONFIG,
        False,
        403,
        "deny",
    ),
    (
        "KUBE-SYSTEM",
        review(ROOT_POD, namespace="KUBE-SYSTEM"),
        "enforce",
        CONFIG,
        False,
        403,
        "deny",
    ),
    (
        "custom exemptions replace defaults",
        review(ROOT_POD, namespace="kube-system"),
        "enforce",
        WebhookConfig(exempt_namespaces=frozenset({"infra"})),
        False,
        403,
        "deny",
    ),
    (
        "custom exempt namespace",
        review(ROOT_POD, namespace="infra"),
        "enforce",
        WebhookConfig(exempt_namespaces=frozenset({"infra"})),
        True,
        None,
        "exempt",
    ),
    (
        "exempt username",
        review(ROOT_POD, username="system:serviceaccount:infra:bot"),
        "enforce",
        WebhookConfig(exempt_usernames=frozenset({"system:serviceaccount:infra:bot"})),
        True,
        None,
        "exempt",
    ),
    (
        "username prefix is not exempt",
        review(ROOT_POD, username="system:serviceaccount:infra:bot2"),
        "enforce",
        WebhookConfig(exempt_usernames=frozenset({"system:serviceaccount:infra:bot"})),
        False,
        403,
        "deny",
    ),
    (
        "exempt namespace, workload",
        review(ROOT_DEPLOY, namespace="kube-system"),
        "enforce",
        CONFIG,
        True,
        None,
        "exempt",
    ),
    # --- profile
    (
        "restricted: missing seccomp",
        review(
            pod({**copy.deepcopy(COMPLIANT_POD_SPEC), "securityContext": {"runAsNonRoot": True}})
        ),
        "enforce",
        WebhookConfig(profile="restricted"),
        False,
        403,
        "deny",
    ),
    (
        "nonroot: missing seccomp is fine",
        review(
            pod({**copy.deepcopy(COMPLIANT_POD_SPEC), "securityContext": {"runAsNonRoot": True}})
        ),
        "enforce",
        CONFIG,
        True,
        None,
        "allow",
    ),
]
CASES += [
    (f"{kind} compliant", review(workload(kind)), "enforce", CONFIG, True, None, "allow")
    for kind in WORKLOAD_KINDS
]
CASES += [
    (f"{kind} root", review(workload(kind, root_pod_spec())), "enforce", CONFIG, False, 403, "deny")
    for kind in WORKLOAD_KINDS
]
CASES += [
    (
        f"pods/{sub} ignored",
        review(ROOT_POD, operation="UPDATE", subresource=sub, old=OK_POD),
        "enforce",
        CONFIG,
        True,
        None,
        "skip",
    )
    for sub in IGNORED_POD_SUBRESOURCES
]


@pytest.mark.parametrize(
    ("body", "mode", "config", "allowed", "code", "verdict"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_decision_table(
    body: dict[str, Any],
    mode: str,
    config: WebhookConfig,
    allowed: bool,
    code: int | None,
    verdict: str,
) -> None:
    decision = evaluate_review(body, config, mode)
    response = decision.response
    assert response["apiVersion"] == "admission.k8s.io/v1"
    assert response["kind"] == "AdmissionReview"
    assert response["response"]["uid"] == body["request"]["uid"]
    assert response["response"]["allowed"] is allowed
    assert decision.verdict == verdict
    if code is None:
        assert "status" not in response["response"]
    else:
        status = response["response"]["status"]
        assert status["code"] == code
        assert status["status"] == "Failure"
        assert status["message"]


def test_case_ids_are_unique() -> None:
    ids = [case[0] for case in CASES]
    assert len(ids) == len(set(ids))


def test_uid_is_echoed_verbatim() -> None:
    for uid in ("a", "705ab4f5-6393-11e8-b7cc-42010a800002", "x" * 128):
        assert decide(review(ROOT_POD, uid=uid), CONFIG)["response"]["uid"] == uid
        assert decide(review(OK_POD, uid=uid), CONFIG)["response"]["uid"] == uid


def test_denial_message_names_container_field_and_fix() -> None:
    message = decide(review(ROOT_INIT_POD), CONFIG)["response"]["status"]["message"]
    assert 'Pod shop/web init container "setup"' in message
    assert "spec.initContainers[0].securityContext.runAsUser" in message
    assert "fix:" in message
    assert decide(review(ROOT_POD), CONFIG)["response"]["status"]["reason"] == "Forbidden"


def test_dry_run_gets_the_same_response() -> None:
    for obj in (ROOT_POD, OK_POD, ROOT_DEPLOY):
        wet = decide(review(obj), CONFIG)
        dry = decide(review(obj, dry_run=True), CONFIG)
        assert wet == dry


def test_warn_mode_one_short_warning_per_violation() -> None:
    body = review(ROOT_DEPLOY)
    denied = decide(body, CONFIG, "enforce")["response"]
    warned = decide(body, CONFIG, "warn")["response"]
    violations = workloads_module.review_object(ROOT_DEPLOY)
    assert violations, "the root Deployment must have violations for this test to mean anything"
    assert warned["allowed"] is True
    assert len(warned["warnings"]) == len(violations)
    for warning, violation in zip(warned["warnings"], violations, strict=True):
        assert len(warning) <= MAX_WARNING_CHARS
        assert violation.field in warning
        assert violation.fix in warning  # the fix survives shortening
    assert "auditAnnotations" not in warned
    assert "status" in denied


def test_warnings_are_capped_with_a_summary() -> None:
    spec = root_pod_spec()
    spec["containers"] = [
        {**copy.deepcopy(spec["containers"][0]), "name": f"c{i}"} for i in range(30)
    ]
    warned = decide(review(pod(spec)), CONFIG, "warn")["response"]
    assert len(warned["warnings"]) == MAX_WARNINGS + 1
    assert "more violations not shown" in warned["warnings"][-1]
    denied = decide(review(pod(spec)), CONFIG, "enforce")["response"]
    assert "and 10 more" in denied["status"]["message"]


def test_audit_mode_annotations() -> None:
    audited = decide(review(ROOT_POD), CONFIG, "audit")["response"]
    annotations = audited["auditAnnotations"]
    assert audited["allowed"] is True
    assert "warnings" not in audited
    assert annotations["profile"] == "nonroot"
    assert "runAsUser" in annotations["checks"].split(",")
    assert 'container "app"' in annotations["violations"]
    for key, value in annotations.items():
        assert key.replace("-", "").isalnum() and len(key) <= 63
        assert isinstance(value, str)


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        "AdmissionReview",
        {},
        {
            "apiVersion": "admission.k8s.io/v1beta1",
            "kind": "AdmissionReview",
            "request": {"uid": "u"},
        },
        {"apiVersion": "admission.k8s.io/v1", "kind": "Pod", "request": {"uid": "u"}},
        {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"},
        {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": []},
        {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {}},
        {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": ""}},
        {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": 7}},
        {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {"uid": "u" * 129},
        },
    ],
    ids=[
        "null",
        "list",
        "string",
        "empty object",
        "v1beta1",
        "wrong kind",
        "no request",
        "request is a list",
        "no uid",
        "empty uid",
        "uid not a string",
        "uid too long",
    ],
)
def test_no_uid_to_echo_raises(body: Any) -> None:
    with pytest.raises(BadReview):
        evaluate_review(body, CONFIG)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda r: r.pop("operation"),
        lambda r: r.update(operation=1),
        lambda r: r.pop("resource"),
        lambda r: r.update(resource="pods"),
        lambda r: r.update(resource={"group": "", "version": "v1", "resource": ["pods"]}),
        lambda r: r.pop("kind"),
        lambda r: r.update(kind={"group": "", "version": "v1"}),
        lambda r: r.update(namespace=["shop"]),
        lambda r: r.update(userInfo="alice"),
        lambda r: r.update(subResource=5),
    ],
    ids=[
        "no operation",
        "operation not a string",
        "no resource",
        "resource a string",
        "resource name a list",
        "no kind",
        "kind without kind",
        "namespace a list",
        "userInfo a string",
        "subResource a number",
    ],
)
def test_malformed_request_is_denied_with_uid(mutate: Any) -> None:
    body = review(ROOT_POD)
    mutate(body["request"])
    response = decide(body, CONFIG)["response"]
    assert response["uid"] == UID
    assert response["allowed"] is False
    assert response["status"]["code"] == 400


def test_request_kind_must_match_resource() -> None:
    body = review(ROOT_POD)
    body["request"]["kind"]["kind"] = "Deployment"
    assert decide(body, CONFIG)["response"]["status"]["code"] == 400
    body = review({"apiVersion": "v1", "kind": "ConfigMap"}, kind="ConfigMap")
    body["request"]["kind"] = {"group": "apps", "version": "v1", "kind": "Deployment"}
    assert decide(body, CONFIG)["response"]["allowed"] is False


def test_policy_crash_fails_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(obj: Any, profile: str = "nonroot") -> list[Any]:
        raise RuntimeError("bug in a check")

    monkeypatch.setattr(workloads_module, "review_object", explode)
    decision = evaluate_review(review(OK_POD), CONFIG)
    assert decision.verdict == "error"
    assert decision.response["response"]["allowed"] is False
    assert decision.response["response"]["status"]["code"] == 500


def test_kind_labels_are_bounded() -> None:
    assert evaluate_review(review(ROOT_DEPLOY), CONFIG).kind == "Deployment"
    assert evaluate_review(review({"kind": "ConfigMap"}, kind="ConfigMap"), CONFIG).kind == "other"
    body = review(ROOT_POD)
    body["request"]["resource"] = {"group": "evil", "resource": "x" * 1000}
    assert evaluate_review(body, CONFIG).kind == "other"


def test_target_table_matches_review_kinds() -> None:
    from hardened_operator.webhook.kinds import TARGETS

    assert {t.kind: r for (_, r), t in TARGETS.items()} == dict(workloads_module.POD_BEARING_KINDS)
