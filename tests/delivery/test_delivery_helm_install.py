"""manifests/ and the Helm chart against a real kube-apiserver (the ``control_plane`` fixture).

- ``helm install`` (Helm SDK) succeeds; ``helm uninstall`` keeps the CRDs, a HardenedService
  and a PVC created before.
- Least privilege is real: a TokenRequest token of the chart's ServiceAccount can do every
  verb the operator needs and is refused what it must not do.

(The admission path and manifests/ themselves: test_delivery_admission.py. Kept apart because
this module's release registers a cluster-wide fail-closed webhook with no pod behind it.)

The plane has no scheduler, kubelet or controller-manager: objects are stored, pods never run.
"""

from __future__ import annotations

import base64
import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from hardened_operator.k8s import bootstrap
from tests.delivery.delivery_cluster import apply, create_namespace, pvc, sample, unique
from tests.delivery.delivery_support import (
    CHART,
    CLUSTER_NEEDS,
    ENFORCE_LABEL,
    MUST_NOT,
    NAMED_CLUSTER_NEEDS,
    SAMPLES,
    load_docs,
    load_file,
)
from tests.support.kube import name_of
from tests.support.refusals import apply_failures, rbac_refusals

pytestmark = pytest.mark.controlplane

# ---- helm install / uninstall -----------------------------------------------------------------


def chart_for(server_version: str, scratch: Path) -> Path:
    """The chart; for an API server built without version stamps, minus ``kubeVersion``.

    A kube-apiserver compiled without ``-ldflags -X ...gitVersion`` reports
    ``v0.0.0-master+$Format:%H$``, which no ``kubeVersion: >=1.30`` range admits. Only then is
    the constraint dropped from a scratch copy; every template and value is the same.
    """
    if not server_version.startswith("v0.0.0"):
        return CHART
    copy = scratch / CHART.name
    shutil.copytree(CHART, copy)
    chart_yaml = copy / "Chart.yaml"
    lines = chart_yaml.read_text().splitlines(keepends=True)
    chart_yaml.write_text("".join(line for line in lines if not line.startswith("kubeVersion:")))
    return copy


