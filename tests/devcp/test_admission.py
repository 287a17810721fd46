"""End to end: the API server calls ``hardened webhook`` over TLS (caBundle) and obeys it."""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.support import webhooks
from tests.support.kube import name_of

pytestmark = pytest.mark.controlplane

NON_ROOT_POD_SPEC: dict[str, Any] = {
    "securityContext": {
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "runAsGroup": 1000,
        "seccompProfile": {"type": "RuntimeDefault"},
    },
    "containers": [
        {
            "name": "app",
            "image": "ai_system/base:1.0",
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"]},
            },
        }
    ],
}
ROOT_POD_SPEC: dict[str, Any] = {
    "securityContext": {"runAsUser": 0},
    "containers": [{"name": "app", "image": "ai_system/base:1.0"}],
}


@pytest.fixture(autouse=True)
def _webhook_is_installed() -> None:
    if importlib.util.find_spec("hardened_operator.cli.webhook") is None:
        pytest.fail("hardened_operator.cli.webhook is missing: `hardened webhook` must exist")


def _pod(name: str, spec: dict[str, Any]) -> Any:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def _template(spec: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "x"}}, "spec": spec}


def _workloads(spec: dict[str, Any]) -> list[tuple[Any, str, dict[str, Any]]]:
    """(create function factory, kind, body) for every pod-bearing kind but Pod."""
    selector = {"matchLabels": {"app": "x"}}
    job_spec = {"template": _template({**spec, "restartPolicy": "Never"})}
    return [
        (
            lambda api: client.AppsV1Api(api).create_namespaced_deployment,
            "Deployment",
            {"spec": {"selector": selector, "template": _template(spec)}},
        ),
        (
            lambda api: client.AppsV1Api(api).create_namespaced_stateful_set,
            "StatefulSet",
            {"spec": {"selector": selector, "serviceName": "x", "template": _template(spec)}},
        ),
        (
            lambda api: client.AppsV1Api(api).create_namespaced_daemon_set,
            "DaemonSet",
            {"spec": {"selector": selector, "template": _template(spec)}},
        ),
        (
            lambda api: client.AppsV1Api(api).create_namespaced_replica_set,
            "ReplicaSet",
            {"spec": {"selector": selector, "template": _template(spec)}},
        ),
        (
            lambda api: client.CoreV1Api(api).create_namespaced_replication_controller,
            "ReplicationController",
            {"spec": {"selector": {"app": "x"}, "template": _template(spec)}},
        ),
        (
            lambda api: client.CoreV1Api(api).create_namespaced_pod_template,
            "PodTemplate",
            {"template": _template(spec)},
        ),
        (lambda api: client.BatchV1Api(api).create_namespaced_job, "Job", {"spec": job_spec}),
        (
            lambda api: client.BatchV1Api(api).create_namespaced_cron_job,
            "CronJob",
            {"spec": {"schedule": "@daily", "jobTemplate": {"spec": job_spec}}},
        ),
    ]


def test_root_pod_is_refused_and_compliant_pod_admitted(
    k8s_api: Any, namespace: str, local_webhook: webhooks.LocalWebhook, register_webhook: Any
) -> None:
    core = client.CoreV1Api(k8s_api)
    with register_webhook(local_webhook.url, local_webhook.ca_pem, namespace) as registration:
        with pytest.raises(ApiException) as refused:
            core.create_namespaced_pod(namespace, _pod("root", ROOT_POD_SPEC))
        webhook_name = registration["webhooks"][0]["name"]
        assert refused.value.status == 403, refused.value.body
        assert refused.value.body is not None
        message = json.loads(refused.value.body)["message"]
        assert message.startswith(f'admission webhook "{webhook_name}" denied the request'), message
        assert "spec.securityContext.runAsUser" in message

        created = core.create_namespaced_pod(namespace, _pod("non-root", NON_ROOT_POD_SPEC))
        assert created.metadata is not None and created.metadata.uid
    names = [name_of(p) for p in core.list_namespaced_pod(namespace).items]
    assert names == ["non-root"]
    # The webhook saw the pod as a real cluster sends it: after the ServiceAccount
    # admission plugin added the projected token volume.
    assert created.spec is not None
    volumes = [v.name for v in created.spec.volumes or []]
    assert any(name.startswith("kube-api-access-") for name in volumes), volumes


