"""Admission through the API server: ``hardened run`` serves the webhook (self-generated
certificate kept in a Secret, CA injected into the ValidatingWebhookConfiguration) and the
API server calls it. Root is refused, compliant is admitted, a uid-0 HardenedService is
refused by the schema -- and by the webhook when the schema is not in the way.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from hardened_operator import API_GROUP, certs
from hardened_operator.dev.plane import wait_for_denial
from tests.operator.operator_support import (
    OperatorProcess,
    create_hsvc,
    free_port,
    hsvc,
    read,
    running_operator,
    wait_for,
)
from tests.support.kube import name_of

pytestmark = pytest.mark.controlplane

# The operator's own namespace is exempt from admission (so a broken webhook cannot block its
# recovery): keep the certificate Secret in "default", one Secret per test namespace.
OPERATOR_NAMESPACE = "default"


def secret_name(namespace: str) -> str:
    return f"webhook-tls-{namespace}"[:253]


def root_pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"securityContext": {"runAsUser": 0},
                     "containers": [{"name": "c", "image": "busybox:1.36"}]}}  # fmt: skip


def compliant_pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": 1000,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": "c",
                "image": "busybox:1.36",
                "securityContext": {"allowPrivilegeEscalation": False,
                                    "capabilities": {"drop": ["ALL"]},
                                    "readOnlyRootFilesystem": True},
            }],
        },
    }  # fmt: skip


def refused(call: Callable[[], Any]) -> ApiException:
    with pytest.raises(ApiException) as info:
        call()
    return info.value


@contextmanager
def operator_with_webhook(
    control_plane: Any,
    namespace: str,
    tmp_path: Path,
    register_webhook: Callable[..., AbstractContextManager[dict[str, Any]]],
    *args: str,
    keep_secret: bool = False,
) -> Iterator[tuple[OperatorProcess, str]]:
    port = free_port()
    placeholder = certs.generate(["127.0.0.1"]).ca_pem  # replaced by the operator's own CA
    url = f"https://127.0.0.1:{port}/validate"
    with register_webhook(url, placeholder, namespace, wait_for_denial=False) as vwc:
        name = vwc["metadata"]["name"]
        try:
            with running_operator(
                control_plane.env(), namespace, tmp_path, "--webhook-config-name", name,
                "--certs-secret", secret_name(namespace), *args,
                webhook=True, webhook_port=port, operator_namespace=OPERATOR_NAMESPACE,
            ) as op:  # fmt: skip
                yield op, name
        finally:
            if not keep_secret:
                _delete_secret(control_plane, namespace)


def _delete_secret(control_plane: Any, namespace: str) -> None:
    api = control_plane.api_client()
    try:
        client.CoreV1Api(api).delete_namespaced_secret(secret_name(namespace), OPERATOR_NAMESPACE)
    except ApiException as error:
        if error.status != 404:
            raise
    finally:
        api.close()


def test_root_refused_compliant_admitted_by_the_api_server(
    control_plane: Any,
    k8s_api: Any,
    namespace: str,
    tmp_path: Path,
    register_webhook: Callable[..., AbstractContextManager[dict[str, Any]]],
) -> None:
    core = client.CoreV1Api(k8s_api)
    with operator_with_webhook(control_plane, namespace, tmp_path, register_webhook) as (op, vwc):
        # The certificate the operator generated is in the Secret, its CA in the configuration.
        secret = core.read_namespaced_secret(secret_name(namespace), OPERATOR_NAMESPACE)
        assert secret.data is not None
        assert set(secret.data) >= {"ca.crt", "tls.crt", "tls.key"}
        config = client.AdmissionregistrationV1Api(k8s_api).read_validating_webhook_configuration(
            vwc
        )
        assert config.webhooks is not None
        assert config.webhooks[0].client_config.ca_bundle == secret.data["ca.crt"]
        wait_for_denial(k8s_api, namespace, 30)

        # The type: ignores: the client validates a plain dict into V1Pod; its annotation
        # names only the model.
        error = refused(lambda: core.create_namespaced_pod(namespace, root_pod("root")))  # type: ignore[arg-type]
        assert error.status == 403
        body = error.body or ""
        assert "denied the request" in body and "runAsUser" in body
        created = core.create_namespaced_pod(namespace, compliant_pod("ok"))  # type: ignore[arg-type]
        assert name_of(created) == "ok"

        # uid 0 in a HardenedService: the CRD's schema refuses it before any webhook.
        bad = hsvc("rooty", namespace, securityContext={"runAsUser": 0})
        error = refused(lambda: create_hsvc(k8s_api, bad))
        assert error.status == 422
        assert "spec.securityContext.runAsUser" in (error.body or "")

        # The operator's own Deployment cannot be tampered into root either: admission
        # refuses the edit (the reconciler would otherwise put it back; see drift tests).
        create_hsvc(k8s_api, hsvc("web", namespace))
        wait_for("the Deployment", lambda: read(k8s_api, "Deployment", namespace, "web"))
        apps = client.AppsV1Api(k8s_api)
        patch = [{"op": "replace", "path": "/spec/template/spec/securityContext/runAsUser",
                  "value": 0}]  # fmt: skip
        error = refused(lambda: apps.patch_namespaced_deployment("web", namespace, patch))
        assert error.status == 403 and "runAsUser" in (error.body or "")
        assert op.get("/readyz")[0] == 200


def test_the_webhook_refuses_a_uid0_hardened_service_the_schema_would_let_through(
    control_plane: Any,
    k8s_api: Any,
    namespace: str,
    tmp_path: Path,
    register_webhook: Callable[..., AbstractContextManager[dict[str, Any]]],
) -> None:
    """Serve an extra, schema-less version of the CRD for the duration of the test: the
    uid-0 object then passes validation, and only our webhook stands between it and etcd."""
    ext = client.ApiextensionsV1Api(k8s_api)
    crd_name = f"hardenedservices.{API_GROUP}"
    original = ext.read_custom_resource_definition(crd_name)
    lax = copy.deepcopy(k8s_api.sanitize_for_serialization(original.spec.versions[0]))
    schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    lax.update(name="v1alpha1lax", storage=False, served=True, schema={"openAPIV3Schema": schema})
    lax.pop("additionalPrinterColumns", None)
    lax.pop("selectableFields", None)
    ext.patch_custom_resource_definition(
        crd_name, [{"op": "add", "path": "/spec/versions/-", "value": lax}]
    )
    try:
        with operator_with_webhook(control_plane, namespace, tmp_path, register_webhook):
            wait_for_denial(k8s_api, namespace, 30)
            api = client.CustomObjectsApi(k8s_api)
            body = hsvc("rooty", namespace, securityContext={"runAsUser": 0})
            body["apiVersion"] = f"{API_GROUP}/v1alpha1lax"

            def attempt() -> Any:
                return api.create_namespaced_custom_object(
                    API_GROUP, "v1alpha1lax", namespace, "hardenedservices", body
                )

            # The new version is served asynchronously; retry until it is known (404 before).
            error = wait_for(
                "the lax version to be served",
                lambda: (e := refused(attempt)).status != 404 and e,
            )
            assert error.status == 403, error.body
            assert "denied the request" in error.body and "runAsUser" in error.body
    finally:
        current = ext.read_custom_resource_definition(crd_name)
        index = [v.name for v in current.spec.versions].index("v1alpha1lax")
        ext.patch_custom_resource_definition(
            crd_name, [{"op": "remove", "path": f"/spec/versions/{index}"}]
        )


def test_restart_reuses_the_stored_certificate(
    control_plane: Any,
    k8s_api: Any,
    namespace: str,
    tmp_path: Path,
    register_webhook: Callable[..., AbstractContextManager[dict[str, Any]]],
) -> None:
    core = client.CoreV1Api(k8s_api)
    with operator_with_webhook(
        control_plane, namespace, tmp_path, register_webhook, keep_secret=True
    ):
        first = core.read_namespaced_secret(secret_name(namespace), OPERATOR_NAMESPACE)
    with operator_with_webhook(control_plane, namespace, tmp_path, register_webhook) as (_, vwc):
        second = core.read_namespaced_secret(secret_name(namespace), OPERATOR_NAMESPACE)
        wait_for_denial(k8s_api, namespace, 30)
        config = client.AdmissionregistrationV1Api(k8s_api).read_validating_webhook_configuration(
            vwc
        )
    assert second.metadata is not None and first.metadata is not None
    assert second.metadata.resource_version == first.metadata.resource_version
    assert second.data is not None and first.data is not None
    assert base64.b64decode(second.data["ca.crt"]).startswith(b"-----BEGIN CERTIFICATE-----")
    assert config.webhooks is not None
    assert config.webhooks[0].client_config.ca_bundle == first.data["ca.crt"]