@pytest.fixture(scope="module")
def release(
    control_plane: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """The chart installed with default values into a fresh namespace (uninstalled after)."""
    api = control_plane.api_client()
    namespace = unique("hardened-delivery")
    name = unique("hsec")
    # A HardenedService and a PVC that exist before the install and must survive uninstall.
    # (Created first: once the fail-closed webhook is registered with no pod behind its
    # Service, this plane refuses every matching request.)
    # Labelled `disabled` so that the operator's own Deployments there are not sent to the
    # installed webhook, which has no pod behind it on this plane.
    users = create_namespace(api, unique("users"), {ENFORCE_LABEL: "disabled"})
    apply(api, {**sample("api-service.yaml"), "metadata": {"name": "keep-me"}}, users)
    apply(api, pvc("user-scratch"), users)
    config = helm.Config(kubeconfig_path=control_plane.kubeconfig, namespace=namespace)
    chart = chart_for(bootstrap.server_version(api), tmp_path_factory.mktemp("chart"))
    installed = config.install(
        chart, name, {}, namespace=namespace, create_namespace=True, timeout=120
    )
    state = {
        "config": config,
        "name": name,
        "namespace": namespace,
        "installed": installed,
        "users": users,
    }
    try:
        yield state
    finally:
        config.uninstall(name, ignore_not_found=True)
        config.close()
        _wait_until_policy_forgotten(api, f"{name}-hardened-operator")
        api.close()


def _wait_until_policy_forgotten(api: Any, policy: str) -> None:
    """The API server drops a deleted ValidatingAdmissionPolicy from its cache a moment after
    the delete: until then it still refuses root pods everywhere, and the next module's test
    would meet this release's policy. Wait until a root pod's dry run no longer meets it."""
    core = client.CoreV1Api(api)
    root_pod: Any = {
        "metadata": {"name": "policy-forgotten-probe"},
        "spec": {"containers": [{"name": "c", "image": "x", "securityContext": {"runAsUser": 0}}]},
    }

    def forgotten() -> bool:
        try:
            core.create_namespaced_pod("default", root_pod, dry_run="All")
        except ApiException as error:
            return policy not in (error.body or "")
        return True

    wait_until(f"the API server forgetting {policy}", forgotten)


def test_helm_install_succeeds(release: dict[str, Any], k8s_api: Any) -> None:
    status = release["config"].status(release["name"])
    assert status["status"] == "deployed"
    assert status["chart_name"] == "hardened-operator"
    assert "Admission is ON (failurePolicy Fail)" in status["notes"]
    rendered = {(o["kind"], o["metadata"]["name"]) for o in load_docs(status["manifest"])}
    assert ("ValidatingWebhookConfiguration", f"{release['name']}-hardened-operator") in rendered
    fullname = f"{release['name']}-hardened-operator"
    apps = client.AppsV1Api(k8s_api)
    deploy = apps.read_namespaced_deployment(fullname, release["namespace"])
    assert deploy.spec.replicas == 2
    pod = deploy.spec.template.spec
    assert pod is not None and pod.security_context is not None
    assert pod.security_context.run_as_user == 1000
    admission = client.AdmissionregistrationV1Api(k8s_api)
    hooks = webhooks_of(admission, fullname)
    assert [hook.failure_policy for hook in hooks] == ["Fail"] * 3
    crds = client.ApiextensionsV1Api(k8s_api)
    for crd in ("hardenedservices.ai-system.io", "clusterkopfpeerings.kopf.dev"):
        assert name_of(crds.read_custom_resource_definition(crd)) == crd


def webhooks_of(
    admission: client.AdmissionregistrationV1Api, name: str
) -> list[client.V1ValidatingWebhook]:
    hooks = admission.read_validating_webhook_configuration(name).webhooks
    assert hooks is not None, f"ValidatingWebhookConfiguration {name} has no webhooks"
    return hooks


def token_for(
    k8s_api: Any, namespace: str, name: str, request: client.AuthenticationV1TokenRequest
) -> str:
    """A TokenRequest token of ServiceAccount ``name``."""
    response = client.CoreV1Api(k8s_api).create_namespaced_service_account_token(
        name, namespace, request
    )
    assert response.status is not None and response.status.token is not None, response
    return response.status.token


# ---- least privilege: the chart's ServiceAccount, through a TokenRequest token -------------------


def service_account_client(control_plane: Any, k8s_api: Any, namespace: str, name: str) -> Any:
    token_request = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=600)
    )
    token = token_for(k8s_api, namespace, name, token_request)
    admin = k8s_api.configuration
    configuration = client.Configuration()
    configuration.host = admin.host
    configuration.ssl_ca_cert = admin.ssl_ca_cert
    configuration.verify_ssl = admin.verify_ssl
    configuration.api_key = {"authorization": f"Bearer {token}"}
    return client.ApiClient(configuration)


def allowed(
    api: Any, group: str, resource: str, verb: str, namespace: str | None, name: str | None = None
) -> bool:
    resource_name, _, subresource = resource.partition("/")
    review = client.V1SelfSubjectAccessReview(
        spec=client.V1SelfSubjectAccessReviewSpec(
            resource_attributes=client.V1ResourceAttributes(
                group=group,
                resource=resource_name,
                subresource=subresource or None,
                verb=verb,
                namespace=namespace,
                name=name,
            )
        )
    )
    status = client.AuthorizationV1Api(api).create_self_subject_access_review(review).status
    assert status is not None, "a SelfSubjectAccessReview answers with a status"
    return bool(status.allowed)


@pytest.fixture
def operator_api(release: dict[str, Any], control_plane: Any, k8s_api: Any) -> Iterator[Any]:
    api = service_account_client(
        control_plane, k8s_api, release["namespace"], f"{release['name']}-hardened-operator"
    )
    try:
        yield api
    finally:
        api.close()


def test_token_identity_is_the_chart_service_account(
    release: dict[str, Any], operator_api: Any
) -> None:
    review = client.AuthenticationV1Api(operator_api).create_self_subject_review(
        client.V1SelfSubjectReview()
    )
    assert review.status is not None and review.status.user_info is not None
    assert review.status.user_info.username == (
        f"system:serviceaccount:{release['namespace']}:{release['name']}-hardened-operator"
    )


