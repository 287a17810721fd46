"""HardenedService admission warnings (issue 12 part 7): risky but legal specs are admitted
with warnings kubectl prints; refusals and other kinds get none; advice never changes a verdict.
The end-to-end half sends a HardenedService through kube-apiserver and reads the Warning header.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest
from kubernetes import client

from hardened_operator.webhook.admission import evaluate_review
from hardened_operator.webhook.config import WebhookConfig
from hardened_operator.webhook.responses import MAX_WARNING_CHARS
from tests.support import webhooks

GROUP, VERSION = "ai-system.io", "v1alpha1"


def hsvc(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "HardenedService",
        "metadata": {"name": name},
        "spec": {"image": "busybox:1.36", **spec},
    }


# Two replicas on a ReadWriteOnce claim, no port (so no probe), only the data volume.
RISKY = hsvc(
    "risky",
    replicas=2,
    volumes={"logs": {"enabled": False}, "models": {"enabled": False}, "cache": {"enabled": False}},
)
QUIET = hsvc(
    "quiet",
    replicas=2,
    ports=[{"containerPort": 8080}],
    volumes={k: {"enabled": False} for k in ("logs", "data", "models", "cache")},
)


def review(obj: dict[str, Any], operation: str = "CREATE") -> dict[str, Any]:
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "u-1",
            "kind": {"group": GROUP, "version": VERSION, "kind": "HardenedService"},
            "resource": {"group": GROUP, "version": VERSION, "resource": "hardenedservices"},
            "operation": operation,
            "namespace": "apps",
            "userInfo": {"username": "dev"},
            "object": obj,
            "oldObject": obj if operation == "UPDATE" else None,
        },
    }


def decide(obj: dict[str, Any], operation: str = "CREATE", mode: str = "enforce") -> Any:
    return evaluate_review(review(obj, operation), WebhookConfig(), mode)


def test_replicas_on_a_read_write_once_claim_and_no_probe_are_warned() -> None:
    decision = decide(RISKY)
    assert decision.allowed
    warnings = decision.response["response"]["warnings"]
    assert any("ReadWriteOnce" in w and "data" in w and "2 replicas" in w for w in warnings)
    assert any("no startup/liveness/readiness probe" in w for w in warnings)
    assert all(w.startswith("HardenedService spec: ") for w in warnings)
    assert all(len(w) <= MAX_WARNING_CHARS for w in warnings)


def test_an_unchanged_update_is_warned_too() -> None:
    # kubectl apply of the same risky spec again: the policy skips it, the advice still shows.
    decision = decide(RISKY, "UPDATE")
    assert decision.verdict == "skip"
    assert decision.response["response"]["warnings"]


def test_a_spec_with_nothing_risky_gets_no_warnings() -> None:
    decision = decide(QUIET)
    assert decision.allowed and "warnings" not in decision.response["response"]


def test_a_refused_spec_gets_a_refusal_not_advice() -> None:
    root = copy.deepcopy(RISKY)
    root["spec"]["securityContext"] = {"runAsUser": 0}
    decision = decide(root)
    assert not decision.allowed
    assert "warnings" not in decision.response["response"]


def test_delete_gets_no_warnings() -> None:
    decision = decide(RISKY, "DELETE")
    assert decision.allowed and "warnings" not in decision.response["response"]


def test_warn_mode_keeps_the_policy_warnings_and_adds_the_spec_ones() -> None:
    decision = decide(RISKY, mode="warn")
    assert decision.allowed
    assert any("ReadWriteOnce" in w for w in decision.response["response"]["warnings"])


@pytest.mark.controlplane
def test_kubectl_sees_the_warnings_through_the_api_server(
    k8s_api: Any,
    namespace: str,
    local_webhook: webhooks.LocalWebhook,
    register_webhook: Any,
    control_plane: Any,
) -> None:
    assert control_plane.crd_error() is None  # the session's plane installs the CRD
    api = client.CustomObjectsApi(k8s_api)
    with register_webhook(local_webhook.url, local_webhook.ca_pem, namespace):
        warnings = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "ReadWriteOnce" not in warnings:
            _, status, headers = api.create_namespaced_custom_object_with_http_info(
                GROUP, VERSION, namespace, "hardenedservices", RISKY, dry_run="All"
            )
            assert status == 201
            warnings = headers.get("Warning", "")
            time.sleep(0.2)
        assert "HardenedService spec: up to 2 replicas share the single-node" in warnings
        _, status, headers = api.create_namespaced_custom_object_with_http_info(
            GROUP, VERSION, namespace, "hardenedservices", QUIET, dry_run="All"
        )
        assert status == 201
        assert "HardenedService spec" not in headers.get("Warning", "")
