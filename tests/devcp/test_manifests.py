"""The objects ``hardened dev`` installs, and the certificates it generates (pure)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hardened_operator import certs
from hardened_operator.dev import manifests

URL = "https://127.0.0.1:9443/validate"


def _webhook() -> dict[str, Any]:
    (hook,) = manifests.validating_webhook_configuration(URL, b"CA PEM")["webhooks"]
    return dict(hook)


def test_every_pod_bearing_kind_is_routed_to_the_webhook() -> None:
    from hardened_operator.review import POD_BEARING_KINDS

    hook = _webhook()
    resources = {r for rule in hook["rules"] for r in rule["resources"]}
    assert set(POD_BEARING_KINDS.values()) <= resources
    assert "pods/ephemeralcontainers" in resources, "kubectl debug adds containers there"
    for rule in hook["rules"]:
        assert rule["operations"] == ["CREATE", "UPDATE"]


def test_webhook_fails_closed_and_trusts_only_the_given_ca() -> None:
    hook = _webhook()
    assert hook["failurePolicy"] == "Fail"
    assert hook["sideEffects"] == "None"
    assert hook["admissionReviewVersions"] == ["v1"]
    config = hook["clientConfig"]
    assert config == {"url": URL, "caBundle": base64.b64encode(b"CA PEM").decode()}


def test_kube_system_and_disabled_namespaces_are_excluded() -> None:
    expressions = _webhook()["namespaceSelector"]["matchExpressions"]
    assert {
        "key": "kubernetes.io/metadata.name",
        "operator": "NotIn",
        "values": ["kube-system"],
    } in expressions
    assert {
        "key": "ai-system.io/enforce",
        "operator": "NotIn",
        "values": ["disabled"],
    } in expressions


def test_a_custom_selector_replaces_the_default() -> None:
    selector = {"matchLabels": {"kubernetes.io/metadata.name": "t-1"}}
    manifest = manifests.validating_webhook_configuration(URL, b"x", namespace_selector=selector)
    assert manifest["webhooks"][0]["namespaceSelector"] == selector


@pytest.mark.parametrize("url", ["http://127.0.0.1:9443/validate", "127.0.0.1:9443"])
def test_plain_http_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="https"):
        manifests.validating_webhook_configuration(url, b"x")


def test_crds_come_from_the_crds_directory(tmp_path: Path) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "a.b"},
    }
    (tmp_path / "a.yaml").write_text("# comment\n" + yaml.safe_dump(crd) + "---\nkind: Other\n")
    found, origin = manifests.crd_manifests([tmp_path])
    assert found == [crd]
    assert str(tmp_path) in origin


def test_repo_crd_is_found_by_default() -> None:
    found, origin = manifests.crd_manifests()
    assert [c["metadata"]["name"] for c in found] == ["hardenedservices.ai-system.io"]
    assert origin.endswith("/crds")


def test_admin_client_certificate_carries_user_and_groups() -> None:
    bundle = certs.generate_client("alice", ["system:masters", "devs"])
    cert = x509.load_pem_x509_certificate(bundle.cert_pem)
    ca = x509.load_pem_x509_certificate(bundle.ca_pem)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "alice"
    groups = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    assert groups == ["system:masters", "devs"]
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    cert.verify_directly_issued_by(ca)
    with pytest.raises(ValueError):
        certs.generate_client("", ["x"])


def test_signing_key_is_rsa_pem() -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key(certs.generate_signing_key(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.key_size == 2048
