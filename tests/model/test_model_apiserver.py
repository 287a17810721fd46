"""The CRD as kube-apiserver sees it: accepted as structural, CEL compiled within budget, and
refusing exactly what the model refuses, on the same field. Runs against the suite's control plane
(``tests/conftest.py``: started locally, or ``KUBECONFIG``)."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from hardened_operator.errors import SpecValidationError
from hardened_operator.model.crd import CRD_NAME
from hardened_operator.model.validation import parse
from tests.model.model_support import example_documents

pytestmark = pytest.mark.controlplane

GROUP, VERSION, PLURAL = "ai-system.io", "v1alpha1", "hardenedservices"


def service(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "HardenedService",
        "metadata": {"name": name},
        "spec": {"image": "busybox:1.36", **spec},
    }


@pytest.fixture
def crs(control_plane: Any, k8s_api: Any) -> client.CustomObjectsApi:
    error = control_plane.crd_error()
    assert error is None, f"the HardenedService CRD was not installed: {error}"
    return client.CustomObjectsApi(k8s_api)


def create(crs: client.CustomObjectsApi, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
    created = crs.create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, obj, field_validation="Strict"
    )
    assert isinstance(created, dict), created  # custom objects come back as decoded JSON
    return created


def test_crd_is_established_and_structural(control_plane: Any, k8s_api: Any) -> None:
    assert control_plane.crd_error() is None
    crd = client.ApiextensionsV1Api(k8s_api).read_custom_resource_definition(CRD_NAME)
    assert crd.status is not None
    conditions = {c.type: c.status for c in crd.status.conditions or []}
    assert conditions.get("Established") == "True"
    assert conditions.get("NamesAccepted") == "True"
    assert conditions.get("NonStructuralSchema") in (None, "False")
    assert crd.spec.names.short_names == ["hsvc"]


@pytest.mark.parametrize(("source", "doc"), example_documents(), ids=lambda v: str(v)[:40])
def test_examples_are_admitted_and_defaulted_like_the_model(
    crs: client.CustomObjectsApi, namespace: str, source: str, doc: dict[str, Any]
) -> None:
    if source.startswith("invalid-"):
        with pytest.raises(ApiException) as caught:
            create(crs, namespace, doc)
        assert caught.value.status == 422
        assert caught.value.body is not None
        assert "spec.securityContext.runAsUser" in json.loads(caught.value.body)["message"]
        return
    stored = create(crs, namespace, copy.deepcopy(doc))
    # The API server fills defaults from the schema, the builders from the model: the stored
    # spec must be exactly what the model makes of the same input.
    assert stored["spec"] == parse(doc).spec.model_dump(mode="json", exclude_none=True)


REFUSED: list[tuple[dict[str, Any], str]] = [
    ({"securityContext": {"runAsUser": 0}}, "spec.securityContext.runAsUser"),
    ({"securityContext": {"runAsGroup": 0}}, "spec.securityContext.runAsGroup"),
    ({"securityContext": {"fsGroup": 0}}, "spec.securityContext.fsGroup"),
    ({"imagee": "typo"}, "spec.imagee"),
    ({"gpu": {"count": 1, "vendor": "x"}}, "spec.gpu.vendor"),
    ({"replicas": -1}, "spec.replicas"),
    ({"volumes": {"data": {"size": "ten"}}}, "spec.volumes.data.size"),
    ({"ports": [{"containerPort": 80, "name": "8080"}]}, "spec.ports[0].name"),
    (
        {"ports": [{"containerPort": 80, "name": "a"}, {"containerPort": 80, "name": "b"}]},
        "spec.ports",
    ),
    (
        {"ports": [{"containerPort": 80, "name": "a"}, {"containerPort": 81, "name": "a"}]},
        "spec.ports",
    ),
    ({"ports": [{"containerPort": 80}, {"containerPort": 81}]}, "spec.ports"),
    ({"podLabels": {"app.kubernetes.io/name": "x"}}, "spec.podLabels"),
    (
        {"env": [{"name": "A", "value": "1", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}]},
        "spec.env[0]",
    ),
    ({"env": [{"name": "A", "valueFrom": {}}]}, "spec.env[0].valueFrom"),
    ({"envFrom": [{"prefix": "X_"}]}, "spec.envFrom[0]"),
    (
        {"probes": {"liveness": {"exec": {"command": ["x"]}, "grpc": {"port": 1}}}},
        "spec.probes.liveness",
    ),
    ({"probes": {"readiness": {"tcpSocket": {"port": 80, "host": "10.0.0.1"}}}}, "host"),
    ({"resources": {"limits": {"nvidia.com/gpu": 1}}}, "spec"),
    ({"resources": {"limits": {"cpu": "two"}}}, "spec.resources.limits.cpu"),
    ({"nodeSelector": {"zone": "a"}, "gpu": {"nodeSelector": {"zone": "b"}}}, "spec"),
    ({"volumeReclaimPolicy": "Recycle"}, "spec.volumeReclaimPolicy"),
    (
        {"podAnnotations": {"container.apparmor.security.beta.kubernetes.io/app": "unconfined"}},
        "spec.podAnnotations",
    ),
    ({"tolerations": [{"operator": "Equal", "value": "x"}]}, "spec.tolerations[0]"),
    ({"tolerations": [{"key": "k", "operator": "Exists", "value": "x"}]}, "spec.tolerations[0]"),
    (
        {"tolerations": [{"key": "k", "effect": "NoSchedule", "tolerationSeconds": 5}]},
        "spec.tolerations[0]",
    ),
    ({"probes": {"liveness": {"successThreshold": 2}}}, "spec.probes"),
    ({"probes": {"readiness": {"terminationGracePeriodSeconds": 5}}}, "spec.probes"),
    ({"probes": {"liveness": {"tcpSocket": {"port": 0}}}}, "spec.probes.liveness.tcpSocket.port"),
    (
        {"volumes": {"data": {"accessModes": ["ReadWriteOncePod", "ReadWriteOnce"]}}},
        "spec.volumes.data.accessModes",
    ),
    (
        {"volumes": {"data": {"accessModes": ["ReadWriteOnce", "ReadWriteOnce"]}}},
        "spec.volumes.data.accessModes",
    ),
    (
        {"autoscaling": {"minReplicas": 5, "maxReplicas": 2, "targetCPUUtilizationPercentage": 5}},
        "spec.autoscaling",
    ),
    ({"autoscaling": {"maxReplicas": 3}}, "spec.autoscaling"),
    ({"disruptionBudget": {"maxUnavailable": 0}}, "spec.disruptionBudget"),
    ({"disruptionBudget": {"maxUnavailable": "0%"}}, "spec.disruptionBudget"),
    ({"disruptionBudget": {"maxUnavailable": "x%"}}, "spec.disruptionBudget.maxUnavailable"),
    ({"rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}}, "spec.rollingUpdate"),
    ({"networkPolicy": {"allowFrom": [{}]}}, "spec.networkPolicy.allowFrom[0]"),
    (
        {"networkPolicy": {"allowFrom": [{"podSelector": {"matchLabels": {}}}]}},
        "spec.networkPolicy.allowFrom[0].podSelector",
    ),
]


@pytest.mark.parametrize(("patch", "field"), REFUSED, ids=[f for _, f in REFUSED])
def test_api_server_and_model_refuse_the_same_specs(
    crs: client.CustomObjectsApi, namespace: str, patch: dict[str, Any], field: str
) -> None:
    obj = service("refused", **patch)
    with pytest.raises(SpecValidationError) as parsed:
        parse(obj)
    assert field in str(parsed.value)
    with pytest.raises(ApiException) as caught:
        create(crs, namespace, obj)
    assert caught.value.status in (400, 422)
    assert caught.value.body is not None
    message = json.loads(caught.value.body)["message"]
    assert field in message, message


@pytest.mark.parametrize(("first", "then"), [(None, "StatefulSet"), ("StatefulSet", "Deployment")])
def test_the_workload_kind_cannot_be_switched(
    crs: client.CustomObjectsApi, namespace: str, first: str | None, then: str
) -> None:
    # Never silent data loss: the two kinds keep their data in different claims.
    spec = {} if first is None else {"workload": first}
    create(crs, namespace, service("switch", **spec))
    with pytest.raises(ApiException) as caught:
        crs.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, "switch", {"spec": {"workload": then}}
        )
    assert caught.value.status == 422
    message = json.loads(caught.value.body or "{}")["message"]
    assert "spec.workload cannot be changed" in message, message
    # Everything else still changes.
    crs.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, "switch", {"spec": {"replicas": 2}}
    )


def test_metadata_name_rule(crs: client.CustomObjectsApi, namespace: str) -> None:
    long_name = "a" * 64
    with pytest.raises(SpecValidationError):
        parse(service(long_name))
    with pytest.raises(ApiException) as caught:
        create(crs, namespace, service(long_name))
    assert caught.value.body is not None
    assert "DNS-1035" in json.loads(caught.value.body)["message"]


def test_status_subresource_accepts_the_status_model(
    crs: client.CustomObjectsApi, namespace: str
) -> None:
    from hardened_operator.model import HardenedServiceStatus

    create(crs, namespace, service("with-status"))
    status = HardenedServiceStatus.model_validate(
        {
            "observedGeneration": 1,
            "replicas": 1,
            "readyReplicas": 0,
            "conditions": [
                {
                    "type": "Ready",
                    "status": "False",
                    "reason": "MinimumReplicasUnavailable",
                    "message": "0/1 pods ready",
                    "lastTransitionTime": "2026-11-28T08:00:00Z",
                    "observedGeneration": 1,
                }
            ],
            "volumes": [{"name": "data", "claimName": "with-status-data", "phase": "Pending"}],
            "message": "waiting for pods",
        }
    )
    body = {"status": status.model_dump(mode="json", exclude_none=True)}
    patched = crs.patch_namespaced_custom_object_status(
        GROUP, VERSION, namespace, PLURAL, "with-status", body
    )
    assert isinstance(patched, dict), patched
    assert patched["status"] == body["status"]
    with pytest.raises(ApiException):
        crs.patch_namespaced_custom_object_status(
            GROUP,
            VERSION,
            namespace,
            PLURAL,
            "with-status",
            {"status": {"conditions": [{"type": "Ready", "status": "Maybe"}]}},
        )


def test_kubectl_explain_reads_every_description(control_plane: Any, k8s_api: Any) -> None:
    """``kubectl explain`` reads the API server's OpenAPI v3 document: every spec and status
    field we describe must be published there with its description."""
    from hardened_operator.model import crd_manifest
    from tests.model.model_support import walk

    assert control_plane.crd_error() is None
    url = f"{k8s_api.configuration.host}/openapi/v3/apis/{GROUP}/{VERSION}"
    deadline = time.monotonic() + 30  # the OpenAPI controller publishes a new CRD asynchronously
    while True:
        response = k8s_api.call_api("GET", url)
        response.read()
        schemas = json.loads(response.data or b"{}").get("components", {}).get("schemas", {})
        published = schemas.get("io.ai-system.v1alpha1.HardenedService")
        if published is not None or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert published is not None, f"{url} does not publish HardenedService"
    ours = crd_manifest()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    checked = 0
    for part in ("spec", "status"):
        theirs = dict(walk(published["properties"][part], part))
        for path, node in walk(ours["properties"][part], part):
            if "description" in node:
                assert theirs[path].get("description") == node["description"], path
                checked += 1
    assert checked > 100