def test_operator_identity_can_do_everything_it_needs(
    release: dict[str, Any], operator_api: Any, k8s_api: Any
) -> None:
    fullname = f"{release['name']}-hardened-operator"
    missing = [
        need
        for need in sorted(CLUSTER_NEEDS)
        if not allowed(operator_api, *need, namespace="any-team-namespace")
        or not allowed(operator_api, *need, namespace=None)
    ]
    assert missing == []
    for group, resource, verb, _ in sorted(NAMED_CLUSTER_NEEDS):
        assert allowed(operator_api, group, resource, verb, None, fullname)
    for verb in ("get", "patch"):
        assert allowed(
            operator_api, "", "secrets", verb, release["namespace"], f"{fullname}-webhook-tls"
        )

    # And for real, the calls a reconcile makes, in a namespace the webhook does not police.
    team = create_namespace(k8s_api, unique("team"), {ENFORCE_LABEL: "disabled"})
    custom = client.CustomObjectsApi(operator_api)
    listed = custom.list_cluster_custom_object("ai-system.io", "v1alpha1", "hardenedservices")
    assert isinstance(listed, dict), listed  # custom objects come back as decoded JSON
    assert any(item["metadata"]["name"] == "keep-me" for item in listed["items"])
    apps = client.AppsV1Api(operator_api)
    deployment: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "reconciled", "namespace": team},
        "spec": {
            "selector": {"matchLabels": {"app": "reconciled"}},
            "template": {
                "metadata": {"labels": {"app": "reconciled"}},
                "spec": {
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 1000},
                    "containers": [{"name": "app", "image": "registry.example.com/app:1.0"}],
                },
            },
        },
    }
    # The type: ignores: the client validates a plain dict into the model; its annotation
    # names only the model.
    apps.create_namespaced_deployment(team, deployment)  # type: ignore[arg-type]
    apps.patch_namespaced_deployment("reconciled", team, {"spec": {"replicas": 2}})
    apps.delete_namespaced_deployment("reconciled", team)
    core = client.CoreV1Api(operator_api)
    core.create_namespaced_persistent_volume_claim(team, pvc("reconciled-data"))  # type: ignore[arg-type]
    secret = core.read_namespaced_secret(f"{fullname}-webhook-tls", release["namespace"])
    assert name_of(secret) == f"{fullname}-webhook-tls"
    client.AdmissionregistrationV1Api(operator_api).patch_validating_webhook_configuration(
        fullname, {"metadata": {"annotations": {"example.com/ca-rotated": "now"}}}
    )


def test_operator_identity_is_refused_what_it_must_not_do(
    release: dict[str, Any], operator_api: Any
) -> None:
    namespace_of = {"hardened-system": release["namespace"]}
    granted = [
        (group, resource, verb, namespace)
        for group, resource, verb, namespace in MUST_NOT
        if allowed(
            operator_api, group, resource, verb, namespace_of.get(namespace or "", namespace)
        )
    ]
    assert granted == []
    # A few refusals for real, as the API server answers them.
    core = client.CoreV1Api(operator_api)
    rbac = client.RbacAuthorizationV1Api(operator_api)
    attempts: list[Callable[[], object]] = [
        lambda: core.list_secret_for_all_namespaces(),
        lambda: core.list_namespaced_secret(release["namespace"]),
        lambda: core.delete_namespace(release["users"]),
        # The client validates a plain dict into the model; its annotation names only the model.
        lambda: rbac.create_cluster_role(
            {  # type: ignore[arg-type]
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": unique("escalate")},
                "rules": [],
            }
        ),
        lambda: client.AdmissionregistrationV1Api(
            operator_api
        ).delete_validating_webhook_configuration(f"{release['name']}-hardened-operator"),
    ]
    for attempt in attempts:
        with pytest.raises(ApiException) as refused:
            attempt()
        assert refused.value.status == 403


# ---- uninstall last: the CRDs and users' data stay ----------------------------------------


