"""The typed model: what it accepts, what it refuses, and that its defaults are the CRD's."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from hardened_operator.errors import SpecValidationError
from hardened_operator.model import HardenedService, HardenedServiceSpec, crd_manifest
from hardened_operator.model.validation import parse

SCHEMA = crd_manifest()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def service(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "ai-system.io/v1alpha1",
        "kind": "HardenedService",
        "metadata": {"name": "svc", "namespace": "ai"},
        "spec": {"image": "busybox:1.36", **spec},
    }


def test_minimal_spec_takes_the_seed_defaults() -> None:
    spec = parse(service()).spec
    assert (spec.securityContext.runAsUser, spec.securityContext.runAsGroup) == (1000, 1000)
    assert spec.securityContext.fsGroup == 1000
    assert spec.securityContext.readOnlyRootFilesystem is True
    assert spec.replicas == 1
    assert spec.automountServiceAccountToken is False
    assert spec.volumeReclaimPolicy == "Retain"
    assert spec.terminationGracePeriodSeconds == 30
    assert [name for name, _ in spec.volumes.enabled()] == ["logs", "data", "models", "cache"]
    assert spec.gpu.count == 0 and spec.gpu.resourceName == "nvidia.com/gpu"
    assert spec.debug is False


def _schema_defaults(node: dict[str, Any], path: tuple[str, ...] = ()) -> list[Any]:
    found = []
    if "default" in node and node["default"] != {}:
        found.append((path, node["default"]))
    for name, sub in node.get("properties", {}).items():
        found += _schema_defaults(sub, (*path, name))
    return found


def test_every_crd_default_is_the_model_default() -> None:
    """The API server fills defaults from the schema, the builders from the model: same values."""
    # Optional objects given (empty where they can be), so their fields' defaults apply too.
    spec = HardenedServiceSpec.model_validate(
        {
            "image": "x",
            "autoscaling": {"maxReplicas": 3, "targetCPUUtilizationPercentage": 50},
            "rollingUpdate": {},
        }
    )
    defaults = _schema_defaults(SCHEMA["properties"]["spec"])
    assert len(defaults) >= 20
    for path, expected in defaults:
        value: Any = spec
        for part in path:
            value = getattr(value, part)
        assert value == expected, path


@pytest.mark.parametrize(
    ("spec", "field", "words"),
    [
        ({"securityContext": {"runAsUser": 0}}, "spec.securityContext.runAsUser", ["root"]),
        ({"securityContext": {"runAsGroup": 0}}, "spec.securityContext.runAsGroup", ["root"]),
        ({"securityContext": {"fsGroup": 0}}, "spec.securityContext.fsGroup", ["root"]),
        ({"securityContext": {"runAsUser": -5}}, "spec.securityContext.runAsUser", []),
        (
            {"securityContext": {"runAsNonRoot": False}},
            "spec.securityContext.runAsNonRoot",
            ["unknown"],
        ),
        ({"imagee": "typo"}, "spec.imagee", ["unknown"]),
        ({"gpu": {"count": 1, "vendor": "x"}}, "spec.gpu.vendor", ["unknown"]),
        ({"volumes": {"scratch": {}}}, "spec.volumes.scratch", ["unknown"]),
        ({"volumes": {"data": {"size": "ten"}}}, "spec.volumes.data.size", []),
        ({"replicas": -1}, "spec.replicas", []),
        ({"ports": [{"containerPort": 70000}]}, "spec.ports[0].containerPort", []),
        ({"ports": [{"containerPort": 80, "protocol": "HTTP"}]}, "spec.ports[0].protocol", []),
        ({"ports": [{"containerPort": 80, "name": "8080"}]}, "spec.ports[0].name", ["letter"]),
        (
            {"ports": [{"containerPort": 80, "name": "a"}, {"containerPort": 80, "name": "b"}]},
            "spec.ports",
            ["unique"],
        ),
        (
            {"ports": [{"containerPort": 80, "name": "a"}, {"containerPort": 81, "name": "a"}]},
            "spec.ports",
            ["names"],
        ),
        ({"ports": [{"containerPort": 80}, {"containerPort": 81}]}, "spec.ports", ["name every"]),
        ({"podLabels": {"app.kubernetes.io/name": "x"}}, "spec.podLabels", ["owns"]),
        ({"podLabels": {"ai-system.io/run-as-user": "0"}}, "spec.podLabels", ["owns"]),
        ({"podLabels": {"bad key!": "x"}}, "spec.podLabels", ["key"]),
        ({"podLabels": {"team": "not a label value"}}, "spec.podLabels.team", []),
        (
            {"env": [{"name": "A", "value": "1", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}]},
            "spec.env[0]",
            ["only one"],
        ),
        ({"env": [{"name": "A", "valueFrom": {}}]}, "spec.env[0].valueFrom", ["set one"]),
        ({"envFrom": [{"prefix": "X_"}]}, "spec.envFrom[0]", ["configMapRef"]),
        (
            {"probes": {"liveness": {"exec": {"command": ["x"]}, "grpc": {"port": 1}}}},
            "spec.probes.liveness",
            ["only one"],
        ),
        ({"probes": {"liveness": {"periodSeconds": 0}}}, "spec.probes.liveness.periodSeconds", []),
        ({"resources": {"limits": {"nvidia.com/gpu": 1}}}, "spec", ["gpu.count"]),
        ({"resources": {"limits": {"cpu": 0.5}}}, "spec.resources.limits.cpu", []),
        ({"nodeSelector": {"zone": "a"}, "gpu": {"nodeSelector": {"zone": "b"}}}, "spec", ["zone"]),
        ({"volumeReclaimPolicy": "Recycle"}, "spec.volumeReclaimPolicy", []),
        ({"serviceAccountName": "Not_Valid"}, "spec.serviceAccountName", []),
        ({"tolerations": [{"operator": "Maybe"}]}, "spec.tolerations[0].operator", []),
        ({"affinity": {"nodeAfinity": {}}}, "spec.affinity.nodeAfinity", ["unknown"]),
        ({"image": ""}, "spec.image", []),
        ({"image": "busybox latest"}, "spec.image", []),
        (
            {
                "podAnnotations": {
                    "container.apparmor.security.beta.kubernetes.io/app": "unconfined"
                }
            },
            "spec.podAnnotations",
            ["AppArmor"],
        ),
        (
            {"podAnnotations": {"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}},
            "spec.podAnnotations",
            ["seccomp"],
        ),
        ({"env": [{"name": "1ABC", "value": "x"}]}, "spec.env[0].name", []),
        ({"imagePullSecrets": [{"name": "Reg_Cred"}]}, "spec.imagePullSecrets[0].name", []),
        ({"serviceAccountName": "a..b"}, "spec.serviceAccountName", []),
        (
            {"tolerations": [{"key": "bad key", "operator": "Exists"}]},
            "spec.tolerations[0].key",
            [],
        ),
        # The API server's own rules for pods, checked before a Deployment is ever applied.
        ({"tolerations": [{"operator": "Equal", "value": "x"}]}, "spec.tolerations[0]", ["key"]),
        (
            {"tolerations": [{"key": "k", "operator": "Exists", "value": "x"}]},
            "spec.tolerations[0]",
            ["no value"],
        ),
        (
            {"tolerations": [{"key": "k", "effect": "NoSchedule", "tolerationSeconds": 5}]},
            "spec.tolerations[0]",
            ["NoExecute"],
        ),
        ({"probes": {"liveness": {"successThreshold": 2}}}, "spec.probes", ["successThreshold"]),
        ({"probes": {"startup": {"successThreshold": 3}}}, "spec.probes", ["successThreshold"]),
        (
            {"probes": {"readiness": {"terminationGracePeriodSeconds": 5}}},
            "spec.probes",
            ["terminationGracePeriodSeconds"],
        ),
        (
            {"probes": {"liveness": {"tcpSocket": {"port": 0}}}},
            "spec.probes.liveness.tcpSocket.port",
            [],
        ),
        (
            {"probes": {"liveness": {"tcpSocket": {"port": 80, "host": "10.0.0.1"}}}},
            "spec.probes.liveness.tcpSocket.host",
            ["unknown"],
        ),
        (
            {"resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1500m"}}},
            "spec.resources",
            ["exceed"],
        ),
        ({"resources": {"limits": {"gpu": 1}}}, "spec.resources", ["not a container resource"]),
        ({"resources": {"requests": {"example.com/fpga": 1}}}, "spec.resources", ["limits"]),
        (
            {"resources": {"requests": {"example.com/fpga": 1}, "limits": {"example.com/fpga": 2}}},
            "spec.resources",
            ["equal"],
        ),
        ({"resources": {"limits": {"example.com/fpga": "500m"}}}, "spec.resources", ["whole"]),
        ({"resources": {"limits": {"memory": "-1Gi"}}}, "spec.resources", ["negative"]),
        (
            {"volumes": {"data": {"accessModes": ["ReadWriteOncePod", "ReadWriteOnce"]}}},
            "spec.volumes.data.accessModes",
            ["ReadWriteOncePod"],
        ),
        (
            {"volumes": {"data": {"accessModes": ["ReadWriteOnce", "ReadWriteOnce"]}}},
            "spec.volumes.data.accessModes",
            ["repeat"],
        ),
    ],
)
def test_parse_refuses_and_names_the_field(
    spec: dict[str, Any], field: str, words: list[str]
) -> None:
    with pytest.raises(SpecValidationError) as caught:
        parse(service(**spec))
    assert caught.value.field == field
    message = str(caught.value)
    assert field in message
    for word in words:
        assert word in message, message


@pytest.mark.parametrize(
    ("obj", "field"),
    [
        (
            {"kind": "HardenedService", "metadata": {"name": "x"}, "spec": {"image": "x"}},
            "apiVersion",
        ),
        ({**service(), "apiVersion": "ai-system.io/v1"}, "apiVersion"),
        ({**service(), "kind": "Deployment"}, "kind"),
        ({**service(), "metadata": {"name": "Upper"}}, "metadata.name"),
        ({**service(), "metadata": {"name": "x" * 64}}, "metadata.name"),
        ({**service(), "metadata": {}}, "metadata.name"),
        ({k: v for k, v in service().items() if k != "spec"}, "spec"),
        ({**service(), "spec": {}}, "spec.image"),
        ({**service(), "spec": None}, "spec"),
        ({**service(), "extra": 1}, "extra"),
    ],
)
def test_envelope_errors(obj: dict[str, Any], field: str) -> None:
    with pytest.raises(SpecValidationError) as caught:
        parse(obj)
    assert caught.value.field == field


@pytest.mark.parametrize("value", [None, [], "spec: {}", 3])
def test_non_mappings_are_refused(value: Any) -> None:
    with pytest.raises(SpecValidationError):
        parse(value)


def test_status_and_server_metadata_do_not_block_parsing() -> None:
    obj = service()
    obj["metadata"] |= {"uid": "1234", "generation": 3, "managedFields": [{"manager": "x"}]}
    obj["status"] = {"kopf": {"progress": {}}, "observedGeneration": 2}
    parsed = parse(obj)
    assert parsed.status is None
    assert parsed.metadata.model_extra == {
        "uid": "1234",
        "generation": 3,
        "managedFields": [{"manager": "x"}],
    }


def test_models_are_immutable() -> None:
    hs = parse(service())
    with pytest.raises(ValidationError):
        hs.spec.securityContext.runAsUser = 0
    assert isinstance(hs, HardenedService)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(SpecValidationError) as caught:
        parse(service(securityContext={"runAsUser": 0, "fsGroup": 0}, replicas=-1))
    message = str(caught.value)
    for field in (
        "spec.securityContext.runAsUser",
        "spec.securityContext.fsGroup",
        "spec.replicas",
    ):
        assert field in message


@pytest.mark.parametrize(
    ("resources", "ok"),
    [
        ({"requests": {"cpu": "500m"}, "limits": {"cpu": 1}}, True),
        ({"requests": {"memory": "1Gi"}, "limits": {"memory": "1073741824"}}, True),
        ({"requests": {"memory": "1.1Gi"}, "limits": {"memory": "1G"}}, False),
        ({"requests": {"cpu": "1e3"}, "limits": {"cpu": "1k"}}, True),
        ({"requests": {"hugepages-2Mi": "1Gi"}, "limits": {"hugepages-2Mi": "1Gi"}}, True),
        ({"limits": {"example.com/fpga": 2}}, True),
        ({"requests": {"example.com/fpga": "2"}, "limits": {"example.com/fpga": 2}}, True),
        ({"limits": {"kubernetes.io/thing": 1}}, False),
    ],
)
def test_resource_rules(resources: dict[str, Any], ok: bool) -> None:
    if ok:
        assert parse(service(resources=resources)).spec.resources is not None
    else:
        with pytest.raises(SpecValidationError):
            parse(service(resources=resources))
