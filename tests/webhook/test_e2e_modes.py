"""End to end through a real kube-apiserver: the update rule and the warn mode path.

(tests/devcp/test_admission.py covers CREATE of every kind, kubectl debug and fail-closed.)
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.support import webhooks
from tests.webhook.webhook_support import COMPLIANT_POD_SPEC, root_pod_spec

pytestmark = pytest.mark.controlplane


def _deployment(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 0,  # no scheduler here: only admission matters
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": spec},
        },
    }


def test_old_root_deployment_scales_but_cannot_change_image(
    k8s_api: Any, namespace: str, local_webhook: webhooks.LocalWebhook, register_webhook: Any
) -> None:
    apps = client.AppsV1Api(k8s_api)
    # Created before the webhook exists: the "old root Deployment" of the issue.
    legacy = _deployment("legacy", root_pod_spec())
    # The client validates a plain dict into the model; its annotation names only the model.
    apps.create_namespaced_deployment(namespace, legacy)  # type: ignore[arg-type]
    with register_webhook(local_webhook.url, local_webhook.ca_pem, namespace):
        apps.patch_namespaced_deployment("legacy", namespace, {"spec": {"replicas": 2}})
        apps.patch_namespaced_deployment(
            "legacy", namespace, {"metadata": {"labels": {"team": "shop"}}}
        )
        with pytest.raises(ApiException) as refused:
            apps.patch_namespaced_deployment(
                "legacy",
                namespace,
                {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "x:2"}]}}}},
            )
        assert refused.value.status == 403
        assert "spec.template.spec.containers[0].securityContext.runAsUser" in (
            refused.value.body or ""
        )
        fixed = _deployment("legacy", COMPLIANT_POD_SPEC)["spec"]["template"]
        apps.patch_namespaced_deployment("legacy", namespace, {"spec": {"template": fixed}})
        live = apps.read_namespaced_deployment("legacy", namespace)
        assert live.spec.replicas == 2
        assert live.spec.template.spec is not None
        assert live.spec.template.spec.security_context is not None
        assert live.spec.template.spec.security_context.run_as_non_root is True


def test_warn_path_admits_with_warnings(
    k8s_api: Any, namespace: str, local_webhook: webhooks.LocalWebhook, register_webhook: Any
) -> None:
    core = client.CoreV1Api(k8s_api)
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "rooty"},
        "spec": root_pod_spec(),
    }
    warn_url = local_webhook.url + "/warn"
    with register_webhook(warn_url, local_webhook.ca_pem, namespace, wait_for_denial=False):
        deadline = time.monotonic() + 30
        warnings = ""
        while time.monotonic() < deadline and "runAsUser" not in warnings:
            # The client validates a plain dict into V1Pod; its annotation names only the model.
            _, status, headers = core.create_namespaced_pod_with_http_info(
                namespace,
                body,  # type: ignore[arg-type]
                dry_run="All",
            )
            assert status == 201  # admitted (dry run: nothing stored)
            warnings = headers.get("Warning", "")
            time.sleep(0.2)
        assert "[nonroot] spec.containers[0].securityContext.runAsUser" in warnings
