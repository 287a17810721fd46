"""Defaults that keep the webhook fail-closed without refusing honest requests.

- An UPDATE whose object and oldObject carry the same *unreadable* container list must not slip
  through the significant-update shortcut: bad input is a denial, never ``allowed: true``.
- The default body limit admits an honest 3 MiB object (the API server's own object limit) over
  real HTTP.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests

from hardened_operator.dev.processes import free_port
from hardened_operator.webhook import WebhookConfig, decide
from tests.webhook.webhook_support import (
    COMPLIANT_POD_SPEC,
    pod,
    review,
    root_pod_spec,
    running_server,
    workload,
)

MIB = 1024 * 1024
CONFIG = WebhookConfig()


def _pod_with_spec_field(field: str, value: Any) -> dict[str, Any]:
    spec = copy.deepcopy(COMPLIANT_POD_SPEC)
    spec[field] = value
    return pod(spec)


# Each object is unreadable as a Pod in a way the policy reports (a CREATE of it is denied);
# sent as an UPDATE with an identical oldObject it must be denied just the same.
UNREADABLE_PODS = [
    ("containers is a string", _pod_with_spec_field("containers", "root")),
    ("containers is a mapping", _pod_with_spec_field("containers", {"app": {"image": "x"}})),
    ("a container is a string", _pod_with_spec_field("containers", ["app"])),
    ("a container is null", _pod_with_spec_field("containers", [None])),
    ("initContainers is a string", _pod_with_spec_field("initContainers", "evil")),
    ("ephemeralContainers is a string", _pod_with_spec_field("ephemeralContainers", "evil")),
    ("an ephemeral container is a list", _pod_with_spec_field("ephemeralContainers", [[1]])),
]


@pytest.mark.parametrize(
    ("obj"), [c[1] for c in UNREADABLE_PODS], ids=[c[0] for c in UNREADABLE_PODS]
)
def test_unreadable_pod_is_denied_on_create_and_on_identical_update(obj: dict[str, Any]) -> None:
    created = decide(review(obj), CONFIG)["response"]
    assert created["allowed"] is False, created
    updated = decide(review(obj, operation="UPDATE", old=copy.deepcopy(obj)), CONFIG)["response"]
    assert updated["allowed"] is False, updated
    assert updated["status"]["code"] in (400, 403)


def test_unreadable_workload_template_is_denied_on_identical_update() -> None:
    deploy = workload("Deployment")
    deploy["spec"]["template"]["spec"]["containers"] = "root"
    answer = decide(review(deploy, operation="UPDATE", old=copy.deepcopy(deploy)), CONFIG)[
        "response"
    ]
    assert answer["allowed"] is False, answer


def test_default_body_limit_is_at_least_the_api_servers_object_limit() -> None:
    assert CONFIG.max_body_bytes >= 3 * MIB
    body = review(pod())
    # A 3 MiB object (the API server's own limit) in an otherwise compliant Pod.
    body["request"]["object"]["metadata"]["annotations"] = {"pad": "x" * (3 * MIB)}
    data = orjson.dumps(body)
    assert len(data) > 3 * MIB
    with running_server() as server:
        response = requests.post(
            server.url + "/validate",
            data=data,
            headers={"Content-Type": "application/json"},
            timeout=60,
        )
    assert response.status_code == 200, response.text[:300]
    assert response.json()["response"]["allowed"] is True


# Every field the nonroot profile reads, in the compliant pod spec (path from spec).
POLICY_FIELDS: list[tuple[Any, ...]] = [
    ("securityContext",),
    ("securityContext", "runAsNonRoot"),
    ("securityContext", "runAsUser"),
    ("containers",),
    ("containers", 0),
    ("containers", 0, "securityContext"),
    ("containers", 0, "securityContext", "allowPrivilegeEscalation"),
    ("containers", 0, "securityContext", "capabilities"),
    ("containers", 0, "securityContext", "capabilities", "drop"),
    ("containers", 0, "securityContext", "capabilities", "drop", 0),
]
JUNK: list[Any] = [7, 1.5, True, "x", "", [1], ["x"], {"a": 1}, [None], [{}]]


def _wrong_types(value: Any) -> list[Any]:
    """Junk whose JSON type differs from ``value``'s (bool is not a number in JSON)."""

    def json_type(v: Any) -> str:
        if isinstance(v, bool):
            return "bool"
        if isinstance(v, int | float):
            return "number"
        return type(v).__name__

    return [j for j in JUNK if json_type(j) != json_type(value)]


