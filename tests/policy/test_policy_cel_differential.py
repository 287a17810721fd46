"""Differential test: the in-process policy against the webhook, through a real kube-apiserver.

The same session's API server judges every request twice: in namespaces where only the
generated ValidatingAdmissionPolicy applies, and in namespaces where only ``hardened webhook``
does (``cel_plane.two_enforcers``). The corpus is the PSA differential test's (the check
table's rows, hand-made extras, seeded random mixes), upstream's PSA fixtures and the
admission fixtures, each pod spec sent as a Pod and as the pod template of every other
pod-bearing kind. Verdicts must be identical. Then the update rule, ``pods/ephemeralcontainers``
and ``kubectl debug``, the modes and exemptions, and pods with tens of thousands of
containers.

This is the ``nonroot`` profile; ``nonroot:allow-root-group`` has its own run beside it
(``test_policy_cel_differential_allow_root_group.py``).

Documented exception (docs/admission-policy.md): HardenedService is the webhook's alone (its
pods are rendered by the builders, which CEL cannot run); the policy does not match it, and
the corpus's HardenedServices are counted as such, not compared.

Needs the shared ``control_plane`` fixture (skips without one, fails in CI).
"""

from __future__ import annotations

import copy
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from hardened_operator.inprocess import in_process_kinds, policy_documents
from hardened_operator.k8s import bootstrap
from hardened_operator.workloads import pod_specs
from tests.policy.cel_plane import (
    EXEMPT_USER,
    OTHER_USER,
    SIDES,
    Answer,
    TwoEnforcers,
    apply_policy,
    create_path,
    delete_policy,
    object_path,
    root_pod,
    two_enforcers,
    wait_for,
)
from tests.policy.policy_summary import CONFORMANCE_COUNTS
from tests.policy.test_policy_psa_differential import EPHEMERAL_CASES, _base, corpus

pytestmark = pytest.mark.controlplane

FIXTURES = Path(__file__).parent / "fixtures"
KINDS = [k.kind for k in in_process_kinds()]
# The least the corpus must bring (compared, denied) per kind, or the comparison proves little.
MINIMUM_COMPARED, MINIMUM_DENIED = 250, 150