def test_every_pod_bearing_kind_goes_through_the_webhook(
    k8s_api: Any, namespace: str, local_webhook: webhooks.LocalWebhook, register_webhook: Any
) -> None:
    admitted_root: list[str] = []
    refused_compliant: list[str] = []
    with register_webhook(local_webhook.url, local_webhook.ca_pem, namespace):
        for index, (factory, kind, body) in enumerate(_workloads(ROOT_POD_SPEC)):
            try:
                factory(k8s_api)(namespace, {"metadata": {"name": f"root-{index}"}, **body})
                admitted_root.append(kind)
            except ApiException as error:
                assert error.status == 403, f"{kind}: {error.body}"
                assert "denied the request" in str(error.body), f"{kind}: {error.body}"
        for index, (factory, kind, body) in enumerate(_workloads(NON_ROOT_POD_SPEC)):
            try:
                factory(k8s_api)(namespace, {"metadata": {"name": f"ok-{index}"}, **body})
            except ApiException as error:
                refused_compliant.append(f"{kind}: {error.status} {error.body}")
    assert admitted_root == [], f"root templates admitted for {admitted_root}"
    assert refused_compliant == []


def test_kubectl_debug_root_ephemeral_container_is_refused(
    k8s_api: Any, namespace: str, local_webhook: webhooks.LocalWebhook, register_webhook: Any
) -> None:
    core = client.CoreV1Api(k8s_api)
    with register_webhook(local_webhook.url, local_webhook.ca_pem, namespace):
        core.create_namespaced_pod(namespace, _pod("target", NON_ROOT_POD_SPEC))
        debug: Any = {
            "spec": {
                "ephemeralContainers": [
                    {
                        "name": "debugger",
                        "image": "busybox",
                        "securityContext": {"runAsUser": 0, "privileged": True},
                    }
                ]
            }
        }
        with pytest.raises(ApiException) as refused:
            core.patch_namespaced_pod_ephemeralcontainers("target", namespace, debug)
        assert refused.value.status == 403, refused.value.body
        assert "denied the request" in str(refused.value.body)
    pod = core.read_namespaced_pod("target", namespace)
    assert pod.spec is not None
    assert not pod.spec.ephemeral_containers


def test_webhook_down_means_refused_not_admitted(
    k8s_api: Any, namespace: str, tmp_path: Path, register_webhook: Any
) -> None:
    core = client.CoreV1Api(k8s_api)
    with webhooks.local_webhook(tmp_path) as served:
        registration = register_webhook(served.url, served.ca_pem, namespace)
        registration.__enter__()
    # The server is gone, the registration stays: failurePolicy Fail must refuse everything.
    try:
        with pytest.raises(ApiException) as refused:
            core.create_namespaced_pod(namespace, _pod("non-root", NON_ROOT_POD_SPEC))
        assert refused.value.status == 500, refused.value.body
        assert "failed calling webhook" in str(refused.value.body)
    finally:
        registration.__exit__(None, None, None)
    # Unregistered, the namespace admits compliant pods again — once the API server's webhook
    # cache has seen the deletion, which happens asynchronously (seconds on a loaded machine).
    deadline = time.monotonic() + 30
    while True:
        try:
            later = core.create_namespaced_pod(namespace, _pod("later", NON_ROOT_POD_SPEC))
            break
        except ApiException as error:
            if "failed calling webhook" not in str(error.body) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    assert later.metadata is not None and later.metadata.uid


def test_webhook_with_an_untrusted_certificate_is_not_trusted(
    k8s_api: Any, namespace: str, local_webhook: webhooks.LocalWebhook, register_webhook: Any
) -> None:
    from hardened_operator import certs

    other_ca = certs.generate(["127.0.0.1"]).ca_pem  # not the CA that signed the server
    core = client.CoreV1Api(k8s_api)
    with register_webhook(local_webhook.url, other_ca, namespace, wait_for_denial=False):
        with pytest.raises(ApiException) as refused:
            # Retry briefly: the registration reaches the API server asynchronously.
            for attempt in range(100):
                core.create_namespaced_pod(namespace, _pod(f"p{attempt}", NON_ROOT_POD_SPEC))
                time.sleep(0.1)
        assert refused.value.status == 500, refused.value.body
        assert "failed calling webhook" in str(refused.value.body)
        assert "certificate" in str(refused.value.body)


def test_api_server_refuses_query_parameters_in_a_webhook_url(k8s_api: Any) -> None:
    # Why dev's registration calls plain /validate: "?mode=warn" cannot be registered, so
    # modes must be selected by path (or by separate servers), not by query string.
    from hardened_operator import certs
    from hardened_operator.dev import manifests
    from hardened_operator.errors import ApiError
    from hardened_operator.k8s import bootstrap

    manifest = manifests.validating_webhook_configuration(
        "https://127.0.0.1:9/validate?mode=warn",
        certs.generate(["127.0.0.1"]).ca_pem,
        name="hardened-test-query",
        namespace_selector={"matchLabels": {"kubernetes.io/metadata.name": "none"}},
    )
    with pytest.raises(ApiError) as refused:
        bootstrap.apply_validating_webhook_configuration(k8s_api, manifest)
    assert refused.value.status == 422
    assert "query parameters are not permitted" in str(refused.value)
