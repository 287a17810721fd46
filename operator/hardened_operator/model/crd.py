"""Derive the CustomResourceDefinition from the models (pure: no I/O here).

pydantic emits JSON Schema (2020-12 flavour); the API server wants a *structural* OpenAPI v3
schema. ``structural_schema`` bridges the two: ``$ref``s are inlined, ``Optional`` becomes
"not required" (no ``anyOf: [.., null]``), ``int | str`` becomes ``x-kubernetes-int-or-string``,
``title``/``$defs``/``additionalProperties: false`` are dropped (the API server prunes or, with
``fieldValidation=Strict``, rejects unknown fields). Anything it cannot translate is a
programming error and raises, so an untranslatable model never ships as a wrong CRD.
"""

from __future__ import annotations

import json
from typing import Any, Final

import yaml
from pydantic import BaseModel

from hardened_operator import API_GROUP, API_VERSION, KIND, PLURAL
from hardened_operator.model.names import DNS1035_LABEL
from hardened_operator.model.resource import MAX_NAME_LENGTH
from hardened_operator.model.spec import HardenedServiceSpec
from hardened_operator.model.status import HardenedServiceStatus

SINGULAR: Final = "hardenedservice"
SHORT_NAMES: Final = ("hsvc",)
CATEGORIES: Final = ("all", "ai-system")
CRD_NAME: Final = f"{PLURAL}.{API_GROUP}"

# `kubectl scale hsvc` and a HorizontalPodAutoscaler read and write replicas through /scale;
# the operator publishes status.replicas and status.selector for it.
SCALE_SUBRESOURCE: Final = {
    "specReplicasPath": ".spec.replicas",
    "statusReplicasPath": ".status.replicas",
    "labelSelectorPath": ".status.selector",
}

_DROP: Final = frozenset({"title", "$defs", "examples"})