def _fixture_pods() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(label, pod metadata, pod spec) of upstream's PSA fixtures and the admission fixtures;
    HardenedServices are left out (the documented exception), and counted."""
    found = []
    for path in sorted(FIXTURES.rglob("*.yaml")):
        if path.name == "expected.yaml":
            continue
        for document in yaml.safe_load_all(path.read_text()):
            if not isinstance(document, dict) or document.get("kind") == "HardenedService":
                continue
            for ref in pod_specs(document):
                label = str(path.relative_to(FIXTURES))
                metadata = {"annotations": (ref.metadata or {}).get("annotations") or {}}
                found.append((label, metadata, copy.deepcopy(dict(ref.spec))))
    return found


def hardened_service_fixtures() -> list[Path]:
    return [
        path
        for path in sorted(FIXTURES.rglob("*.yaml"))
        if any(
            isinstance(d, dict) and d.get("kind") == "HardenedService"
            for d in yaml.safe_load_all(path.read_text())
        )
    ]


def wrap(
    kind: str, name: str, namespace: str, meta: dict[str, Any], spec: dict[str, Any]
) -> dict[str, Any]:
    """The pod (metadata + spec) as an object of ``kind``."""
    labels = {"app": name}
    template_meta = {**copy.deepcopy(meta), "labels": labels}
    spec = copy.deepcopy(spec)
    if kind in ("Job", "CronJob"):
        spec.setdefault("restartPolicy", "Never")
    template = {"metadata": template_meta, "spec": spec}
    selector = {"matchLabels": labels}
    api = {
        "Pod": "v1",
        "ReplicationController": "v1",
        "PodTemplate": "v1",
        "Job": "batch/v1",
        "CronJob": "batch/v1",
    }.get(kind, "apps/v1")
    obj: dict[str, Any] = {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
    }
    if kind == "Pod":
        obj["metadata"].update(copy.deepcopy(meta))
        obj["spec"] = spec
    elif kind == "PodTemplate":
        obj["template"] = template
    elif kind == "ReplicationController":
        obj["spec"] = {"selector": labels, "template": template}
    elif kind == "Job":
        obj["spec"] = {"template": template}
    elif kind == "CronJob":
        obj["spec"] = {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": template}}}
    else:
        obj["spec"] = {"selector": selector, "template": template}
    return obj


@pytest.fixture(scope="module")
def enforcers(control_plane: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    api = control_plane.api_client()
    api.configuration.connection_pool_maxsize = 8
    from kubernetes import client

    rbac = client.RbacAuthorizationV1Api(api)
    binding_name = f"cel-diff-users-{uuid.uuid4().hex[:6]}"
    binding: dict[str, Any] = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": binding_name},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "cluster-admin",
        },
        "subjects": [
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}
            for user in (EXEMPT_USER, OTHER_USER)
        ],
    }
    rbac.create_cluster_role_binding(binding)  # type: ignore[arg-type]  # the API takes JSON
    try:
        with two_enforcers(api, tmp_path_factory.mktemp("cel")) as setup:
            yield setup
    finally:
        rbac.delete_cluster_role_binding(binding_name)
        api.close()


def _both(setup: TwoEnforcers, make: Any, **options: Any) -> dict[str, Answer]:
    answers = {}
    for side in SIDES:
        obj = make(setup.ns(side))
        answers[side] = setup.request("POST", create_path(obj), obj, **options)
    return answers


def test_every_case_as_every_kind_gets_the_webhooks_verdict(enforcers: TwoEnforcers) -> None:
    cases = [(label, meta, spec) for label, meta, spec in corpus()] + _fixture_pods()
    jobs = [
        (label, kind, index, meta, spec)
        for index, (label, meta, spec) in enumerate(cases)
        for kind in KINDS
    ]

    def judge(job: tuple[str, str, int, dict[str, Any], dict[str, Any]]) -> tuple[Any, ...]:
        label, kind, index, meta, spec = job
        name = f"c{index}-{kind.lower()}"
        answers = _both(enforcers, lambda ns: wrap(kind, name, ns, meta, spec))
        return label, kind, answers["policy"], answers["webhook"]

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(judge, jobs))

    mismatches: list[str] = []
    per_kind = {kind: [0, 0, 0] for kind in KINDS}  # compared, denied, invalid
    for label, kind, policy, webhook in results:
        counts = per_kind[kind]
        if policy.status == 422 and webhook.status == 422:
            counts[2] += 1  # the API's own validation refused it before admission
            continue
        assert policy.status in (201, 403, 422) and webhook.status in (201, 403, 422), (
            label,
            kind,
            policy,
            webhook,
        )
        counts[0] += 1
        counts[1] += not webhook.allowed
        if policy.allowed != webhook.allowed:
            mismatches.append(
                f"{kind} {label}: policy {policy.status} {policy.message[:300]!r}, "
                f"webhook {webhook.status} {webhook.message[:300]!r}"
            )
        elif not policy.allowed:
            # A denial names the object, a container or the pod, the field and the fix.
            assert 'hardened-operator policy "nonroot": ' + kind in policy.message, policy
            assert "(fix: " in policy.message, policy.message

    for kind, (compared, denied, invalid) in per_kind.items():
        CONFORMANCE_COUNTS.append(
            (
                f"nonroot in-process policy vs webhook, {kind}",
                compared - sum(1 for m in mismatches if m.startswith(kind + " ")),
                compared,
                f"identical verdict ({denied} denied; {invalid} refused by API validation in both)",
            )
        )
        assert compared >= MINIMUM_COMPARED and denied >= MINIMUM_DENIED, (kind, compared, denied)
    CONFORMANCE_COUNTS.append(
        (
            "documented exception: HardenedService (webhook only, not compared)",
            len(hardened_service_fixtures()),
            len(hardened_service_fixtures()),
            "fixtures left to the webhook",
        )
    )
    assert not mismatches, f"{len(mismatches)} differences:\n" + "\n".join(mismatches[:20])


def _compliant_pod(namespace: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": _base(),
    }


def _root_deployment(namespace: str) -> dict[str, Any]:
    spec = {"containers": [{"name": "app", "image": "registry.example/app:1"}]}
    return wrap("Deployment", "old-root", namespace, {}, spec)


def test_updates_follow_the_webhooks_rule(enforcers: TwoEnforcers) -> None:
    """An old non-compliant object (created by an exempt user) can be scaled, labelled and
    annotated, but not given a new image or a debug container: same answers on both sides."""
    outcomes: dict[str, dict[str, bool]] = {}
    for side in SIDES:
        ns = enforcers.ns(side)
        old = {}
        for obj in (_root_deployment(ns), root_pod(ns, "old-root")):
            created = enforcers.request(
                "POST", create_path(obj), obj, dry_run=False, user=EXEMPT_USER
            )
            assert created.status == 201, (side, created)
            old[obj["kind"]] = created.body
        deployment, pod = old["Deployment"], old["Pod"]

        def put(obj: dict[str, Any], path: str | None = None) -> bool:
            answer = enforcers.request("PUT", path or object_path(obj), obj)
            assert answer.status in (200, 403), (obj["metadata"]["namespace"], answer)
            return answer.allowed

        scaled = copy.deepcopy(deployment)
        scaled["spec"]["replicas"] = 3
        labelled = copy.deepcopy(deployment)
        labelled["metadata"].setdefault("labels", {})["team"] = "shop"
        new_image = copy.deepcopy(deployment)
        new_image["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example/app:2"
        template_label = copy.deepcopy(deployment)
        template_label["spec"]["template"]["metadata"]["labels"]["rev"] = "2"
        pod_labelled = copy.deepcopy(pod)
        pod_labelled["metadata"].setdefault("labels", {})["team"] = "shop"
        pod_image = copy.deepcopy(pod)
        pod_image["spec"]["containers"][0]["image"] = "registry.example/app:2"
        pod_seccomp = copy.deepcopy(pod)
        pod_seccomp["metadata"].setdefault("annotations", {})[
            "seccomp.security.alpha.kubernetes.io/pod"
        ] = "runtime/default"
        debug = copy.deepcopy(pod)
        debug["spec"]["ephemeralContainers"] = [
            {
                "name": "debugger",
                "image": "busybox:1.36",
                "securityContext": {
                    "runAsNonRoot": True,
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                },
            }
        ]
        outcomes[side] = {
            "deployment scaled": put(scaled),
            "deployment labelled": put(labelled),
            "deployment new image": put(new_image),
            "deployment template labelled": put(template_label),
            "pod labelled": put(pod_labelled),
            "pod new image": put(pod_image),
            "pod seccomp annotation": put(pod_seccomp),
            "pod compliant debug container": put(debug, object_path(pod) + "/ephemeralcontainers"),
        }
    assert outcomes["policy"] == outcomes["webhook"], outcomes
    # And the rule itself: only what changes what runs is evaluated (and refused).
    assert outcomes["policy"] == {
        "deployment scaled": True,
        "deployment labelled": True,
        "deployment new image": False,
        "deployment template labelled": False,
        "pod labelled": True,
        "pod new image": False,
        "pod seccomp annotation": False,
        "pod compliant debug container": False,
    }


def test_ephemeral_containers_and_kubectl_debug(
    enforcers: TwoEnforcers, control_plane: Any
) -> None:
    verdicts: dict[str, list[bool]] = {}
    for side in SIDES:
        pod = _compliant_pod(enforcers.ns(side), "target")
        created = enforcers.request("POST", create_path(pod), pod, dry_run=False)
        assert created.status == 201, created
        for label, security_context in EPHEMERAL_CASES:
            debug: dict[str, Any] = {"name": "debugger", "image": "busybox:1.36"}
            if security_context is not None:
                debug["securityContext"] = security_context
            body = copy.deepcopy(created.body)
            body["spec"]["ephemeralContainers"] = [debug]
            answer = enforcers.request("PUT", object_path(pod) + "/ephemeralcontainers", body)
            assert answer.status in (200, 403), (side, label, answer)
            verdicts.setdefault(label, []).append(answer.allowed)
    assert all(a == b for a, b in verdicts.values()), verdicts
    # nonroot refuses every root-capable debug container; the compliant one inherits the
    # pod's runAsNonRoot.
    assert {label for label, (a, _) in verdicts.items() if a} == {"compliant"}, verdicts

    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is not on PATH (scripts/setup.sh installs it)")
    debug_verdicts: dict[str, list[bool]] = {}
    for side in SIDES:
        for profile in ("legacy", "general", "baseline", "netadmin", "sysadmin", "restricted"):
            done = subprocess.run(
                [
                    kubectl,
                    "debug",
                    "-n",
                    enforcers.ns(side),
                    "target",
                    "--image=busybox:1.36",
                    f"--profile={profile}",
                    f"--container=dbg-{profile}",
                ],
                env=control_plane.env(),
                capture_output=True,
                text=True,
                timeout=60,
            )
            if done.returncode != 0:
                assert "denied" in done.stderr or "forbidden" in done.stderr, done.stderr
            debug_verdicts.setdefault(profile, []).append(done.returncode == 0)
    assert all(a == b for a, b in debug_verdicts.values()), debug_verdicts
    allowed = {profile for profile, (a, _) in debug_verdicts.items() if a}
    assert allowed == {"restricted"}, debug_verdicts


def test_modes_and_exemptions_as_the_webhooks(enforcers: TwoEnforcers) -> None:
    seen: dict[str, list[tuple[bool, bool]]] = {}
    for label in ("absent", "enforce", "warn", "audit", "disabled", "bogus", "exempt"):
        for side in SIDES:
            pod = root_pod(enforcers.ns(side, label))
            answer = enforcers.request("POST", create_path(pod), pod)
            seen.setdefault(label, []).append((answer.allowed, bool(answer.warnings)))
    for user in (EXEMPT_USER, OTHER_USER):
        for side in SIDES:
            pod = root_pod(enforcers.ns(side))
            answer = enforcers.request("POST", create_path(pod), pod, user=user)
            seen.setdefault(f"user {user}", []).append((answer.allowed, bool(answer.warnings)))
    assert all(a == b for a, b in seen.values()), seen
    assert {label: answers[0] for label, answers in seen.items()} == {
        "absent": (False, False),  # no label: enforce, like the webhook
        "enforce": (False, False),
        "warn": (True, True),
        "audit": (True, False),
        "disabled": (True, False),
        "bogus": (False, False),  # an unknown value fails closed: enforce
        "exempt": (True, False),
        f"user {EXEMPT_USER}": (True, False),
        f"user {OTHER_USER}": (False, False),
    }


def test_a_denial_names_the_container_the_field_and_the_fix(enforcers: TwoEnforcers) -> None:
    pod = root_pod(enforcers.ns("policy"))
    pod["spec"]["containers"][0]["securityContext"] = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True,
        "runAsUser": 0,
    }
    answer = enforcers.request("POST", create_path(pod), pod)
    assert answer.status == 403
    assert answer.message.endswith(
        f'hardened-operator policy "nonroot": Pod {pod["metadata"]["namespace"]}/root '
        'container "app": spec.containers[0].securityContext.runAsUser: runs as UID 0 (root) '
        "(fix: set spec.containers[0].securityContext.runAsUser: 1000)"
    ), answer.message


def _many_containers(namespace: str, count: int, root_at: int | None) -> dict[str, Any]:
    containers: list[dict[str, Any]] = [
        {
            "name": f"c{i}",
            "image": "x",
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"]},
            },
        }
        for i in range(count)
    ]
    if root_at is not None:
        containers[root_at]["securityContext"]["runAsUser"] = 0
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "huge", "namespace": namespace},
        "spec": {"securityContext": {"runAsNonRoot": True}, "containers": containers},
    }


def test_thousands_of_containers_are_evaluated_to_the_last(enforcers: TwoEnforcers) -> None:
    """10,000 containers (1.2 MB): the policy's cost stays within the API server's budget, so
    the one root container at the end is found and refused, and the compliant pod admitted,
    as by the webhook."""
    count = 10_000
    for root_at, allowed in ((count - 1, False), (None, True)):
        answers = _both(enforcers, lambda ns, root_at=root_at: _many_containers(ns, count, root_at))
        assert {side: a.allowed for side, a in answers.items()} == dict.fromkeys(SIDES, allowed), {
            side: (a.status, a.message[:300]) for side, a in answers.items()
        }
        if not allowed:
            assert f'container "c{count - 1}"' in answers["policy"].message


def test_a_budget_that_runs_out_refuses(enforcers: TwoEnforcers, k8s_api: Any) -> None:
    """The generated policy's ``failurePolicy: Fail`` turns an evaluation the API server
    stops (here: the policy plus one quadratic rule, 3,000 containers) into a refusal."""
    namespace = f"cel-budget-{enforcers.run}"
    bootstrap.create_namespace(k8s_api, namespace)
    bootstrap.ensure_service_account(k8s_api, namespace)
    documents = policy_documents("nonroot", name=f"cel-budget-{enforcers.run}")
    policy = documents[0]
    assert policy["spec"]["failurePolicy"] == "Fail"
    policy["spec"]["validations"].append(
        {
            "expression": "variables.containers.all(a, variables.containers.all(b, "
            "a.name != b.name || a == b))"
        }
    )
    for document in documents[1:]:
        selector = document["spec"]["matchResources"]["namespaceSelector"]
        selector["matchExpressions"].append(
            {"key": "kubernetes.io/metadata.name", "operator": "In", "values": [namespace]}
        )
    apply_policy(k8s_api, documents)
    try:
        pod = root_pod(namespace)
        wait_for(  # the policy is picked up asynchronously
            "the budget policy",
            lambda: "hardened-operator" in enforcers.request("POST", create_path(pod), pod).message,
        )
        compliant = _many_containers(namespace, 3000, None)
        answer = enforcers.request("POST", create_path(compliant), compliant)
        assert not answer.allowed, answer.status
        assert "cost" in answer.message.lower() and "exceed" in answer.message.lower(), (
            answer.message[:500]
        )
    finally:
        delete_policy(k8s_api, documents)
        bootstrap.delete_namespace(k8s_api, namespace)