def token_kubeconfig(k8s_api: Any, namespace: str, name: str, path: Path) -> Path:
    """A kubeconfig whose only credential is a TokenRequest token of ServiceAccount ``name``."""
    request = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=3600)
    )
    token = token_for(k8s_api, namespace, name, request)
    ca = Path(k8s_api.configuration.ssl_ca_cert).read_bytes()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "plane",
                "cluster": {
                    "server": k8s_api.configuration.host,
                    "certificate-authority-data": base64.b64encode(ca).decode(),
                },
            }
        ],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": "plane", "user": name}}],
        "current-context": name,
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0


def hsvc_status(custom: client.CustomObjectsApi, namespace: str, name: str) -> Any:
    obj = custom.get_namespaced_custom_object(
        "ai-system.io", "v1alpha1", namespace, "hardenedservices", name
    )
    assert isinstance(obj, dict), obj  # custom objects come back as decoded JSON
    status = obj.get("status") or {}
    # Reconciled = the operator reported on this very generation, not merely some status.
    if status.get("observedGeneration") != obj["metadata"]["generation"]:
        return None
    return status


def wait_until(what: str, probe: Callable[[], Any], timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except ApiException as error:
            last = f"{error.status} {error.reason}"
        else:
            if last:
                return last
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def test_operator_runs_as_the_chart_service_account_and_reconciles_every_sample(
    release: dict[str, Any], control_plane: Any, k8s_api: Any, tmp_path: Path
) -> None:
    """`hardened run` with nothing but the chart's RBAC: it starts, takes its certificate,
    injects the CA, and turns every sample into its objects, without one 403."""
    fullname = f"{release['name']}-hardened-operator"
    kubeconfig = token_kubeconfig(
        k8s_api, release["namespace"], fullname, tmp_path / "sa.kubeconfig"
    )
    health, webhook = free_port(), free_port()
    command = [
        sys.executable, "-m", "hardened_operator.cli", "run",
        "--kubeconfig", str(kubeconfig),
        "--all-namespaces",
        "--operator-namespace", release["namespace"],
        "--certs=self",
        f"--certs-secret={fullname}-webhook-tls",
        f"--webhook-service={fullname}-webhook",
        f"--webhook-config-name={fullname}",
        f"--peering={fullname}",
        f"--webhook-listen=127.0.0.1:{webhook}",
        f"--health-listen=127.0.0.1:{health}",
        "--log-format=json",
    ]  # fmt: skip
    log = tmp_path / "operator.log"
    # KUBECONFIG too (the flag alone suffices since kopf logs in with it): nothing may fall
    # back to the admin's.
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, env={**env, "PYTHONUNBUFFERED": "1"}, stdout=sink, stderr=subprocess.STDOUT
        )
    team = create_namespace(k8s_api, unique("samples"), {ENFORCE_LABEL: "disabled"})
    health_url = f"http://127.0.0.1:{health}"
    custom = client.CustomObjectsApi(k8s_api)
    admission = client.AdmissionregistrationV1Api(k8s_api)
    try:
        # /readyz: admission is served; /operatorz: the reconciler works too.
        wait_until(
            "the operator's /readyz and /operatorz",
            lambda: (
                process.poll() is None
                and http_status(f"{health_url}/readyz") == 200
                and http_status(f"{health_url}/operatorz") == 200
            ),
        )
        assert http_status(f"{health_url}/healthz") == 200
        samples = [load_file(path)[0] for path in sorted(SAMPLES.glob("*.yaml"))]
        for obj in samples:
            apply(k8s_api, obj, team)
        apps, core = client.AppsV1Api(k8s_api), client.CoreV1Api(k8s_api)
        for obj in samples:
            name, spec = obj["metadata"]["name"], obj["spec"]
            deploy = wait_until(
                f"Deployment {name}",
                functools.partial(apps.read_namespaced_deployment, name, team),
            )
            pod = deploy.spec.template.spec
            assert pod.security_context.run_as_non_root is True
            assert pod.security_context.run_as_user == 1000
            if spec.get("debug"):
                wait_until(
                    f"Deployment {name}-debug",
                    functools.partial(apps.read_namespaced_deployment, f"{name}-debug", team),
                )
            if spec.get("ports"):
                wait_until(
                    f"Service {name}", functools.partial(core.read_namespaced_service, name, team)
                )
            status = wait_until(
                f"status of {name}",
                functools.partial(hsvc_status, custom, team, name),
            )
            degraded = [c for c in status.get("conditions") or [] if c["type"] == "Degraded"]
            assert [c["status"] for c in degraded] == ["False"], (name, degraded)
        claims = {name_of(c) for c in core.list_namespaced_persistent_volume_claim(team).items}
        assert "model-server-models" in claims
        # Its certificate went into the named Secret, its CA into every webhook entry.
        secret = core.read_namespaced_secret(f"{fullname}-webhook-tls", release["namespace"])
        assert secret.data and {"tls.crt", "tls.key"} <= set(secret.data)
        wait_until(
            "the CA injected into the webhook configuration",
            lambda: all(hook.client_config.ca_bundle for hook in webhooks_of(admission, fullname)),
        )
        assert len(webhooks_of(admission, fullname)) == 3
        assert process.poll() is None, log.read_text()[-3000:]
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
    text = log.read_text(errors="replace")
    refusals = rbac_refusals(text)
    assert refusals == [], "\n".join(refusals[:5])
    assert "failure=None" in text and apply_failures(text) == [], text[-4000:]


