"""Fixtures every area shares: the control plane, a namespace per test, a local webhook.

``control_plane`` (session): ``.kubeconfig``, ``.server``, ``.api_client()``, ``.env()``.
Uses ``KUBECONFIG`` when set, else starts etcd + kube-apiserver (see docs/dev.md). When it
cannot start: skip with the reason, or fail when ``HARDENED_REQUIRE_CONTROL_PLANE=1``
(``.ci/run``) or ``CI=true``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from hardened_operator.k8s import bootstrap
from tests.support import controlplane, webhooks


@pytest.fixture(scope="session")
def control_plane() -> Iterator[controlplane.ControlPlaneHandle]:
    try:
        handle, stop = controlplane.start_session_plane()
    except Exception as error:
        reason = f"no control plane: {error}"
        if controlplane.required():
            pytest.fail(f"{reason} ({controlplane.REQUIRE_ENV}=1 or CI=true)", pytrace=False)
        pytest.skip(reason)
    try:
        yield handle
    finally:
        stop()


@pytest.fixture
def k8s_api(control_plane: controlplane.ControlPlaneHandle) -> Iterator[Any]:
    """An admin ``kubernetes.client.ApiClient``, closed after the test."""
    api = control_plane.api_client()
    try:
        yield api
    finally:
        api.close()


@pytest.fixture
def namespace(k8s_api: Any, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace (with its ``default`` ServiceAccount), deleted after the test."""
    stem = "".join(c if c.isalnum() else "-" for c in request.node.name.lower())[:40].strip("-")
    name = f"t-{stem}-{uuid.uuid4().hex[:6]}"
    bootstrap.create_namespace(k8s_api, name)
    bootstrap.ensure_service_account(k8s_api, name)
    try:
        yield name
    finally:
        bootstrap.delete_namespace(k8s_api, name)


@pytest.fixture
def local_webhook(tmp_path: Path) -> Iterator[webhooks.LocalWebhook]:
    """``hardened webhook`` on 127.0.0.1 with generated certs (needs no control plane)."""
    with webhooks.local_webhook(tmp_path) as served:
        yield served


@pytest.fixture
def register_webhook(
    k8s_api: Any,
) -> Callable[..., AbstractContextManager[dict[str, Any]]]:
    """``with register_webhook(url, ca_pem, namespace): ...`` — see support/webhooks.py."""

    def register(
        url: str, ca_pem: bytes, namespace: str, **options: Any
    ) -> AbstractContextManager[dict[str, Any]]:
        return webhooks.registered_webhook(k8s_api, url, ca_pem, namespace, **options)

    return register
