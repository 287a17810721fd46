"""The objects ``hardened dev`` installs: the webhook registration and the CRD (pure: dicts).

The registration mirrors the shipped ``manifests/06-validatingwebhookconfiguration.yaml``
(a test keeps them in step), with a URL instead of a Service: every pod-bearing kind and
HardenedServices on CREATE and UPDATE, ``failurePolicy: Fail`` (if the webhook is down,
nothing unchecked is admitted), ``kube-system`` and the operator's namespace never matched
(a broken webhook cannot block its own recovery), and the namespace label
``ai-system.io/enforce`` picking the mode: absent/``enforce``/anything unknown -> ``/validate``,
``warn`` -> ``/validate/warn``, ``audit`` -> ``/validate/audit``, ``disabled`` -> not called.
Modes are path segments because the API server refuses query parameters in webhook URLs.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import yaml

from hardened_operator import API_GROUP
from hardened_operator.conventions import ENFORCE_LABEL, OPERATOR_NAMESPACE_DEFAULT
from hardened_operator.workloads import admission_resources

WEBHOOK_CONFIGURATION_NAME = "hardened-operator-dev"
NEVER_MATCHED_NAMESPACES = ("kube-system", OPERATOR_NAMESPACE_DEFAULT)


def webhook_rules() -> list[dict[str, Any]]:
    """The rules of every registration: each pod-bearing kind (``workloads.POD_BEARING``) on
    CREATE and UPDATE, subresources spelled out (a rule for "pods" does not cover
    "pods/ephemeralcontainers", which is how `kubectl debug` adds one).

    manifests/06-validatingwebhookconfiguration.yaml and the Helm chart carry the same rules
    (tests/policy/test_policy_kinds.py compares them).
    """
    return [
        {
            "apiGroups": [group],
            "apiVersions": [version],
            "operations": ["CREATE", "UPDATE"],
            "resources": list(resources),
            "scope": "Namespaced",
        }
        for (group, version), resources in admission_resources().items()
    ]


# mode -> (path under the webhook's /validate, the label condition that selects it)
_MODES: dict[str, tuple[str, dict[str, Any]]] = {
    "enforce": (
        "",
        {"key": ENFORCE_LABEL, "operator": "NotIn", "values": ["warn", "audit", "disabled"]},
    ),
    "warn": ("/warn", {"key": ENFORCE_LABEL, "operator": "In", "values": ["warn"]}),
    "audit": ("/audit", {"key": ENFORCE_LABEL, "operator": "In", "values": ["audit"]}),
}


def mode_label_conditions() -> dict[str, dict[str, Any]]:
    """mode -> the namespace label condition routing a namespace to it (``hardened audit
    --cluster`` evaluates these to say which mode each namespace is in)."""
    return {mode: dict(label) for mode, (_, label) in _MODES.items()}


def mode_routed_webhook_configuration(
    validate_url: str, ca_bundle: bytes, *, name: str = WEBHOOK_CONFIGURATION_NAME
) -> dict[str, Any]:
    """What ``dev up`` registers: one webhook per mode, routed by the namespace label.

    ``validate_url`` is the enforcing endpoint, ``https://HOST:PORT/validate``.
    """
    never = {
        "key": "kubernetes.io/metadata.name",
        "operator": "NotIn",
        "values": list(NEVER_MATCHED_NAMESPACES),
    }
    webhooks = [
        _webhook(
            f"{mode}.{name}.{API_GROUP}",
            validate_url + path,
            ca_bundle,
            {"matchExpressions": [never, label]},
        )
        for mode, (path, label) in _MODES.items()
    ]
    return _configuration(name, webhooks)


def validating_webhook_configuration(
    url: str,
    ca_bundle: bytes,
    *,
    name: str,
    namespace_selector: dict[str, Any],
    timeout_seconds: int = 10,
) -> dict[str, Any]:
    """One webhook calling ``url`` for the namespaces ``namespace_selector`` picks.

    Tests use it to confine a webhook to their own namespace.
    """
    hook = _webhook(f"validate.{name}.{API_GROUP}", url, ca_bundle, namespace_selector)
    hook["timeoutSeconds"] = timeout_seconds
    return _configuration(name, [hook])


def _configuration(name: str, webhooks: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {
            "name": name,
            "labels": {"app.kubernetes.io/managed-by": "hardened-operator"},
        },
        "webhooks": webhooks,
    }


def _webhook(
    name: str, url: str, ca_bundle: bytes, namespace_selector: dict[str, Any]
) -> dict[str, Any]:
    if not url.startswith("https://"):
        raise ValueError(f"the API server only calls webhooks over https, not {url!r}")
    return {
        "name": name,
        "admissionReviewVersions": ["v1"],
        "sideEffects": "None",  # required for dry-run requests to reach us
        "failurePolicy": "Fail",
        "matchPolicy": "Equivalent",
        "timeoutSeconds": 10,
        "namespaceSelector": namespace_selector,
        "clientConfig": {"url": url, "caBundle": base64.b64encode(ca_bundle).decode("ascii")},
        "rules": webhook_rules(),
    }


def crd_manifests(search: list[Path] | None = None) -> tuple[list[dict[str, Any]], str]:
    """The CRDs to install and where they came from.

    ``crds/*.yaml`` next to the package (a source checkout) first; else the typed model's
    ``crd_manifest()``; else none (the note says why).
    """
    directories = search if search is not None else [_repo_root() / "crds"]
    for directory in directories:
        files = sorted(directory.glob("*.yaml")) if directory.is_dir() else []
        documents = [
            doc
            for path in files
            for doc in yaml.safe_load_all(path.read_text())
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition"
        ]
        if documents:
            return documents, f"from {directory}"
    try:
        from hardened_operator import model

        manifest = getattr(model, "crd_manifest")()  # noqa: B009 - may not exist yet
    except (ImportError, AttributeError):
        return [], "no crds/*.yaml and no hardened_operator.model.crd_manifest(): CRD skipped"
    return [dict(manifest)], "from hardened_operator.model.crd_manifest()"


def _repo_root() -> Path:
    # operator/hardened_operator/dev/manifests.py -> the checkout's root
    return Path(__file__).resolve().parents[3]