def test_helm_upgrade_changes_values_and_keeps_the_injected_ca(
    release: dict[str, Any], k8s_api: Any, tmp_path: Path
) -> None:
    fullname = f"{release['name']}-hardened-operator"
    admission = client.AdmissionregistrationV1Api(k8s_api)
    ca = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nupgrade-test\n").decode()
    # What the operator does (certificates: self): put its CA into every entry.
    names = [hook.name for hook in webhooks_of(admission, fullname)]
    entries = [{"name": name, "clientConfig": {"caBundle": ca}} for name in names]
    admission.patch_validating_webhook_configuration(fullname, {"webhooks": entries})
    chart = chart_for(bootstrap.server_version(k8s_api), tmp_path)
    upgraded = release["config"].upgrade(
        chart,
        release["name"],
        {"replicas": 3, "webhook": {"timeoutSeconds": 3}},
        namespace=release["namespace"],
        timeout=120,
    )
    assert upgraded["revision"] == 2
    deploy = client.AppsV1Api(k8s_api).read_namespaced_deployment(fullname, release["namespace"])
    assert deploy.spec.replicas == 3
    hooks = webhooks_of(admission, fullname)
    assert [hook.timeout_seconds for hook in hooks] == [3, 3, 3]
    assert [hook.failure_policy for hook in hooks] == ["Fail"] * 3
    # The chart does not own caBundle, so an upgrade never breaks a working webhook's TLS.
    assert [hook.client_config.ca_bundle for hook in hooks] == [ca] * 3


def test_zz_helm_uninstall_keeps_crds_hardenedservices_and_pvcs(
    release: dict[str, Any], k8s_api: Any
) -> None:
    fullname = f"{release['name']}-hardened-operator"
    release["config"].uninstall(release["name"])
    admission = client.AdmissionregistrationV1Api(k8s_api)
    with pytest.raises(ApiException) as gone:
        admission.read_validating_webhook_configuration(fullname)
    assert gone.value.status == 404
    with pytest.raises(ApiException) as gone:
        client.RbacAuthorizationV1Api(k8s_api).read_cluster_role(fullname)
    assert gone.value.status == 404
    crds = client.ApiextensionsV1Api(k8s_api)
    for crd in ("hardenedservices.ai-system.io", "clusterkopfpeerings.kopf.dev"):
        metadata = crds.read_custom_resource_definition(crd).metadata
        assert metadata is not None and metadata.deletion_timestamp is None
    kept = client.CustomObjectsApi(k8s_api).get_namespaced_custom_object(
        "ai-system.io", "v1alpha1", release["users"], "hardenedservices", "keep-me"
    )
    assert isinstance(kept, dict), kept
    assert kept["metadata"]["name"] == "keep-me"
    claim = client.CoreV1Api(k8s_api).read_namespaced_persistent_volume_claim(
        "user-scratch", release["users"]
    )
    assert claim.metadata is not None and claim.metadata.deletion_timestamp is None
