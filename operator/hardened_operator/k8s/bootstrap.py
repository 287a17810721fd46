"""The few API calls that bring up a fresh control plane (used by ``hardened dev`` and tests).

Readiness, version, the CRD, the ValidatingWebhookConfiguration, namespaces and their
``default`` ServiceAccount. Everything here talks to the API and nothing else; failures
become ``errors.ApiError`` subclasses through :func:`.statuses.api_error`, as in
:class:`~.client.KubeClient` (``NotFoundError``, ``ConflictError``, ``TransientApiError``), or
``ControlPlaneError`` for timeouts while waiting. :func:`call` runs one request that way.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from hardened_operator.errors import ConflictError, ControlPlaneError, NotFoundError
from hardened_operator.k8s.statuses import api_error

T = TypeVar("T")


def api_client(kubeconfig: Path, context: str | None = None, *, retries: bool = True) -> Any:
    """A ``kubernetes.client.ApiClient`` for ``kubeconfig`` (never touches global config).

    ``retries=False``: fail fast, for polling a server that is still starting (urllib3's
    retries would only add delay and a warning per attempt).
    """
    configuration = client.Configuration()
    loader: Any = config.load_kube_config  # untyped in the client's stubs
    loader(
        config_file=str(kubeconfig),
        context=context,
        client_configuration=configuration,
        persist_config=False,
    )
    if not retries:
        configuration.retries = False
    return client.ApiClient(configuration)


def call(what: str, func: Callable[[], T]) -> T:
    """``func()``; an ``ApiException`` becomes the ``ApiError`` subclass for its status."""
    try:
        return func()
    except ApiException as error:
        raise api_error(
            f"{what}: {error.status} {error.reason}: {_message(error)}",
            status=error.status,
            reason=str(error.reason),
        ) from error


def _message(error: ApiException) -> str:
    try:
        body = json.loads(error.body or "{}")
    except ValueError:
        return str(error.body)
    return str(body.get("message", error.body)) if isinstance(body, dict) else str(body)


def is_ready(api: Any) -> bool:
    """True when ``GET /readyz`` answers 200 (False while the server is unreachable)."""
    try:
        method, url, headers, _, _ = api.param_serialize(
            "GET", "/readyz", auth_settings=["BearerToken"]
        )
        response = api.call_api(method, url, header_params=headers, _request_timeout=5)
        response.read()
    except (OSError, urllib3.exceptions.HTTPError, ApiException):
        return False  # refused, TLS not up yet, reset while starting: all "not yet"
    return int(response.status) == 200


def wait_until_ready(
    api: Any, timeout: float, *, still_running: Callable[[], bool] | None = None
) -> None:
    """Poll /readyz until 200; ``still_running`` lets the caller stop early on a crash."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_ready(api):
            return
        if still_running is not None and not still_running():
            raise ControlPlaneError("kube-apiserver exited before becoming ready")
        time.sleep(0.2)
    raise ControlPlaneError(f"kube-apiserver not ready (GET /readyz) within {timeout:.0f}s")


def server_version(api: Any) -> str:
    """``gitVersion`` from ``GET /version``, e.g. ``v1.37.2``."""
    info = call("GET /version", lambda: client.VersionApi(api).get_code())
    return str(info.git_version)


def install_crd(api: Any, manifest: Mapping[str, Any], timeout: float = 30.0) -> None:
    """Create or replace a CustomResourceDefinition and wait until it is Established."""
    extensions = client.ApiextensionsV1Api(api)
    name = str(manifest["metadata"]["name"])
    body: Any = dict(manifest)  # the client accepts plain dicts as bodies
    try:
        call(f"create CRD {name}", lambda: extensions.create_custom_resource_definition(body))
    except ConflictError:
        current: Any = call(
            f"read CRD {name}", lambda: extensions.read_custom_resource_definition(name)
        )
        body["metadata"] = {
            **dict(manifest["metadata"]),
            "resourceVersion": current.metadata.resource_version,
        }
        call(
            f"replace CRD {name}",
            lambda: extensions.replace_custom_resource_definition(name, body),
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        crd = call(f"read CRD {name}", lambda: extensions.read_custom_resource_definition(name))
        conditions = (crd.status.conditions if crd.status else None) or []
        if any(c.type == "Established" and c.status == "True" for c in conditions):
            return
        time.sleep(0.1)
    raise ControlPlaneError(f"CRD {name} not Established within {timeout:.0f}s")


def apply_validating_webhook_configuration(api: Any, manifest: Mapping[str, Any]) -> None:
    """Create or replace a ValidatingWebhookConfiguration."""
    admission = client.AdmissionregistrationV1Api(api)
    name = str(manifest["metadata"]["name"])
    body: Any = dict(manifest)
    try:
        call(
            f"create ValidatingWebhookConfiguration {name}",
            lambda: admission.create_validating_webhook_configuration(body),
        )
        return
    except ConflictError:
        pass
    current: Any = call(
        f"read ValidatingWebhookConfiguration {name}",
        lambda: admission.read_validating_webhook_configuration(name),
    )
    body["metadata"] = {
        **dict(manifest["metadata"]),
        "resourceVersion": current.metadata.resource_version,
    }
    call(
        f"replace ValidatingWebhookConfiguration {name}",
        lambda: admission.replace_validating_webhook_configuration(name, body),
    )


def delete_validating_webhook_configuration(api: Any, name: str) -> None:
    """Delete a ValidatingWebhookConfiguration; absent is fine."""
    admission = client.AdmissionregistrationV1Api(api)
    with contextlib.suppress(NotFoundError):
        call(
            f"delete ValidatingWebhookConfiguration {name}",
            lambda: admission.delete_validating_webhook_configuration(name),
        )


def create_namespace(api: Any, name: str, labels: Mapping[str, str] | None = None) -> None:
    """Create a namespace (409 if it exists is an error: callers pick fresh names)."""
    metadata: dict[str, Any] = {"name": name}
    if labels:
        metadata["labels"] = dict(labels)
    body: Any = {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}
    call(f"create namespace {name}", lambda: client.CoreV1Api(api).create_namespace(body))


def delete_namespace(api: Any, name: str) -> None:
    """Ask for deletion; without a controller-manager it stays Terminating, which is harmless."""
    with contextlib.suppress(NotFoundError):
        call(f"delete namespace {name}", lambda: client.CoreV1Api(api).delete_namespace(name))


def ensure_service_account(api: Any, namespace: str, name: str = "default") -> None:
    """Create a ServiceAccount unless it exists.

    A real cluster's controller-manager creates ``default`` in every namespace; the local
    control plane has none, and the ServiceAccount admission plugin refuses Pods whose
    ServiceAccount does not exist.
    """
    body: Any = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}}
    with contextlib.suppress(ConflictError):
        call(
            f"create ServiceAccount {namespace}/{name}",
            lambda: client.CoreV1Api(api).create_namespaced_service_account(namespace, body),
        )


def dry_run_create_pod(api: Any, namespace: str, pod: Mapping[str, Any]) -> None:
    """Server-side dry-run create of a Pod: admission (webhooks included) runs, nothing is stored.

    Raises ApiError with the server's message when the request is refused.
    """
    body: Any = dict(pod)
    call(
        f"dry-run create pod in {namespace}",
        lambda: client.CoreV1Api(api).create_namespaced_pod(namespace, body, dry_run="All"),
    )
