"""RBAC is really enforced, with identities from the TokenRequest API (what pods would get)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.support.kube import name_of

pytestmark = pytest.mark.controlplane


def _token(api: Any, namespace: str, account: str, audiences: list[str] | None = None) -> str:
    body: Any = {"spec": {"expirationSeconds": 600, "audiences": audiences or []}}
    response = client.CoreV1Api(api).create_namespaced_service_account_token(
        account, namespace, body
    )
    assert response.status is not None
    token = response.status.token
    assert token is not None and token.count(".") == 2, "a TokenRequest answers with a signed JWT"
    return str(token)


@pytest.fixture
def as_token(k8s_api: Any) -> Iterator[Any]:
    """``as_token(token)`` -> an ApiClient authenticating with that bearer token only."""
    opened: list[Any] = []

    def make(token: str) -> Any:
        admin = k8s_api.configuration
        configuration = client.Configuration()
        configuration.host = admin.host
        configuration.ssl_ca_cert = admin.ssl_ca_cert
        configuration.verify_ssl = True
        configuration.api_key = {"authorization": f"Bearer {token}"}
        api = client.ApiClient(configuration)
        opened.append(api)
        return api

    yield make
    for api in opened:
        api.close()


@pytest.fixture
def reader(k8s_api: Any, namespace: str) -> str:
    """A ServiceAccount allowed to get/list ConfigMaps in ``namespace``, nothing else."""
    core, rbac = client.CoreV1Api(k8s_api), client.RbacAuthorizationV1Api(k8s_api)
    sa: Any = {"metadata": {"name": "reader"}}
    core.create_namespaced_service_account(namespace, sa)
    role: Any = {
        "metadata": {"name": "configmap-reader"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}],
    }
    rbac.create_namespaced_role(namespace, role)
    binding: Any = {
        "metadata": {"name": "reader-reads-configmaps"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": "configmap-reader",
        },
        "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": namespace}],
    }
    rbac.create_namespaced_role_binding(namespace, binding)
    secret: Any = {"metadata": {"name": "do-not-read"}, "stringData": {"password": "hunter2"}}
    core.create_namespaced_secret(namespace, secret)
    return "reader"


def test_token_identity_is_the_service_account(
    k8s_api: Any, namespace: str, reader: str, as_token: Any
) -> None:
    api = as_token(_token(k8s_api, namespace, reader))
    review: Any = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    status = client.AuthenticationV1Api(api).create_self_subject_review(review).status
    assert status is not None and status.user_info is not None
    user = status.user_info
    assert user.username == f"system:serviceaccount:{namespace}:{reader}"
    assert "system:serviceaccounts" in (user.groups or [])


def test_service_account_token_cannot_list_secrets(
    k8s_api: Any, namespace: str, reader: str, as_token: Any
) -> None:
    api = as_token(_token(k8s_api, namespace, reader))
    with pytest.raises(ApiException) as denied:
        client.CoreV1Api(api).list_namespaced_secret(namespace)
    assert denied.value.status == 403
    assert f"system:serviceaccount:{namespace}:{reader}" in str(denied.value.body)
    # ... while the admin sees the secret: it is RBAC refusing, not an empty namespace.
    secrets = client.CoreV1Api(k8s_api).list_namespaced_secret(namespace).items
    names = [name_of(s) for s in secrets]
    assert "do-not-read" in names


def test_service_account_token_can_do_what_its_role_grants_and_no_more(
    k8s_api: Any, namespace: str, reader: str, as_token: Any
) -> None:
    settings = {"metadata": {"name": "settings"}, "data": {"k": "v"}}
    # The client validates a plain dict into the model; its annotation names only the model.
    client.CoreV1Api(k8s_api).create_namespaced_config_map(namespace, settings)  # type: ignore[arg-type]
    core = client.CoreV1Api(as_token(_token(k8s_api, namespace, reader)))
    config_maps = core.list_namespaced_config_map(namespace).items
    listed = [name_of(cm) for cm in config_maps]
    assert "settings" in listed
    assert core.read_namespaced_config_map("settings", namespace).data == {"k": "v"}
    with pytest.raises(ApiException) as create:  # the Role grants get/list, not create
        # A plain dict, as above (validated into V1ConfigMap by the client).
        core.create_namespaced_config_map(namespace, {"metadata": {"name": "x"}})  # type: ignore[arg-type]
    assert create.value.status == 403
    with pytest.raises(ApiException) as other_namespace:  # a Role, not a ClusterRole
        core.list_namespaced_config_map("default")
    assert other_namespace.value.status == 403


def test_token_for_another_audience_is_not_accepted(
    k8s_api: Any, namespace: str, reader: str, as_token: Any
) -> None:
    api = as_token(_token(k8s_api, namespace, reader, audiences=["some-other-service"]))
    with pytest.raises(ApiException) as unauthenticated:
        client.CoreV1Api(api).list_namespaced_config_map(namespace)
    assert unauthenticated.value.status == 401


def test_garbage_token_is_unauthenticated(as_token: Any, namespace: str) -> None:
    api = as_token("not-a-token")
    with pytest.raises(ApiException) as unauthenticated:
        client.CoreV1Api(api).list_namespaced_config_map(namespace)
    assert unauthenticated.value.status == 401
