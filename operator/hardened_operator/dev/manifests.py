"""The objects ``hardened dev`` installs: the webhook registration and the CRD (pure: dicts).

The webhook registration matches the one the Helm chart ships in spirit: every pod-bearing
kind and HardenedServices on CREATE and UPDATE, ``failurePolicy: Fail`` (fail closed: if
the webhook is down, nothing unchecked is admitted), ``kube-system`` excluded so a broken
webhook can never lock the control plane's own namespace, and namespaces labelled
``ai-system.io/enforce=disabled`` excluded on purpose.

The API server does not allow query parameters in a webhook URL, so the ``?mode=`` switch
of ``/validate`` cannot be reached through a ValidatingWebhookConfiguration; this one calls
plain ``/validate`` (enforce).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import yaml

from hardened_operator import API_GROUP, PLURAL
from hardened_operator.conventions import ENFORCE_LABEL

WEBHOOK_CONFIGURATION_NAME = "hardened-operator-dev"

# API group -> resources admitted through the webhook (subresources spelled out: a rule for
# "pods" does not cover "pods/ephemeralcontainers", which is how `kubectl debug` adds one).
WEBHOOK_RESOURCES: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "v1"): ("pods", "pods/ephemeralcontainers", "replicationcontrollers", "podtemplates"),
    ("apps", "v1"): ("deployments", "statefulsets", "daemonsets", "replicasets"),
    ("batch", "v1"): ("jobs", "cronjobs"),
    (API_GROUP, "*"): (PLURAL,),
}


def validating_webhook_configuration(
    url: str,
    ca_bundle: bytes,
    *,
    name: str = WEBHOOK_CONFIGURATION_NAME,
    namespace_selector: dict[str, Any] | None = None,
    timeout_seconds: int = 10,
) -> dict[str, Any]:
    """A ValidatingWebhookConfiguration calling ``url`` (https) trusted through ``ca_bundle``.

    ``namespace_selector`` replaces the default (everything but kube-system and namespaces
    labelled ``ai-system.io/enforce=disabled``); tests use it to confine a webhook to their
    own namespace.
    """
    if not url.startswith("https://"):
        raise ValueError(f"the API server only calls webhooks over https, not {url!r}")
    selector = namespace_selector or {
        "matchExpressions": [
            {
                "key": "kubernetes.io/metadata.name",
                "operator": "NotIn",
                "values": ["kube-system"],
            },
            {"key": ENFORCE_LABEL, "operator": "NotIn", "values": ["disabled"]},
        ]
    }
    rules = [
        {
            "apiGroups": [group],
            "apiVersions": [version],
            "resources": list(resources),
            "operations": ["CREATE", "UPDATE"],
            "scope": "*",
        }
        for (group, version), resources in WEBHOOK_RESOURCES.items()
    ]
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {
            "name": name,
            "labels": {"app.kubernetes.io/managed-by": "hardened-operator"},
        },
        "webhooks": [
            {
                "name": f"validate.{name}.{API_GROUP}",
                "admissionReviewVersions": ["v1"],
                "sideEffects": "None",  # required for dry-run requests to reach us
                "failurePolicy": "Fail",
                "matchPolicy": "Equivalent",
                "timeoutSeconds": timeout_seconds,
                "namespaceSelector": selector,
                "clientConfig": {
                    "url": url,
                    "caBundle": base64.b64encode(ca_bundle).decode("ascii"),
                },
                "rules": rules,
            }
        ],
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