PRINTER_COLUMNS: Final[list[dict[str, Any]]] = [
    {"name": "Image", "type": "string", "jsonPath": ".spec.image"},
    {"name": "Desired", "type": "integer", "jsonPath": ".spec.replicas"},
    {"name": "Ready-Replicas", "type": "integer", "jsonPath": ".status.readyReplicas"},
    {"name": "GPU", "type": "integer", "jsonPath": ".spec.gpu.count"},
    # Ready and its reason without -o wide: "False  ImagePullBackOff" says at a glance what a
    # healthy-looking rollout would hide (see docs/operator.md#status-conditions).
    {
        "name": "Ready",
        "type": "string",
        "description": "The Ready condition",
        "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
    },
    {
        "name": "Reason",
        "type": "string",
        "description": "Why the Ready condition is what it is",
        "jsonPath": '.status.conditions[?(@.type=="Ready")].reason',
    },
    {"name": "Message", "type": "string", "priority": 1, "jsonPath": ".status.message"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]


class SchemaTranslationError(TypeError):
    """A model uses a JSON Schema construct with no structural OpenAPI equivalent."""


def structural_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON Schema as a Kubernetes structural OpenAPI v3 schema."""
    raw = model.model_json_schema(mode="validation")
    defs: dict[str, Any] = raw.get("$defs", {})
    return _translate(raw, defs, path=model.__name__)


def _resolve(ref: str, defs: dict[str, Any]) -> dict[str, Any]:
    prefix = "#/$defs/"
    if not ref.startswith(prefix) or ref[len(prefix) :] not in defs:
        raise SchemaTranslationError(f"unresolvable $ref {ref!r}")
    resolved: dict[str, Any] = defs[ref[len(prefix) :]]
    return resolved


def _translate(node: dict[str, Any], defs: dict[str, Any], path: str) -> dict[str, Any]:
    node = dict(node)
    # Inline references; the referring site's keys (description, default) win.
    if "$ref" in node:
        target = _resolve(node.pop("$ref"), defs)
        node = {**target, **node}
    if "allOf" in node:
        parts = node.pop("allOf")
        if len(parts) != 1:
            raise SchemaTranslationError(f"{path}: allOf with {len(parts)} parts")
        node = {**_translate(parts[0], defs, path), **node}
    if "anyOf" in node:
        node = _collapse_any_of(node, defs, path)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP:
            continue
        if key == "default" and value is None:
            continue  # Optional fields: absent, not null
        if key == "additionalProperties":
            if value is False:
                continue  # extra="forbid": the API server's field validation does this
            if value is True:
                out["x-kubernetes-preserve-unknown-fields"] = True
                continue
            out[key] = _translate(value, defs, f"{path}.*")
        elif key == "properties":
            out[key] = {
                name: _translate(sub, defs, f"{path}.{name}") for name, sub in value.items()
            }
        elif key == "items":
            out[key] = _translate(value, defs, f"{path}[]")
        elif key == "description":
            out[key] = _explain_text(value)
        elif key == "const":
            out["enum"] = [value]
        elif key == "exclusiveMinimum" or key == "exclusiveMaximum":
            out["minimum" if key == "exclusiveMinimum" else "maximum"] = value
            out[key] = True
        elif key in ("prefixItems", "oneOf", "not", "$ref", "discriminator", "if", "then"):
            raise SchemaTranslationError(f"{path}: no structural equivalent for {key!r}")
        else:
            out[key] = value
    if "type" not in out and not out.get("x-kubernetes-int-or-string"):
        if out.get("x-kubernetes-preserve-unknown-fields"):
            out["type"] = "object"
        else:
            raise SchemaTranslationError(f"{path}: schema without a type: {sorted(out)}")
    return out


def _explain_text(text: str) -> str:
    """Docstring → ``kubectl explain`` text: one paragraph, Markdown-style backticks."""
    return " ".join(text.replace("``", "`").split())


def _collapse_any_of(node: dict[str, Any], defs: dict[str, Any], path: str) -> dict[str, Any]:
    """``X | None`` → X; ``int | str`` → int-or-string (patterns of the string branch kept)."""
    branches = [b for b in node.pop("anyOf") if b.get("type") != "null"]
    if node.get("default", "") is None:
        node.pop("default")
    if len(branches) == 1:
        inner = branches[0]
        merged = {**_translate(inner, defs, path), **node}
        return merged
    types = sorted(b.get("type", "?") for b in branches)
    if types == ["integer", "string"]:
        # Hoist each branch's constraints: numeric keywords only constrain numbers and string
        # keywords only strings, so side by side they keep both branches' meaning.
        merged = {"anyOf": [{"type": "integer"}, {"type": "string"}]}
        merged["x-kubernetes-int-or-string"] = True
        for branch in branches:
            for key, value in branch.items():
                if key in ("type", "title"):
                    continue
                if key in merged and merged[key] != value:
                    raise SchemaTranslationError(f"{path}: int-or-string branches clash on {key}")
                merged[key] = value
        return {**merged, **node}
    raise SchemaTranslationError(f"{path}: anyOf over {types} has no structural equivalent")


def _root_schema() -> dict[str, Any]:
    spec = structural_schema(HardenedServiceSpec)
    status = structural_schema(HardenedServiceStatus)
    return {
        "type": "object",
        "description": "A HardenedService runs one AI service as a hardened, non-root "
        "Deployment with persistent volumes under /app, optional GPUs, health probes and "
        "an optional debug pod. The operator owns the objects it generates and puts back "
        "any drift.",
        "required": ["spec"],
        "properties": {
            "apiVersion": {
                "type": "string",
                "description": "APIVersion of this object: ai-system.io/v1alpha1.",
            },
            "kind": {"type": "string", "description": "Kind of this object: HardenedService."},
            "metadata": {"type": "object"},
            "spec": spec,
            "status": status,
        },
        "x-kubernetes-validations": [
            {
                "rule": f"size(self.metadata.name) <= {MAX_NAME_LENGTH} && "
                f"self.metadata.name.matches('{DNS1035_LABEL}')",
                "message": "metadata.name must be a DNS-1035 label of at most "
                f"{MAX_NAME_LENGTH} characters (it names the Service and label values)",
            }
        ],
    }


def crd_manifest() -> dict[str, Any]:
    """The HardenedService CustomResourceDefinition (apiextensions.k8s.io/v1)."""
    manifest: dict[str, Any] = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": CRD_NAME,
            "labels": {
                "app.kubernetes.io/name": "hardened-operator",
                "app.kubernetes.io/part-of": "ai-system",
            },
        },
        "spec": {
            "group": API_GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": SINGULAR,
                "shortNames": list(SHORT_NAMES),
                "categories": list(CATEGORIES),
            },
            "versions": [
                {
                    "name": API_VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}, "scale": dict(SCALE_SUBRESOURCE)},
                    "additionalPrinterColumns": [dict(c) for c in PRINTER_COLUMNS],
                    "schema": {"openAPIV3Schema": _root_schema()},
                }
            ],
        },
    }
    # A JSON round trip unshares sub-objects pydantic reuses (no YAML anchors in the output).
    copied: dict[str, Any] = json.loads(json.dumps(manifest))
    return copied


def crd_yaml() -> str:
    """``crd_manifest()`` as the exact YAML text of ``hardened crd`` and ``crds/``."""
    header = (
        "# Generated by `hardened crd` from hardened_operator.model; do not edit.\n"
        "# Regenerate: .venv/bin/hardened crd > crds/hardenedservices.ai-system.io.yaml\n"
    )
    body = yaml.safe_dump(crd_manifest(), sort_keys=True, width=100, allow_unicode=False)
    return header + body
