"""The CRD: generated from the model, committed byte for byte, structural, explainable."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from click.testing import CliRunner

from hardened_operator.cli.crd import crd as crd_command
from hardened_operator.model import crd_manifest, crd_yaml
from tests.model.model_support import CRD_FILE, example_documents, unknown_fields, walk

SCHEMA = crd_manifest()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
# Keys allowed in apiextensions.k8s.io/v1 JSONSchemaProps that we use (anything else is a leak
# from pydantic's JSON Schema dialect, e.g. "title", "$defs", "const", "prefixItems").
ALLOWED_KEYS = {
    "type",
    "description",
    "properties",
    "required",
    "items",
    "additionalProperties",
    "default",
    "enum",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "maxProperties",
    "pattern",
    "format",
    "anyOf",
    "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-validations",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
}


def test_committed_crd_is_exactly_the_generated_one() -> None:
    assert CRD_FILE.read_text(encoding="utf-8") == crd_yaml()


def test_hardened_crd_prints_the_committed_file() -> None:
    result = CliRunner().invoke(crd_command, [])
    assert result.exit_code == 0, result.output
    assert result.output == CRD_FILE.read_text(encoding="utf-8")


def test_crd_check_flags_a_stale_file(tmp_path: Any) -> None:
    stale = tmp_path / "crd.yaml"
    stale.write_text(crd_yaml().replace("default: 1000", "default: 0", 1), encoding="utf-8")
    result = CliRunner().invoke(crd_command, ["--check", str(stale)])
    assert result.exit_code == 1
    assert "stale" in result.output and "+" in result.output
    fresh = tmp_path / "fresh.yaml"
    fresh.write_text(crd_yaml(), encoding="utf-8")
    assert CliRunner().invoke(crd_command, ["--check", str(fresh)]).exit_code == 0


def test_crd_yaml_has_no_anchors_and_round_trips() -> None:
    text = crd_yaml()
    assert "&id" not in text and "*id" not in text
    assert yaml.safe_load(text) == crd_manifest()


def test_names_scope_subresources_and_columns() -> None:
    spec = crd_manifest()["spec"]
    assert crd_manifest()["metadata"]["name"] == "hardenedservices.ai-system.io"
    assert spec["group"] == "ai-system.io" and spec["scope"] == "Namespaced"
    assert spec["names"]["kind"] == "HardenedService"
    assert spec["names"]["plural"] == "hardenedservices"
    assert spec["names"]["shortNames"] == ["hsvc"]
    [version] = spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert version["subresources"] == {
        "status": {},
        # kubectl scale and an HPA go through /scale; the operator publishes status.selector.
        "scale": {
            "specReplicasPath": ".spec.replicas",
            "statusReplicasPath": ".status.replicas",
            "labelSelectorPath": ".status.selector",
        },
    }
    columns = {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}
    assert columns["Image"] == ".spec.image"
    assert columns["Desired"] == ".spec.replicas"
    assert columns["Ready-Replicas"] == ".status.readyReplicas"
    assert columns["GPU"] == ".spec.gpu.count"
    assert columns["Ready"] == '.status.conditions[?(@.type=="Ready")].status'
    assert columns["Reason"] == '.status.conditions[?(@.type=="Ready")].reason'
    assert columns["Age"] == ".metadata.creationTimestamp"
    # Ready and its reason show without -o wide; only the long message waits for it.
    wide = {c["name"] for c in version["additionalPrinterColumns"] if c.get("priority", 0) > 0}
    assert wide == {"Message"}


def test_schema_is_structural() -> None:
    text = json.dumps(SCHEMA)
    for leak in ('"$ref"', '"$defs"', '"title"', '"const"', '"null"', '"allOf"', '"oneOf"'):
        assert leak not in text, leak
    for path, node in walk(SCHEMA):
        assert set(node) <= ALLOWED_KEYS, (path, set(node) - ALLOWED_KEYS)
        if node.get("x-kubernetes-int-or-string"):
            # The only anyOf a structural schema allows: bare types, nothing else inside.
            assert "type" not in node, path
            assert node.get("anyOf") in (None, [{"type": "integer"}, {"type": "string"}]), path
            continue
        assert "anyOf" not in node, path
        assert node.get("type") in {"object", "array", "string", "integer", "boolean"}, path
        if "properties" in node:
            assert "additionalProperties" not in node, path
            assert set(node.get("required", [])) <= set(node["properties"]), path
        if node["type"] == "array":
            assert "items" in node, path
        assert node.get("additionalProperties") is not False, path


def test_spec_level_never_preserves_unknown_fields() -> None:
    spec = SCHEMA["properties"]["spec"]
    preserved = [p for p, n in walk(spec) if n.get("x-kubernetes-preserve-unknown-fields")]
    # Only the affinity terms (passed through to the pod verbatim, see model/scheduling.py).
    assert preserved == [
        ".affinity.nodeAffinity",
        ".affinity.podAffinity",
        ".affinity.podAntiAffinity",
    ]
    assert not SCHEMA["properties"]["status"].get("x-kubernetes-preserve-unknown-fields")


def test_every_spec_and_status_field_is_described() -> None:
    for part in ("spec", "status"):
        for path, node in walk(SCHEMA["properties"][part], part):
            if path.endswith((".*", "[]")) and node.get("type") != "object":
                continue  # scalar map values and list items are described by their parent
            text = node.get("description", "")
            assert len(text) >= 10, f"{path} lacks a kubectl-explain description"
            assert "``" not in text and "\n" not in text, path


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("replicas", 1),
        ("securityContext.runAsUser", 1000),
        ("securityContext.runAsGroup", 1000),
        ("securityContext.fsGroup", 1000),
        ("securityContext.readOnlyRootFilesystem", True),
        ("volumes.logs.enabled", True),
        ("volumes.logs.size", "1Gi"),
        ("volumes.data.size", "10Gi"),
        ("volumes.models.size", "50Gi"),
        ("volumes.cache.size", "10Gi"),
        ("volumes.cache.accessModes", ["ReadWriteOnce"]),
        ("volumeReclaimPolicy", "Retain"),
        ("gpu.count", 0),
        ("gpu.resourceName", "nvidia.com/gpu"),
        ("automountServiceAccountToken", False),
        ("terminationGracePeriodSeconds", 30),
        ("debug", False),
        ("ports[].protocol", "TCP"),
    ],
)
def test_schema_defaults(path: str, expected: object) -> None:
    node: Any = SCHEMA["properties"]["spec"]
    for part in path.split("."):
        if part.endswith("[]"):
            node = node["properties"][part[:-2]]["items"]
        else:
            node = node["properties"][part]
    assert node["default"] == expected


def test_nested_objects_default_to_empty_so_the_api_server_fills_them() -> None:
    props = SCHEMA["properties"]["spec"]["properties"]
    for name in ("securityContext", "volumes", "gpu"):
        assert props[name]["default"] == {}, name
    for volume in ("logs", "data", "models", "cache"):
        assert props["volumes"]["properties"][volume]["default"] == {}


def test_identity_minimum_rejects_root() -> None:
    sc = SCHEMA["properties"]["spec"]["properties"]["securityContext"]["properties"]
    for name in ("runAsUser", "runAsGroup", "fsGroup"):
        assert sc[name]["minimum"] == 1, name


@pytest.mark.parametrize("version", ["1.30", "1.37"])
def test_crd_passes_kubernetes_schema(version: str) -> None:
    assert kubernetes_validate.validate(crd_manifest(), version, strict=True) == version


def _validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(SCHEMA)


@pytest.mark.parametrize(("source", "doc"), example_documents(), ids=lambda v: str(v)[:40])
def test_examples_against_the_crd_schema(source: str, doc: dict[str, Any]) -> None:
    errors = sorted(_validator().iter_errors(doc), key=lambda e: list(e.path))
    assert unknown_fields(doc, SCHEMA) == []
    if source.startswith("invalid-"):
        assert errors, f"{source} should be refused by the CRD schema"
        assert any("runAsUser" in list(e.path) for e in errors)
    else:
        assert errors == []


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"securityContext": {"runAsUser": 0}}, "runAsUser"),
        ({"securityContext": {"runAsGroup": 0}}, "runAsGroup"),
        ({"securityContext": {"fsGroup": 0}}, "fsGroup"),
        ({"replicas": -1}, "replicas"),
        ({"ports": [{"containerPort": 0}]}, "containerPort"),
        ({"ports": [{"containerPort": 80, "protocol": "HTTP"}]}, "protocol"),
        ({"volumeReclaimPolicy": "Recycle"}, "volumeReclaimPolicy"),
        ({"volumes": {"data": {"size": "lots"}}}, "size"),
        ({"resources": {"limits": {"cpu": "two"}}}, "cpu"),
        ({"gpu": {"count": -1}}, "count"),
    ],
)
def test_schema_refuses_bad_values(patch: dict[str, Any], field: str) -> None:
    doc = {
        "apiVersion": "ai-system.io/v1alpha1",
        "kind": "HardenedService",
        "metadata": {"name": "x"},
        "spec": {"image": "busybox", **patch},
    }
    errors = list(_validator().iter_errors(doc))
    assert errors, patch
    assert any(field in [str(p) for p in e.path] for e in errors), [e.message for e in errors]


def test_unknown_fields_are_found_at_every_level() -> None:
    doc = {
        "spec": {"image": "x", "imagee": "typo", "gpu": {"cnt": 1}, "ports": [{"port": 80}]},
        "metadata": {"name": "x", "whatever": 1},
    }
    assert sorted(unknown_fields(doc, SCHEMA)) == [
        ".spec.gpu.cnt",
        ".spec.imagee",
        ".spec.ports[0].port",
    ]