def _replace(spec: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(spec)
    node: Any = changed
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = copy.deepcopy(value)
    return changed


def _at(spec: dict[str, Any], path: tuple[Any, ...]) -> Any:
    node: Any = spec
    for key in path:
        node = node[key]
    return node


MALFORMED_SPECS = [
    (f"{'.'.join(map(str, path))}={junk!r}", _replace(COMPLIANT_POD_SPEC, path, junk))
    for path in POLICY_FIELDS
    for junk in _wrong_types(_at(COMPLIANT_POD_SPEC, path))
]


@pytest.mark.parametrize("kind", ["Pod", "Deployment", "CronJob"])
@pytest.mark.parametrize(
    "spec", [s for _, s in MALFORMED_SPECS], ids=[name for name, _ in MALFORMED_SPECS]
)
def test_a_wrong_typed_policy_field_is_never_allowed(kind: str, spec: dict[str, Any]) -> None:
    """Fail closed: any policy-relevant field of the wrong JSON type is denied, on CREATE and,
    for workloads, on an UPDATE from a compliant object (its pod template changed, so the
    update is significant). A Pod's securityContext is immutable, so PSA's rule skips such
    Pod updates; only the container lists are re-read there (tested above)."""
    obj = pod(spec) if kind == "Pod" else workload(kind, spec)
    bodies = [review(obj)]
    if kind != "Pod":
        bodies.append(review(obj, operation="UPDATE", old=workload(kind)))
    for body in bodies:
        answer = decide(body, CONFIG)["response"]
        assert answer["allowed"] is False, answer


def _without(obj: dict[str, Any], *path: str) -> dict[str, Any]:
    changed = copy.deepcopy(obj)
    node = changed
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return changed


def _with(obj: dict[str, Any], value: Any, *path: Any) -> dict[str, Any]:
    changed = copy.deepcopy(obj)
    node = changed
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return changed


ROOT_DEPLOY = workload("Deployment", root_pod_spec())
NO_JOB_TEMPLATE = _without(workload("CronJob"), "spec", "jobTemplate")
NULL_TEMPLATE = _with(workload("Deployment"), None, "spec", "template")
NULL_POD_SPEC = _with(pod(), None, "spec")

# (id, review, expected status code of the denial)
ADVERSARIAL: list[tuple[str, dict[str, Any], int]] = [
    ("pod spec null", review(NULL_POD_SPEC), 400),
    ("pod spec null, update", review(NULL_POD_SPEC, operation="UPDATE", old=pod()), 400),
    (
        "pod spec null, identical update",
        review(NULL_POD_SPEC, operation="UPDATE", old=copy.deepcopy(NULL_POD_SPEC)),
        400,
    ),
    ("cronjob without jobTemplate", review(NO_JOB_TEMPLATE), 400),
    (
        "cronjob without jobTemplate, identical update",
        review(NO_JOB_TEMPLATE, operation="UPDATE", old=copy.deepcopy(NO_JOB_TEMPLATE)),
        400,
    ),
    (
        "deployment template null, identical update",
        review(NULL_TEMPLATE, operation="UPDATE", old=copy.deepcopy(NULL_TEMPLATE)),
        400,
    ),
    ("root deployment update, oldObject missing", review(ROOT_DEPLOY, operation="UPDATE"), 403),
    (
        "root deployment update, oldObject of another kind",
        review(ROOT_DEPLOY, operation="UPDATE", old=workload("StatefulSet", root_pod_spec())),
        403,
    ),
    (
        "object kind in odd case",
        review(_with(pod(root_pod_spec()), "pod", "kind"), kind="Pod"),
        400,
    ),
    (
        "object apiVersion of another group",
        review(_with(ROOT_DEPLOY, "extensions/v1beta1", "apiVersion"), kind="Deployment"),
        400,
    ),
    ("dryRun root deployment", review(ROOT_DEPLOY, dry_run=True), 403),
    (
        "huge uid in a root pod",
        review(pod(_with(root_pod_spec(), 2**70, "securityContext", "runAsUser"))),
        403,
    ),
    (
        "unicode ALL in drop",
        review(
            pod(
                _with(
                    COMPLIANT_POD_SPEC,
                    ["\uff21\uff2c\uff2c"],
                    "containers",
                    0,
                    "securityContext",
                    "capabilities",
                    "drop",
                )
            )
        ),
        403,
    ),
]


@pytest.mark.parametrize(
    ("body", "code"), [a[1:] for a in ADVERSARIAL], ids=[a[0] for a in ADVERSARIAL]
)
@pytest.mark.parametrize("mode", ["enforce", "warn", "audit"])
def test_adversarial_reviews_are_denied(body: dict[str, Any], code: int, mode: str) -> None:
    """Malformed objects are denied (400) in every mode; root objects are denied (403) in
    enforce mode and admitted only with a warning/audit annotation in the other modes."""
    answer = decide(body, CONFIG, mode)["response"]
    assert answer["uid"] == body["request"]["uid"]
    if code == 403 and mode != "enforce":
        assert answer["allowed"] is True
        assert answer.get("warnings") or answer.get("auditAnnotations"), answer
        return
    assert answer["allowed"] is False, answer
    assert answer["status"]["code"] == code, answer


# Installed through PYTHONPATH: any import of the Kubernetes client or kopf fails loudly.
_NO_CLUSTER_CLIENT = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("kubernetes", "kopf"):
            raise ImportError(f"{name} must not be imported by the standalone webhook")
        return None
sys.meta_path.insert(0, _Block())
"""


def test_standalone_webhook_needs_no_cluster_client(tmp_path: Path) -> None:
    """ "No cluster access needed": the server runs and decides (Pod, Deployment and a
    HardenedService, which pulls in the builders) with kubernetes and kopf unimportable and
    a KUBECONFIG that points nowhere."""
    (tmp_path / "sitecustomize.py").write_text(_NO_CLUSTER_CLIENT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBERNETES_")}
    env |= {
        "PYTHONPATH": str(tmp_path),
        "KUBECONFIG": str(tmp_path / "missing-kubeconfig"),
        "HOME": str(tmp_path),
    }
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "hardened_operator.cli", "webhook", "--insecure"]
    proc = subprocess.Popen(
        [*command, "--listen", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else b""
            try:
                requests.get(base + "/healthz", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the webhook did not start"
                time.sleep(0.1)
        hsvc = {
            "apiVersion": "ai-system.io/v1alpha1",
            "kind": "HardenedService",
            "metadata": {"name": "svc", "namespace": "shop"},
            "spec": {"image": "ai_system/base:1.0", "securityContext": {"runAsUser": 0}},
        }
        cases = [(pod(), True), (ROOT_DEPLOY, False), (hsvc, False)]
        for obj, allowed in cases:
            answer = requests.post(
                base + "/validate",
                data=orjson.dumps(review(obj)),
                headers={"Content-Type": "application/json"},
                timeout=30,
            ).json()["response"]
            assert answer["allowed"] is allowed, answer
            if not allowed:  # denied by the policy, not by an import error (code 500)
                assert answer["status"]["code"] == 403, answer
    finally:
        proc.terminate()
        output = proc.communicate(timeout=15)[0]
    assert b"must not be imported" not in output, output.decode(errors="replace")


@pytest.mark.parametrize(
    ("field", "label"),
    [
        ("containers", 'container "side"'),
        ("initContainers", 'init container "side"'),
        ("ephemeralContainers", 'ephemeral container "side"'),
    ],
)
def test_denial_names_object_container_kind_field_and_fix(field: str, label: str) -> None:
    """ "Every violation names the object, the container (and whether init/ephemeral), the
    field path and the fix" - in the message the API server shows the user."""
    spec = copy.deepcopy(COMPLIANT_POD_SPEC)
    side = {**copy.deepcopy(spec["containers"][0]), "name": "side"}
    side["securityContext"]["runAsUser"] = 0
    spec.setdefault(field, []).append(side)
    index = len(spec[field]) - 1
    obj = pod(spec)
    if field == "ephemeralContainers":  # kubectl debug: an UPDATE of the ephemeralcontainers
        body = review(obj, operation="UPDATE", old=pod(), subresource="ephemeralcontainers")
    else:
        body = review(obj)
    answer = decide(body, CONFIG)["response"]
    assert answer["allowed"] is False and answer["status"]["code"] == 403
    message = answer["status"]["message"]
    assert f"Pod shop/web {label}" in message, message
    assert f"spec.{field}[{index}].securityContext.runAsUser" in message, message
    assert "fix: set " in message and "runAsUser: 1000" in message, message
