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
REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "manifests" / "06-validatingwebhookconfiguration.yaml"
SHIPPED_POLICY = REPO / "manifests" / "06-validatingadmissionpolicy.yaml"


def _hooks() -> dict[str, dict[str, Any]]:
    manifest = manifests.mode_routed_webhook_configuration(URL, b"CA PEM")
    return {hook["name"].split(".")[0]: hook for hook in manifest["webhooks"]}


def _resources(hook: dict[str, Any]) -> dict[str, set[str]]:
    return {rule["apiGroups"][0]: set(rule["resources"]) for rule in hook["rules"]}


def test_every_pod_bearing_kind_is_routed_to_every_mode() -> None:
    from hardened_operator.workloads import POD_BEARING_KINDS

    for mode, hook in _hooks().items():
        resources = set().union(*_resources(hook).values())
        assert set(POD_BEARING_KINDS.values()) <= resources, mode
        assert "pods/ephemeralcontainers" in resources, "kubectl debug adds containers there"
        assert all(rule["operations"] == ["CREATE", "UPDATE"] for rule in hook["rules"])


def test_the_namespace_label_picks_the_path() -> None:
    hooks = _hooks()
    assert sorted(hooks) == ["audit", "enforce", "warn"]
    assert hooks["enforce"]["clientConfig"]["url"] == URL
    assert hooks["warn"]["clientConfig"]["url"] == URL + "/warn"
    assert hooks["audit"]["clientConfig"]["url"] == URL + "/audit"
    label = "ai-system.io/enforce"
    conditions = {
        mode: next(e for e in hook["namespaceSelector"]["matchExpressions"] if e["key"] == label)
        for mode, hook in hooks.items()
    }
    # Unknown values (typos) fall to enforce: fail closed.
    assert conditions["enforce"] == {
        "key": label,
        "operator": "NotIn",
        "values": ["warn", "audit", "disabled"],
    }
    assert conditions["warn"] == {"key": label, "operator": "In", "values": ["warn"]}
    assert conditions["audit"] == {"key": label, "operator": "In", "values": ["audit"]}


def test_every_mode_fails_closed_never_matches_system_namespaces_and_trusts_the_ca() -> None:
    never = {
        "key": "kubernetes.io/metadata.name",
        "operator": "NotIn",
        "values": ["kube-system", "hardened-system"],
    }
    for hook in _hooks().values():
        assert hook["failurePolicy"] == "Fail"
        assert hook["sideEffects"] == "None"
        assert hook["admissionReviewVersions"] == ["v1"]
        assert never in hook["namespaceSelector"]["matchExpressions"]
        assert hook["clientConfig"]["caBundle"] == base64.b64encode(b"CA PEM").decode()


def test_dev_registration_matches_the_shipped_manifest() -> None:
    if not SHIPPED.exists():
        pytest.fail(f"{SHIPPED} is gone: update this parity test")
    shipped = {
        hook["name"].split(".")[0]: hook for hook in yaml.safe_load(SHIPPED.read_text())["webhooks"]
    }
    ours = _hooks()
    assert sorted(shipped) == sorted(ours)
    policy = next(yaml.safe_load_all(SHIPPED_POLICY.read_text()))
    in_process = _resources({"rules": policy["spec"]["matchConstraints"]["resourceRules"]})
    assert in_process
    for mode, hook in ours.items():
        theirs = shipped[mode]
        path = theirs["clientConfig"]["service"]["path"]
        assert hook["clientConfig"]["url"] == URL.removesuffix("/validate") + path, mode
        assert hook["namespaceSelector"] == theirs["namespaceSelector"], mode
        for field in ("failurePolicy", "sideEffects", "matchPolicy", "admissionReviewVersions"):
            assert hook[field] == theirs[field], (mode, field)
        # The dev plane's webhook reviews every kind; the shipped one leaves pods and pod
        # templates to the shipped in-process policy (admission.enforcedBy: policy).
        assert _resources(hook) == _resources(theirs) | in_process, mode


def test_single_webhook_for_tests_uses_the_given_selector() -> None:
    selector = {"matchLabels": {"kubernetes.io/metadata.name": "t-1"}}
    manifest = manifests.validating_webhook_configuration(
        URL, b"x", name="t", namespace_selector=selector
    )
    (hook,) = manifest["webhooks"]
    assert hook["namespaceSelector"] == selector
    assert hook["failurePolicy"] == "Fail"


@pytest.mark.parametrize("url", ["http://127.0.0.1:9443/validate", "127.0.0.1:9443"])
def test_plain_http_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="https"):
        manifests.mode_routed_webhook_configuration(url, b"x")


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
